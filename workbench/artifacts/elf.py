"""Read what a Solo5 unikernel declares: architecture, ABI note and device manifest.

The results match `solo5-elftool query-abi` / `query-manifest`. Notes are read the way the
tender reads them (one note per PT_NOTE segment, descriptor realigned to the structure's
alignment), falling back to SHT_NOTE sections for binaries without program headers for them.
"""

from __future__ import annotations

import hashlib
import re
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import ArtifactError

if TYPE_CHECKING:
    from elftools.elf.elffile import ELFFile

ABI1_TYPE = 0x31494241  # "ABI1"
MFT1_TYPE = 0x3154464D  # "MFT1"
ABI1_ALIGN = 4  # alignof(struct abi1_info)
MFT1_ALIGN = 8  # alignof(struct mft): it holds 8-byte unions
MFT_RESERVED_FIRST = 1 << 30
MFT_ENTRY_SIZE = 104
MFT_NAME_SIZE = 68
MFT_MAX_ENTRIES = 64

TARGETS = {1: "hvt", 2: "spt", 3: "virtio", 4: "muen", 5: "genode"}
DEVICE_TYPES = {1: "BLOCK_BASIC", 2: "NET_BASIC"}
# pyelftools names machines 'EM_X86_64', 'EM_AARCH64'...: ours are those names without the
# prefix, in lower case, except for these two.
MACHINES = {"EM_PPC64": "ppc64le", "EM_386": "i386"}


@dataclass(frozen=True)
class Device:
    name: str
    type: str  # NET_BASIC or BLOCK_BASIC


@dataclass(frozen=True)
class AbiInfo:
    target: str
    version: int


@dataclass(frozen=True)
class ArtifactInfo:
    path: str
    size: int
    sha256: str
    machine: str
    elf_class: int
    abi: AbiInfo | None
    devices: tuple[Device, ...] | None = None  # None: no manifest note (pre-0.6 Solo5)
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def is_solo5(self) -> bool:
        return self.abi is not None

    @property
    def net_devices(self) -> list[str]:
        return [d.name for d in self.devices or () if d.type == "NET_BASIC"]

    @property
    def block_devices(self) -> list[str]:
        return [d.name for d in self.devices or () if d.type == "BLOCK_BASIC"]

    def query_abi(self) -> dict[str, object]:
        """Same shape as `solo5-elftool query-abi`."""
        if self.abi is None:
            return {}
        return {"type": "solo5.abi", "target": self.abi.target, "version": self.abi.version}

    def query_manifest(self) -> dict[str, object]:
        """Same shape as `solo5-elftool query-manifest`."""
        return {
            "type": "solo5.manifest",
            "version": 1,
            "devices": [{"name": d.name, "type": d.type} for d in self.devices or ()],
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "machine": self.machine,
            "elf_class": self.elf_class,
            "abi": self.query_abi() or None,
            "manifest": self.query_manifest() if self.devices is not None else None,
        }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def inspect(path: str | Path, *, require_solo5: bool = True) -> ArtifactInfo:
    """Inspect an ELF file. With `require_solo5`, one without a Solo5 ABI note is an error."""
    # Here, not at the top: what only uses this module's types (render, status, logs) does
    # not pay for pyelftools' import (~40 ms).
    from elftools.common.exceptions import ELFError

    path = Path(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):  # a directory; a FIFO would block, a device never end
            raise ArtifactError(
                f"{path} is not a regular file",
                "give the dist/NAME.hvt (or .spt) file that `make build` produced",
            )
        size = st.st_size
        with path.open("rb") as fh:
            magic = fh.read(4)
            if magic != b"\x7fELF":
                raise ArtifactError(
                    f"{path} is not an ELF executable (it starts with {magic!r})",
                    "give the dist/NAME.hvt (or .spt) file that `make build` produced",
                )
            fh.seek(0)
            info = _read(fh, path, size)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: no such file", "check the path") from None
    except PermissionError:
        raise ArtifactError(f"{path}: permission denied") from None
    except OSError as exc:  # a symlink loop, an I/O error
        raise ArtifactError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except (ELFError, struct.error, ValueError, EOFError, OverflowError) as exc:
        raise ArtifactError(
            f"{path} is truncated or corrupt: {exc}",
            "build or copy it again; compare its size with the original",
        ) from None
    if require_solo5 and info.abi is None:
        raise ArtifactError(
            f"{path} is an ELF executable ({info.machine}) without a Solo5 ABI note: "
            "it is not a Solo5 unikernel",
            "deploy the unikernel (dist/NAME.hvt), not the solo5-hvt tender or another program",
        )
    return info


def _read(fh, path: Path, size: int) -> ArtifactInfo:  # type: ignore[no-untyped-def]
    _check_tables(fh.read(64), size)
    from elftools.elf.elffile import ELFFile

    elf = ELFFile(fh)  # reads from the start whatever the position
    machine_id = elf.header["e_machine"]
    machine = _machine_name(machine_id)
    notes = _solo5_notes(elf, size)
    abi = _parse_abi(notes[ABI1_TYPE], path) if ABI1_TYPE in notes else None
    devices = _parse_manifest(notes[MFT1_TYPE], path) if MFT1_TYPE in notes else None
    return ArtifactInfo(
        path=str(path),
        size=size,
        sha256=sha256_file(path),
        machine=machine,
        elf_class=elf.elfclass,
        abi=abi,
        devices=devices,
    )


