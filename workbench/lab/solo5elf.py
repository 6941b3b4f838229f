"""Write small but valid Solo5 unikernel ELF files.

Used by the tests as fixtures and by the lab's build-image double (which has no OCaml toolchain
to link a real unikernel). Standard library only, so the build image can run it as a script.

The notes follow Solo5's public ABI headers (v0.12.1):
- elf_abi.h: note name "Solo5", type "ABI1" (0x31494241); descriptor struct abi1_info
  {u32 abi_target, u32 abi_version, u32 reserved0, u32 reserved1}; targets hvt=1, spt=2,
  virtio=3, muen=4, genode=5.
- mft_abi.h: type "MFT1" (0x3154464d); descriptor is struct mft {u32 version; u32 entries;
  struct mft_entry e[]} aligned to 8 inside struct mft1_note, so the descriptor starts with 4
  bytes of padding. struct mft_entry is 104 bytes: char name[68], u32 type, 16-byte union of
  device properties, 8-byte backing union, bool attached, padding. Entry 0 is always
  MFT_RESERVED_FIRST (1 << 30) with an empty name; NET_BASIC=2, BLOCK_BASIC=1.
Each note gets its own PT_NOTE program header (the tender's elf_load_note() expects exactly one
note per PT_NOTE) and its own SHT_NOTE section (what readelf and solo5-elftool show).
"""

from __future__ import annotations

import struct
from pathlib import Path

EM = {"x86_64": 62, "aarch64": 183, "ppc64le": 21}
ABI_TARGETS = {"hvt": 1, "spt": 2, "virtio": 3, "muen": 4, "genode": 5}
DEVICE_TYPES = {"BLOCK_BASIC": 1, "NET_BASIC": 2}
ABI1_TYPE = 0x31494241
MFT1_TYPE = 0x3154464D
MFT_RESERVED_FIRST = 1 << 30
MFT_ENTRY_SIZE = 104
MFT_NAME_SIZE = 68
LOAD_ADDR = 0x100000

# A few instructions so the text segment is not empty: x86 `hlt; jmp .-1`, arm64 `wfi; b .-4`.
_TEXT = {
    "x86_64": bytes.fromhex("f4ebfd") + b"\x90" * 13,
    "aarch64": bytes.fromhex("7f2003d5ffffff17") + b"\x1f\x20\x03\xd5" * 2,
    "ppc64le": b"\x00\x00\x00\x48" * 4,
}


def abi_note(target: str = "hvt", version: int = 2) -> bytes:
    desc = struct.pack("<IIII", ABI_TARGETS[target], version, 0, 0)
    return _note(ABI1_TYPE, desc)


def manifest_note(devices: list[tuple[str, str]]) -> bytes:
    entries = [_mft_entry("", MFT_RESERVED_FIRST)]
    entries += [_mft_entry(name, DEVICE_TYPES[kind]) for name, kind in devices]
    mft = struct.pack("<II", 1, len(entries)) + b"".join(entries)
    return _note(MFT1_TYPE, b"\0" * 4 + mft)  # 4 bytes: struct mft is 8-aligned in mft1_note


def _mft_entry(name: str, kind: int) -> bytes:
    raw = name.encode()
    if len(raw) >= MFT_NAME_SIZE:
        raise ValueError(f"device name {name!r} is longer than 67 bytes")
    entry = raw.ljust(MFT_NAME_SIZE, b"\0") + struct.pack("<I", kind)
    return entry.ljust(MFT_ENTRY_SIZE, b"\0")


def _note(kind: int, desc: bytes) -> bytes:
    name = b"Solo5\0"
    head = struct.pack("<III", len(name), len(desc), kind) + name.ljust(8, b"\0")
    return head + desc + b"\0" * (-len(desc) % 4)


