"""Bootable disk images of a Solo5 virtio unikernel, and reading one back.

The recipe is Solo5's own (scripts/virtio-mkimage, v0.12.1; reference section 14), made with
Debian's tools on this machine: a sparse disk with syslinux's MBR and one bootable FAT32
partition (type 0xc) holding syslinux, `mboot.c32` + `libcom32.c32`, the unikernel as
`unikernel.bin` and a `syslinux.cfg` that loads it as a multiboot kernel (`-aout`: the a.out
kludge Solo5's virtio kernels use) with the boot arguments embedded, console on the first
serial port. 1 GiB unless told (`--size`, 64 MiB or more): Google Compute Engine takes whole
GiB; sparse, so it costs a few MiB.
Formats: raw (`NAME.img`), qcow2 (`NAME.qcow2`, qemu-img) and gce-tar (`NAME.tar.gz`: a
gzipped oldgnu tar holding `disk.raw`, what GCE imports).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from workbench.artifacts.elf import ArtifactInfo, inspect
from workbench.errors import ArtifactError, ConfigError
from workbench.imageformats import FORMATS

SIZE = 1 << 30
MIN_SIZE = 64 << 20  # FAT32 needs 65,525 clusters (33 MiB at 512 bytes); room for a kernel
MAX_SIZE = 2 << 40  # an MBR partition table addresses 2 TiB
SYSLINUX = Path("/usr/lib/syslinux")
FILES = {
    "mbr.bin": SYSLINUX / "mbr" / "mbr.bin",
    "mboot.c32": SYSLINUX / "modules" / "bios" / "mboot.c32",
    "libcom32.c32": SYSLINUX / "modules" / "bios" / "libcom32.c32",
}
# command -> the Debian package that has it
TOOLS = {
    "sfdisk": "fdisk",
    "mkfs.fat": "dosfstools",
    "syslinux": "syslinux",
    "mcopy": "mtools",
    "qemu-img": "qemu-utils",
}
PACKAGES = sorted({*TOOLS.values(), "syslinux-common"})
KERNEL = "unikernel.bin"


@dataclass(frozen=True)
class DiskImage:
    """What `inspect` reads from an image: its format, where the kernel is, what it boots."""

    path: str
    format: str
    partition_start: int  # bytes
    partition_size: int
    loader: str  # the syslinux.cfg KERNEL line's program
    args: str  # the boot arguments embedded after the kernel
    kernel: ArtifactInfo

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "format": self.format,
            "partition": {"start": self.partition_start, "size": self.partition_size},
            "loader": self.loader,
            "args": self.args,
            "kernel": self.kernel.to_dict(),
        }


def _need(commands: Sequence[str], files: bool = True) -> None:
    missing = [c for c in commands if shutil.which(c) is None and not _sbin(c)]
    missing_files = [str(f) for f in FILES.values() if files and not f.is_file()]
    if missing or missing_files:
        what = ", ".join(missing + missing_files)
        raise ConfigError(
            f"making or reading a disk image needs {what}",
            f"apt-get install {' '.join(PACKAGES)}",
        )


def _sbin(command: str) -> str | None:
    for d in ("/usr/sbin", "/sbin"):
        if os.access(f"{d}/{command}", os.X_OK):
            return f"{d}/{command}"
    return None


def _run(
    argv: list[str], what: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> str:
    exe = shutil.which(argv[0]) or _sbin(argv[0]) or argv[0]
    try:
        done = subprocess.run(
            [exe, *argv[1:]],
            input=stdin,
            capture_output=True,
            text=True,
            errors="replace",  # an image's syslinux.cfg may hold any bytes
            timeout=120,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ArtifactError(f"{what} failed: {exc}") from None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip())[-400:]
        raise ArtifactError(f"{what} failed (`{argv[0]}` exit {done.returncode}): {said}")
    return done.stdout


def _syslinux_cfg(args: Sequence[str]) -> str:
    for a in args:
        if any(c in a for c in "\n\r\0"):
            raise ConfigError(f"boot argument {a!r} cannot be embedded on a syslinux line")
    append = " ".join(["-aout", KERNEL, *args])
    return (
        "SERIAL 0 115200\nDEFAULT unikernel\nLABEL unikernel\n"
        f"  KERNEL mboot.c32\n  APPEND {append}\n"
    )


def make(
    kernel: Path,
    args: Sequence[str],
    out_dir: Path,
    name: str,
    fmt: str = "raw",
    size: int = SIZE,
) -> Path:
    """Write NAME + the format's suffix into out_dir (atomically) and return its path. `size`:
    the disk's in bytes, whole MiB, at least MIN_SIZE; whole GiB for gce-tar."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown image format '{fmt}'", f"use one of {', '.join(FORMATS)}")
    check_size(size, fmt)
    info = inspect(kernel)
    if info.abi is None or info.abi.target != "virtio":
        target = info.abi.target if info.abi else "no Solo5 target"
        raise ArtifactError(
            f"{kernel} is built for {target}: a bootable disk image needs a virtio unikernel",
            "build it with `mirage configure -t virtio`",
        )
    _need(["sfdisk", "mkfs.fat", "syslinux", "mcopy"] + (["qemu-img"] if fmt == "qcow2" else []))
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / (name + FORMATS[fmt])
    with tempfile.TemporaryDirectory(prefix="workbench-image-") as tmp:
        work = Path(tmp)
        raw = _raw(work, kernel, args, size)
        staged = out_dir / f".{final.name}.partial"
        if fmt == "raw":
            shutil.move(raw, staged)
        elif fmt == "qcow2":
            _run(
                ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(staged)],
                "qemu-img",
            )
        else:  # GCE imports a gzipped oldgnu tar of disk.raw; -S keeps the holes
            tar = ["tar", "--format=oldgnu", "-Sczf", str(staged), "-C", str(work), raw.name]
            _run(tar, "tar")
        staged.replace(final)
    return final


