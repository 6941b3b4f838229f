"""What `inspect` says of every kind of file a user may hand it -- the unikernels of each target
and architecture, programs that are not unikernels, and files damaged in each part that is read
-- then the tender versions, tender/unikernel pairings and command lines built from them,
written out whole (the values, or the message and hint) and compared with
tests/golden/artifacts.txt.

The files are made by workbench.lab.solo5elf (Solo5 v0.12.1's note layout), then cut or
overwritten where a truncated copy or a damaged note would be. Regenerate after an intended
change with `UPDATE_GOLDEN=1 pytest tests/unit`, then read the diff."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

from workbench.artifacts import inspect, parse_tender_version, require_target, tender_argv
from workbench.artifacts.elf import ArtifactInfo
from workbench.artifacts.tender import check_compatible
from workbench.errors import WorkbenchError
from workbench.lab import solo5elf

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "artifacts.txt"
NET = [("service", "NET_BASIC")]
BLK = [("storage", "BLOCK_BASIC")]
PHDR = 56  # an ELF64 program header; the first is PT_LOAD, then one PT_NOTE per note


def outcome(call: Callable[[], object]) -> str:
    try:
        result = call()
    except WorkbenchError as e:
        return f"{type(e).__name__}: {e.message} | hint: {e.hint}"
    if isinstance(result, ArtifactInfo):
        shown = {k: v for k, v in result.to_dict().items() if k != "sha256"}
        if result.devices is not None and len(result.devices) > 3:  # the first, the last
            shown["manifest"] = f"{result.devices[0]} ... {result.devices[-1]}"
            return f"{shown} {len(result.devices)} devices"
        return f"{shown} net={result.net_devices} block={result.block_devices}"
    return repr(result)


def put(data: bytes, offset: int, raw: bytes) -> bytes:
    return data[:offset] + raw + data[offset + len(raw) :]


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def with_note(devices: list[tuple[str, str]], edit: Callable[[bytes, int], bytes]) -> bytes:
    """A unikernel whose manifest note (the first PT_NOTE) is edited: `edit(data, note_at)`."""
    data = solo5elf.build(devices=devices)
    return edit(data, data.index(solo5elf.manifest_note(devices)))


def entry(i: int) -> int:
    """Offset of manifest entry i in its note: 20 bytes of note header and name, 4 of padding,
    the version and the entry count."""
    return 32 + i * solo5elf.MFT_ENTRY_SIZE


def shrink_manifest(descsz: int) -> bytes:
    def edit(data: bytes, at: int) -> bytes:
        data = put(data, at + 4, u32(descsz))  # the note's descsz, and its segment's size
        return put(data, 64 + PHDR + 32, struct.pack("<QQ", 20 + descsz, 20 + descsz))

    return with_note(NET, edit)


def elf32(machine: int) -> bytes:
    """The ELF header of a 32-bit program (no program or section headers)."""
    head = struct.pack("<HHIIIIIHHHHHH", 2, machine, 1, 0x8048000, 0, 0, 0, 52, 32, 0, 40, 0, 0)
    return b"\x7fELF" + bytes([1, 1, 1, 0]) + bytes(8) + head


def elf64_be(machine: int) -> bytes:
    """A big-endian 64-bit program: header and one PT_LOAD program header, no sections."""
    head = struct.pack(">HHIQQQIHHHHHH", 2, machine, 1, 0x1000, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    load = struct.pack(">IIQQQQQQ", 1, 5, 0, 0x1000, 0x1000, 120, 120, 0x1000)
    return b"\x7fELF" + bytes([2, 2, 1, 0]) + bytes(8) + head + load


def merged_notes() -> bytes:
    """The notes in one PT_NOTE segment after a GNU build-id note, as a linker that merges note
    sections lays them out."""
    build_id = struct.pack("<III", 4, 20, 3) + b"GNU\0" + bytes(range(20))
    notes = build_id + solo5elf.abi_note() + solo5elf.manifest_note(NET)
    text = (".text", 1, 6, solo5elf._TEXT["x86_64"], 16)
    return solo5elf._assemble("x86_64", [text, (".note", 7, 2, notes, 4)])


def without_section_headers() -> bytes:
    """What `sstrip` leaves: no section headers, the file ending with its last note."""
    data = solo5elf.build(devices=NET)
    abi = solo5elf.abi_note()
    end = data.index(abi) + len(abi)
    return put(put(data[:end], 40, struct.pack("<Q", 0)), 60, struct.pack("<HH", 0, 0))


def files() -> Iterator[tuple[str, bytes]]:
    build = solo5elf.build
    for name, devices in (
        ("test_hello.hvt", []),
        ("test_net.hvt", [("service0", "NET_BASIC")]),
        ("test_net_2if.hvt", [("service0", "NET_BASIC"), ("service1", "NET_BASIC")]),
        ("test_blk.hvt", [("storage", "BLOCK_BASIC")]),
        ("mixed.hvt", [*NET, *BLK, ("service1", "NET_BASIC")]),
    ):
        yield name, build(devices=devices)
    yield "service.spt", build(target="spt", devices=NET)
    yield "aarch64.hvt", build(arch="aarch64", devices=NET)
    yield "ppc64le.spt", build(arch="ppc64le", target="spt", devices=NET)
    yield "test_hello.virtio", build(target="virtio")
    yield "abi1.hvt", build(abi_version=1, devices=NET)
    yield "pre-0.6 (no manifest).hvt", build(with_manifest=False)
    yield "63 devices.hvt", build(devices=[(f"net{i}", "NET_BASIC") for i in range(63)])
    yield "67-letter name.hvt", build(devices=[("n" * 67, "NET_BASIC")])
    yield "notes merged after a build-id.hvt", merged_notes()
    yield "sstripped.hvt", without_section_headers()
    yield "notes only in sections.hvt", put(build(devices=NET), 56, b"\0\0")  # e_phnum 0
    yield "abi note without reserved words.hvt", _abi_desc(8)
    # programs that are not unikernels
    yield "solo5-hvt", build(with_abi=False, with_manifest=False)
    yield "riscv64 program", put(build(with_abi=False, with_manifest=False), 18, b"\xf3\x00")
    yield "i386 program", elf32(3)
    yield "arm program", elf32(40)
    yield "alpha program", elf32(0x9026)
    yield "s390x program", elf64_be(22)
    yield "hostname", b"rpi3b\n"
    yield "empty", b""
    # damaged copies
    full = build(devices=NET)
    for cut in (40, 64, 100, len(full) - 8):
        yield f"cut at {cut}.hvt", full[:cut]
    yield "phoff all ones.hvt", put(full, 32, b"\xff" * 8)
    yield "table sizes all ones.hvt", put(full, 54, b"\xff" * 10)
    yield "note past the end.hvt", put(full, 64 + PHDR + 8, struct.pack("<Q", len(full) - 8))
    yield "abi note too short.hvt", _abi_desc(4)
    yield "abi descsz past segment.hvt", _abi_edit(4, u32(100))
    yield "abi descsz all ones.hvt", _abi_edit(4, u32(0xFFFFFFFF))
    yield "abi namesz all ones.hvt", _abi_edit(0, u32(0xFFFFFFFF))
    yield "abi target 9.hvt", _abi_edit(20, u32(9))
    yield "abi target all ones.hvt", _abi_edit(20, u32(0xFFFFFFFF))
    yield "manifest too short.hvt", shrink_manifest(4 + 4)
    yield "manifest header only.hvt", shrink_manifest(4 + 8)
    yield "manifest version 2.hvt", with_note(NET, lambda d, at: put(d, at + 24, u32(2)))
    for count in (0, 65, 3, 0xFFFFFFFF):
        yield (
            f"manifest says {count} entries.hvt",
            with_note(NET, lambda d, at, n=count: put(d, at + 28, u32(n))),
        )
    yield (
        "entry 0 not reserved.hvt",
        with_note(NET, lambda d, at: put(d, at + entry(0) + 68, u32(2))),
    )
    yield "name not terminated.hvt", with_note(NET, lambda d, at: put(d, at + entry(1), b"s" * 68))
    yield (
        "unknown device type.hvt",
        with_note(NET, lambda d, at: put(d, at + entry(1) + 68, u32(3))),
    )
    yield "dash in a name.hvt", with_note(NET, lambda d, at: put(d, at + entry(1), b"serv-ice"))
    yield "latin-1 name.hvt", with_note(NET, lambda d, at: put(d, at + entry(1), b"caf\xe9"))


def _abi_edit(offset: int, raw: bytes) -> bytes:
    data = solo5elf.build(devices=NET)
    return put(data, data.index(solo5elf.abi_note()) + offset, raw)


def _abi_desc(size: int) -> bytes:
    data = _abi_edit(4, u32(size))  # descsz, and the ABI note's segment (the second PT_NOTE)
    return put(data, 64 + 2 * PHDR + 32, struct.pack("<QQ", 20 + size, 20 + size))


def inspect_text(tmp: Path) -> Iterator[str]:
    for name, data in files():
        path = Path(name)
        path.write_bytes(data)
        yield f"== {name}\n  {outcome(lambda p=path: inspect(p))}"
        lenient = outcome(lambda p=path: inspect(p, require_solo5=False))
        yield f"  without requiring Solo5: {lenient}"
        path.unlink()
    loop = Path("loop.hvt")
    loop.symlink_to("loop.hvt")
    os.mkfifo("fifo.hvt")
    Path("dist").mkdir()
    for name in ("missing.hvt", "loop.hvt", "fifo.hvt", "dist"):
        yield f"== {name}\n  {outcome(lambda n=name: inspect(n))}"


def versions() -> Iterator[tuple[str, str]]:
    yield "hvt", "solo5-hvt tender, version v0.12.1\nABI version 2\n"
    yield "spt", "solo5-spt tender, version v0.12.1\nABI version 2\n"
    yield "hvt-debug", "solo5-hvt-debug tender, version v0.12.1\nABI version 2\n"
    yield "git build", "solo5-hvt tender, version v0.12.1-7-g469c1a8\nABI version 2\n"
    yield "0.6.0", "solo5-hvt tender, version v0.6.0\nABI version 1\n"
    yield "0.5.0", "solo5-hvt tender, version v0.5.0\n"
    yield "no v, CRLF", "solo5-hvt tender, version 0.12.1\r\nABI version 2\r\n"
    yield "nothing", ""
    yield "blank lines", "\n \n"
    yield "no version line", "ABI version 2\n"
    yield "not a tender", "GNU bash, version 5.2.15(1)-release (x86_64-pc-linux-gnu)\n"
    yield (
        "missing library",
        "/var/lib/workbench/hello/current/solo5-hvt: error while loading shared libraries: "
        "libseccomp.so.2: cannot open shared object file: No such file or directory\n",
    )


def tender_text() -> Iterator[str]:
    for name, text in versions():
        yield f"== version: {name}\n  {outcome(lambda t=text: parse_tender_version(t))}"
    infos = {
        "net.hvt": inspect(solo5elf.write("net.hvt", devices=NET)),
        "net.spt": inspect(solo5elf.write("net.spt", target="spt", devices=NET)),
        "old.hvt": inspect(solo5elf.write("old.hvt", with_manifest=False)),
        "solo5-hvt": inspect(
            solo5elf.write("solo5-hvt", with_abi=False, with_manifest=False), require_solo5=False
        ),
    }
    tenders = {n: parse_tender_version(t) for n, t in versions() if n in ("hvt", "spt", "0.5.0")}
    tenders["0.6.0"] = parse_tender_version(dict(versions())["0.6.0"])
    for tname, tender in tenders.items():
        for iname, info in infos.items():
            got = outcome(lambda t=tender, i=info: check_compatible(t, i))
            yield f"== {tname} runs {iname}?\n  {got}"
    for iname, info in infos.items():
        if info.abi is not None:
            for target, host in (("hvt", None), ("spt", None), ("hvt", "aarch64")):
                got = outcome(lambda i=info, t=target, h=host: require_target(i, t, host_machine=h))
                yield f"== {iname} for {target} on {host}\n  {got}"
    yield from argv_text(infos, tenders)


def argv_text(infos: dict[str, ArtifactInfo], tenders: dict) -> Iterator[str]:
    both = inspect(solo5elf.write("both.hvt", devices=[*NET, *BLK]))
    none = inspect(solo5elf.write("none.hvt"))
    net = infos["net.hvt"]
    store = {"storage": "/srv/d.img"}
    cases = [
        ("service mapped", net, {"service": "tap100"}, {}, None),
        ("service unmapped", net, {}, {}, None),
        ("storage unmapped", both, {"service": "tap100"}, {}, None),
        ("both mapped", both, {"service": "tap100"}, {"storage": "/srv/d.img"}, None),
        ("extra network", net, {"service": "tap100", "admin": "tap101"}, {}, None),
        ("extra block", net, {"service": "tap100"}, {"data": "/srv/d.img"}, None),
        ("two declared, an extra", both, {"service": "tap100", "admin": "tap101"}, store, None),
        ("no devices, a network", none, {"service": "tap100"}, {}, None),
        ("no manifest", infos["old.hvt"], {"service": "tap100"}, {}, None),
        ("old tender", infos["old.hvt"], {"service": "tap100"}, {"storage": "/d"}, "0.5.0"),
        ("old tender, two blocks", infos["old.hvt"], {}, {"a": "/a", "b": "/b"}, "0.5.0"),
        ("current tender", net, {"service": "tap100"}, {}, "hvt"),
    ]
    for name, info, networks, block, version in cases:
        got = outcome(
            lambda i=info, n=networks, b=block, v=version: tender_argv(
                tender="/r/current/solo5-hvt",
                kernel="/r/current/hello.hvt",
                info=i,
                memory=64,
                networks=n,
                block=b,
                args=["--ipv4=10.0.0.2/24"],
                version=tenders[v] if v else None,
            )
        )
        yield f"== argv: {name}\n  {got}"


def test_every_file_tender_and_command_line_reads_as_recorded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got = "\n".join([*inspect_text(tmp_path), *tender_text()]) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(got)
    assert got == GOLDEN.read_text()