def _check_tables(header: bytes, size: int) -> None:
    """The program and section header tables lie inside the file: an absurd offset or count
    is a corrupt file, not something to seek to (pyelftools trusts them)."""
    if len(header) < 64 or header[4] != 2:
        return  # not ELF64: pyelftools says what it is
    endian = "<" if header[5] == 1 else ">"
    phoff, shoff = struct.unpack_from(endian + "QQ", header, 32)
    phentsize, phnum, shentsize, shnum = struct.unpack_from(endian + "HHHH", header, 54)
    for name, offset, count, entry in (
        ("program", phoff, phnum, phentsize),
        ("section", shoff, shnum, shentsize),
    ):
        if count and offset + count * entry > size:
            raise ValueError(
                f"its {name} header table ({count} entries at offset {offset}) lies past the "
                f"end of the file ({size} bytes)"
            )


def _machine_name(machine: object) -> str:
    if isinstance(machine, str):  # pyelftools names every machine it knows
        return MACHINES.get(machine, machine.removeprefix("EM_").lower())
    return f"machine-{machine}"  # a number pyelftools has no name for


def _solo5_notes(elf: ELFFile, size: int) -> dict[int, bytes]:
    """Descriptors of Solo5-owned notes, realigned, keyed by note type."""
    regions: list[tuple[int, int]] = []
    for seg in elf.iter_segments():
        if seg["p_type"] == "PT_NOTE":
            regions.append((seg["p_offset"], seg["p_filesz"]))
    if not regions:
        for sec in elf.iter_sections():
            if sec["sh_type"] == "SHT_NOTE":
                regions.append((sec["sh_offset"], sec["sh_size"]))
    out: dict[int, bytes] = {}
    stream = elf.stream
    for offset, length in regions:
        if offset + length > size:
            raise ValueError(
                f"note at offset {offset} runs past the end of the file ({size} bytes)"
            )
        stream.seek(offset)
        data = stream.read(length)
        pos = 0
        while pos + 12 <= len(data):
            namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
            name_end = pos + 12 + namesz
            desc_start = pos + 12 + ((namesz + 3) & ~3)
            if desc_start + descsz > len(data):
                raise ValueError("a note's descriptor runs past its segment")
            name = data[pos + 12 : name_end]
            if name == b"Solo5\0" and ntype in (ABI1_TYPE, MFT1_TYPE):
                align = MFT1_ALIGN if ntype == MFT1_TYPE else ABI1_ALIGN
                skip = (-(desc_start - pos)) % align  # struct padding inside the note
                out[ntype] = data[desc_start + skip : desc_start + descsz]
            pos = desc_start + ((descsz + 3) & ~3)
    return out


def _parse_abi(desc: bytes, path: Path) -> AbiInfo:
    if len(desc) < 8:
        raise ValueError("Solo5 ABI note is too short")
    target, version = struct.unpack_from("<II", desc)
    if target not in TARGETS:
        raise ArtifactError(f"{path}: unknown Solo5 ABI target {target}")
    return AbiInfo(target=TARGETS[target], version=version)


_DEVICE_NAME = re.compile(r"[A-Za-z0-9]{1,67}")  # Solo5's own rule (mft.c / elftool)


def _parse_manifest(desc: bytes, path: Path) -> tuple[Device, ...]:
    invalid = f"{path}: Solo5 manifest is invalid"
    if len(desc) < 8:
        raise ArtifactError(invalid, "the note is too short; rebuild the unikernel")
    version, entries = struct.unpack_from("<II", desc)
    if version != 1 or entries < 1 or entries > MFT_MAX_ENTRIES:
        raise ArtifactError(f"{invalid} (version {version}, {entries} entries)")
    if len(desc) != 8 + entries * MFT_ENTRY_SIZE:
        raise ArtifactError(f"{invalid} (size {len(desc)} does not fit {entries} entries)")
    devices: list[Device] = []
    for i in range(entries):
        base = 8 + i * MFT_ENTRY_SIZE
        raw_name = desc[base : base + MFT_NAME_SIZE]
        (kind,) = struct.unpack_from("<I", desc, base + MFT_NAME_SIZE)
        if raw_name[-1] != 0:
            raise ArtifactError(f"{invalid} (entry {i} name is not terminated)")
        name = raw_name.split(b"\0", 1)[0].decode("ascii", "replace")
        if i == 0:
            if kind != MFT_RESERVED_FIRST or name:
                raise ArtifactError(f"{invalid} (entry 0 is not MFT_RESERVED_FIRST)")
            continue
        if kind >= MFT_RESERVED_FIRST:
            continue
        if kind not in DEVICE_TYPES:
            raise ArtifactError(f"{invalid} (device {name!r} has unknown type {kind})")
        if not _DEVICE_NAME.fullmatch(name):
            raise ArtifactError(
                f"{invalid} (device {name!r} is not a Solo5 device name: 1-67 letters or digits)",
                "the manifest was not written by solo5-elftool; rebuild the unikernel",
            )
        devices.append(Device(name=name, type=DEVICE_TYPES[kind]))
    return tuple(devices)


def require_target(info: ArtifactInfo, target: str, *, host_machine: str | None = None) -> None:
    """Refuse an artifact that the profile's tender or the target host cannot run."""
    assert info.abi is not None
    if info.abi.target != target:
        raise ArtifactError(
            f"{info.path} is built for solo5-{info.abi.target}, but this profile runs "
            f"solo5-{target} (build.target: {target})",
            f"rebuild with `mirage configure -t {target}`, or set build.target: {info.abi.target}",
        )
    if host_machine is not None and info.machine != host_machine:
        raise ArtifactError(
            f"{info.path} is an {info.machine} unikernel but the target host is {host_machine}",
            f"build it on an {host_machine} builder (set build.host to one) and deploy that",
        )