def build(
    arch: str = "x86_64",
    target: str = "hvt",
    devices: list[tuple[str, str]] | None = None,
    *,
    abi_version: int = 2,
    with_abi: bool = True,
    with_manifest: bool = True,
    extra_sections: dict[str, bytes] | None = None,
    pad_to: int = 0,
    text: bytes | None = None,
) -> bytes:
    """Return the bytes of an ELF64 little-endian executable with Solo5 notes. `text` is
    code linked to run at LOAD_ADDR + text_offset() (the lab's virtio test guest); by default a
    few instructions that halt."""
    code = _TEXT[arch] if text is None else text
    sections: list[tuple[str, int, int, bytes, int]] = [(".text", 1, 6, code, 16)]
    if with_manifest:
        sections.append((".note.solo5.manifest", 7, 2, manifest_note(devices or []), 4))
    if with_abi:
        sections.append((".note.solo5.abi", 7, 2, abi_note(target, abi_version), 4))
    for name, data in (extra_sections or {}).items():
        sections.append((name, 1, 0, data, 1))  # SHT_PROGBITS, not loaded

    if not pad_to:
        return _assemble(arch, sections)
    # Filler in a section of its own keeps the file a well-formed ELF of (about) the asked size.
    plain = len(_assemble(arch, sections))
    filler = max(pad_to - plain - 64 - len(".workbench.pad") - 16, 0)
    return _assemble(arch, [*sections, (".workbench.pad", 1, 0, bytes(filler), 1)])


def text_offset(with_abi: bool = True, with_manifest: bool = True) -> int:
    """Where .text starts in the file (and, as the PT_LOAD maps offset 0 to LOAD_ADDR, in
    memory less LOAD_ADDR): after the ELF header and one program header per note."""
    phnum = 1 + int(with_abi) + int(with_manifest)
    start = 64 + 56 * phnum
    return start + (-start % 16)


def _assemble(arch: str, sections: list[tuple[str, int, int, bytes, int]]) -> bytes:
    notes = [s for s in sections if s[1] == 7]
    phnum = 1 + len(notes)
    body_start = 64 + 56 * phnum
    offsets: list[int] = []
    blob = bytearray()
    for _name, _type, _flags, data, align in sections:
        blob += b"\0" * (-(body_start + len(blob)) % align)
        offsets.append(body_start + len(blob))
        blob += data

    shstr = bytearray(b"\0")
    name_offsets = []
    for name, *_ in sections:
        name_offsets.append(len(shstr))
        shstr += name.encode() + b"\0"
    shstr_name = len(shstr)
    shstr += b".shstrtab\0"
    shstr_off = body_start + len(blob)
    blob += shstr
    blob += b"\0" * (-(body_start + len(blob)) % 8)
    shoff = body_start + len(blob)
    shnum = len(sections) + 2

    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header += struct.pack(
        "<HHIQQQIHHHHHH",
        2,
        EM[arch],
        1,
        LOAD_ADDR + offsets[0],
        64,
        shoff,
        0,
        64,
        56,
        phnum,
        64,
        shnum,
        shnum - 1,
    )
    text_end = offsets[0] + len(sections[0][3])
    phdrs = struct.pack("<IIQQQQQQ", 1, 5, 0, LOAD_ADDR, LOAD_ADDR, text_end, text_end, 0x1000)
    for i, sec in enumerate(sections):
        if sec[1] == 7:
            size = len(sec[3])
            phdrs += struct.pack("<IIQQQQQQ", 4, 4, offsets[i], 0, 0, size, size, 4)

    shdrs = bytes(64)
    for i, (_name, stype, flags, data, align) in enumerate(sections):
        addr = LOAD_ADDR + offsets[i] if flags & 2 and stype == 1 else 0
        shdrs += struct.pack(
            "<IIQQQQIIQQ",
            name_offsets[i],
            stype,
            flags,
            addr,
            offsets[i],
            len(data),
            0,
            0,
            align,
            0,
        )
    shdrs += struct.pack("<IIQQQQIIQQ", shstr_name, 3, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0)
    return bytes(header + phdrs + blob + shdrs)


def write(path: str | Path, **kwargs: object) -> Path:
    path = Path(path)
    path.write_bytes(build(**kwargs))  # type: ignore[arg-type]
    return path


if (
    __name__ == "__main__"
):  # used by the lab build-image double: solo5elf.py OUT ARCH TARGET [NAME:TYPE]...
    import sys

    out, arch, target, *devs = sys.argv[1:]
    write(out, arch=arch, target=target, devices=[tuple(d.split(":", 1)) for d in devs])