def check_size(size: int, fmt: str) -> None:
    if size < MIN_SIZE or size > MAX_SIZE or size % (1 << 20):
        raise ConfigError(
            f"a disk image of {size} bytes cannot be made: it takes whole MiB, at least "
            f"{MIN_SIZE >> 20} MiB, at most {MAX_SIZE >> 40} TiB",
            f"give --size between {MIN_SIZE >> 20}M (FAT32's smallest, with room for the kernel) "
            f"and {MAX_SIZE >> 30}G (what an MBR partition table addresses)",
        )
    if fmt == "gce-tar" and size % SIZE:
        raise ConfigError(
            f"Google Compute Engine imports disks of whole GiB, not {size >> 20} MiB",
            "give --size in whole GiB (1G, 2G, ...) for gce-tar",
        )


_SIZE = re.compile(r"([0-9]{1,12})\s*(M|MB|MIB|G|GB|GIB)?")


def parse_size(text: str) -> int:
    """`64M`, `1G` (also MB/MiB, GB/GiB, any case), or a plain number of MiB -> bytes."""
    m = _SIZE.fullmatch(text.strip().upper())
    if m is None:
        raise ConfigError(
            f"'{text}' is not a size", "give MiB or GiB: 64M, 512M, 1G (a plain number is MiB)"
        )
    return int(m[1]) << (30 if (m[2] or "M").startswith("G") else 20)


def _raw(work: Path, kernel: Path, args: Sequence[str], size: int = SIZE) -> Path:
    disk = work / "disk.raw"
    with disk.open("wb") as f:
        f.write(FILES["mbr.bin"].read_bytes())
        f.truncate(size)
    # One partition over the whole disk, FAT32 with LBA (0xc), bootable.
    _run(["sfdisk", "--no-reread", "--no-tell-kernel", str(disk)], "sfdisk", stdin=",,c,*\n")
    start, part_size = partition(disk)
    fat = work / "fat.img"
    with fat.open("wb") as f:
        f.truncate(part_size)
    _run(["mkfs.fat", "-F", "32", "-n", "UNIKERNEL", str(fat)], "mkfs.fat")
    _run(["syslinux", "--install", str(fat)], "syslinux --install")
    cfg = work / "syslinux.cfg"
    cfg.write_text(_syslinux_cfg(args))
    env = _mtools_env(work)
    for source, target in (
        (cfg, "syslinux.cfg"),
        (FILES["libcom32.c32"], "libcom32.c32"),
        (FILES["mboot.c32"], "mboot.c32"),
        (kernel, KERNEL),
    ):
        _run(["mcopy", "-i", str(fat), str(source), f"::{target}"], f"copying {target}", env)
    _splice(disk, fat, start)
    return disk


def _mtools_env(work: Path) -> dict[str, str]:
    # mtools checks the geometry against sectors per track, which a file image does not have.
    rc = work / "mtoolsrc"
    rc.write_text("mtools_skip_check=1\n")
    return {**os.environ, "MTOOLSRC": str(rc)}


def _splice(disk: Path, fat: Path, start: int) -> None:
    """Copy the filesystem into the disk at `start`, leaving runs of zeros as holes."""
    block = 1 << 20
    with fat.open("rb") as src, disk.open("r+b") as dst:
        offset = start
        while chunk := src.read(block):
            if chunk.count(0) != len(chunk):
                dst.seek(offset)
                dst.write(chunk)
            offset += len(chunk)


def partition(disk: Path) -> tuple[int, int]:
    """The first partition of an MBR disk: (start, size) in bytes."""
    with disk.open("rb") as f:
        mbr = f.read(512)
    if len(mbr) < 512 or mbr[510:512] != b"\x55\xaa":
        raise ArtifactError(f"{disk} has no MBR partition table (no 0x55AA signature)")
    for i in range(4):
        entry = mbr[446 + 16 * i : 462 + 16 * i]
        kind = entry[4]
        first, count = struct.unpack_from("<II", entry, 8)
        if kind and count:
            return first * 512, count * 512
    raise ArtifactError(f"{disk}'s MBR lists no partition")


