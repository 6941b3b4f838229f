"""Build the lab's virtio test guest: a multiboot kernel (lab/guest/boot.S + kernel.c, compiled
with Debian's gcc as 32-bit code) in an ELF64 x86_64 file with the Solo5 ABI note (virtio) and
a manifest, as `mirage configure -t virtio` produces; QEMU boots it for real in the lab.

Cached by a hash of the sources and the manifest, so it is compiled once per change.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from workbench.errors import LabError
from workbench.lab import config, solo5elf
from workbench.lab.sysrun import run

SOURCES = ("boot.S", "kernel.c")
_LINK = """ENTRY(_start)
SECTIONS {
  . = %#x;
  __text_start = .;
  .text : { *(.multiboot) *(.text*) *(.rodata*) }
  __text_end = .;
  .data : { *(.data*) }
  __bss_start = .;
  .bss : { *(.bss*) *(COMMON) }
  _end = .;
  /DISCARD/ : { *(.note*) *(.comment) *(.eh_frame*) }
}
"""
_CFLAGS = [
    "-m32",
    "-ffreestanding",
    "-fno-builtin",
    "-fno-pic",
    "-fno-stack-protector",
    "-fno-asynchronous-unwind-tables",
    "-nostdlib",
    "-O2",
    "-Wall",
    "-Werror",
]


def _sources() -> dict[str, bytes]:
    guest = resources.files("workbench.lab.guest")
    return {name: guest.joinpath(name).read_bytes() for name in SOURCES}


def build(devices: list[tuple[str, str]], out: Path | None = None, builtin_args: str = "") -> Path:
    """The test guest with this manifest (NAME, NET_BASIC|BLOCK_BASIC), as a .virtio file;
    `builtin_args` (words without quotes or backslashes) act before the command line's."""
    data = solo5elf.build("x86_64", "virtio", devices, text=flat(builtin_args))
    digest = hashlib.sha256(data).hexdigest()[:16]
    cached = config.CACHE_DIR / f"test-guest-{digest}.virtio"
    if not cached.is_file():
        config.CACHE_DIR.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(data)
    if out is None:
        return cached
    shutil.copyfile(cached, out)
    return out


def flat(builtin_args: str = "") -> bytes:
    """The linked guest (code and data, to be loaded at LOAD_ADDR + text_offset()), compiled
    once per source and arguments: solo5elf.build(text=...) wraps it with any manifest (the
    lab's build image does that for `mirage configure -t virtio`)."""
    if any(c in builtin_args for c in '"\\\n'):
        raise ValueError(f"builtin_args {builtin_args!r}: no quotes, backslashes or newlines")
    sources = _sources()
    key = repr((sorted(sources.items()), builtin_args))
    cached = config.CACHE_DIR / f"test-guest-{hashlib.sha256(key.encode()).hexdigest()[:16]}.bin"
    if not cached.is_file():
        config.CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".partial")
        tmp.write_bytes(_compile(sources, builtin_args))
        tmp.replace(cached)
    return cached.read_bytes()


def _compile(sources: dict[str, bytes], builtin: str) -> bytes:
    if shutil.which("gcc") is None or shutil.which("ld") is None:
        raise LabError(
            "cannot build the lab's virtio test guest: gcc or ld is missing",
            "apt-get install gcc (or `workbench lab up --install-deps`)",
        )
    base = solo5elf.LOAD_ADDR + solo5elf.text_offset()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, data in sources.items():
            (work / name).write_bytes(data)
        (work / "link.ld").write_text(_LINK % base)
        objects = []
        for name in SOURCES:
            obj = work / (name + ".o")
            flags = [f"-DFILE_START={solo5elf.LOAD_ADDR:#x}", f'-DBUILTIN_ARGS="{builtin}"']
            run(
                ["gcc", *_CFLAGS, *flags, "-c", str(work / name), "-o", str(obj)],
                timeout=120,
                what=f"compiling the test guest's {name}",
            )
            objects.append(str(obj))
        flat_path = work / "guest.bin"
        run(
            [
                "ld",
                "-m",
                "elf_i386",
                "-T",
                str(work / "link.ld"),
                "--oformat",
                "binary",
                "-o",
                str(flat_path),
                *objects,
            ],
            timeout=60,
            what="linking the test guest",
        )
        return flat_path.read_bytes()