def looks_like_image(path: Path) -> bool:
    """A qcow2 file, a gzip (a GCE tar) or a disk with an MBR: what `read` may understand."""
    try:
        with path.open("rb") as f:
            head = f.read(512)
    except OSError:
        return False
    if head[:4] == b"\x7fELF":
        return False
    return head[:4] == b"QFI\xfb" or head[:2] == b"\x1f\x8b" or head[510:512] == b"\x55\xaa"


def read(path: Path) -> DiskImage:
    """What a disk image made by `make` (or Solo5's solo5-virtio-mkimage) boots: raw, qcow2 or
    a GCE tar. Only reads: nothing in the image is run."""
    with path.open("rb") as f:
        head = f.read(4)
    _need(["mcopy"] + (["qemu-img"] if head == b"QFI\xfb" else []), files=False)
    with tempfile.TemporaryDirectory(prefix="workbench-image-") as tmp:
        work = Path(tmp)
        if head == b"QFI\xfb":
            qcow2_alone(path)
            fmt, disk = "qcow2", work / "disk.raw"
            convert = ["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(path), str(disk)]
            _run(convert, "qemu-img convert")
        elif head[:2] == b"\x1f\x8b":
            fmt, disk = "gce-tar", _untar(path, work)
        else:
            fmt, disk = "raw", path
        start, size = partition(disk)
        env = _mtools_env(work)
        fs = f"{disk}@@{start}"
        cfg = _run(["mcopy", "-i", fs, "::syslinux.cfg", "-"], "reading syslinux.cfg", env)
        loader, kernel_name, args = _boot_line(cfg, path)
        kernel = work / "kernel"
        _run(["mcopy", "-i", fs, f"::{kernel_name}", str(kernel)], f"reading {kernel_name}", env)
        info = inspect(kernel)
    return DiskImage(str(path), fmt, start, size, loader, args, _renamed(info, kernel_name))


def _renamed(info: ArtifactInfo, name: str) -> ArtifactInfo:
    return replace(info, path=name)


def _untar(path: Path, work: Path) -> Path:
    with tarfile.open(path, "r:gz") as tar:  # only to look: GNU tar extracts it sparse
        members = [m for m in tar.getmembers() if m.name == "disk.raw"]
    # Every disk.raw a regular file: a later link of that name would be extracted over it.
    if not members or not all(m.isreg() for m in members):
        raise ArtifactError(f"{path} is not a GCE image: no disk.raw that is a plain file")
    _run(["tar", "-xzf", str(path), "-C", str(work), "--no-same-owner", "disk.raw"], "tar -x")
    disk = work / "disk.raw"
    if disk.is_symlink() or not disk.is_file():
        raise ArtifactError(f"{path}: its disk.raw did not extract as a plain file")
    return disk


def qcow2_alone(path: Path) -> None:
    """Refuse a qcow2 file that reads another file: a backing file (the header's
    backing_file_offset) or an external data file (incompatible feature bit 2). QEMU and
    qemu-img follow both, so a hostile image could make them read any file they can open."""
    with path.open("rb") as f:
        header = f.read(80)
    if len(header) < 72 or header[:4] != b"QFI\xfb":
        raise ArtifactError(f"{path} is not a qcow2 image (its header is not one)")
    version, backing = struct.unpack_from(">IQ", header, 4)
    incompatible = struct.unpack_from(">Q", header, 72)[0] if version >= 3 else 0
    if backing or incompatible & 0b100:
        what = "a backing file" if backing else "an external data file"
        raise ArtifactError(
            f"{path} is a qcow2 image with {what}: it would read another file",
            "give a self-contained image (qemu-img convert -O qcow2 IMAGE NEW)",
        )


def _boot_line(cfg: str, path: Path) -> tuple[str, str, str]:
    """(loader, kernel file, arguments) from syslinux.cfg's KERNEL and APPEND lines."""
    loader = append = ""
    for line in cfg.splitlines():
        words = line.strip().split(None, 1)
        if len(words) == 2 and words[0].upper() == "KERNEL":
            loader = words[1]
        elif len(words) == 2 and words[0].upper() == "APPEND":
            append = words[1]
    parts = append.split(" ")
    if parts[:1] == ["-aout"]:
        parts = parts[1:]
    if not loader or not parts or not parts[0]:
        raise ArtifactError(
            f"{path}: its syslinux.cfg names no multiboot kernel (KERNEL mboot.c32, APPEND "
            "[-aout] FILE ARGS)"
        )
    return loader, parts[0], " ".join(parts[1:])
