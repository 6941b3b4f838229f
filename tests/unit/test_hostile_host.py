"""A hostile host, end to end: an SSH server on loopback whose every command answers garbage
(escape sequences, '=' lines, huge numbers, broken JSON, binary) or megabytes. The real CLI runs
against it: every command ends with one of the project's exit codes and a message, never exit
70 or a traceback; nothing it printed reaches our terminal as an escape; memory stays bounded."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncssh
import pytest

from workbench.lab import solo5elf

ROOT = Path(__file__).resolve().parents[2]
HOST_KEY = asyncssh.generate_private_key("ssh-ed25519")
GARBAGE = (
    b"\x1b]0;PWNED\x07\x1b[2J Arch=\x1b[31mx86_64\nKvm=ok\nActiveState=active\n"
    b"NRestarts=" + b"9" * 5000 + b"\nNow=nan\nCurrent=releases/\x1b]0;PWNED\x07\n"
    b'Release={"created": "\\u001b]0;PWNED\\u0007", "artifact": [1]}\n'
    b'{"__CURSOR": {"a": 1}, "MESSAGE": "\\u001b]0;PWNED\\u0007", "PRIORITY": "x"}\n'
    b"long_bit=\xff\xfe64\nuname_m=\x00x86_64\nsolo5-hvt tender, version v"
    + b"9" * 5000
    + b"\n"
    + bytes(range(256))
)


async def answer(process: asyncssh.SSHServerProcess) -> None:
    flood = process.get_extra_info("flood")
    if flood:
        chunk = b"x" * (1 << 20)
        for _ in range(40):
            process.stdout.write(chunk)
    else:
        process.stdout.write(GARBAGE)
        process.stderr.write(GARBAGE)
    process.exit(0)


class _Server(asyncssh.SSHServer):
    def __init__(self, flood: bool) -> None:
        self.flood = flood

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        conn.set_extra_info(flood=self.flood)


async def serve(tmp_path: Path, process_factory, **options):  # type: ignore[no-untyped-def]
    """An SSH server on loopback running `process_factory` for every command; writes the
    client key (id) and a known_hosts line for it into tmp_path. The server and its port."""
    client = asyncssh.generate_private_key("ssh-ed25519")
    (tmp_path / "id").write_bytes(client.export_private_key())
    (tmp_path / "authorized").write_bytes(client.export_public_key())
    server = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_host_keys=[HOST_KEY],
        authorized_client_keys=str(tmp_path / "authorized"),
        process_factory=process_factory,
        encoding=None,
        **options,
    )
    port = server.sockets[0].getsockname()[1]
    public = HOST_KEY.export_public_key("openssh").decode().strip()
    (tmp_path / "known_hosts").write_text(f"[127.0.0.1]:{port} {public}\n")
    return server, port


@pytest.fixture(params=["garbage", "flood"])
async def hostile(request, tmp_path):
    server, port = await serve(
        tmp_path, answer, server_factory=lambda: _Server(request.param == "flood")
    )
    solo5elf.write(tmp_path / "app.hvt", devices=[("service", "NET_BASIC")])
    (tmp_path / "evil.yaml").write_text(
        "hosts:\n  evil:\n    address: 127.0.0.1\n"
        f"    port: {port}\n    identity_file: {tmp_path / 'id'}\n    agent: false\n"
        f"    known_hosts: {tmp_path / 'known_hosts'}\n    connect_timeout: 5\n"
        "targets: [evil]\nunikernel:\n  name: evil\n  artifact: app.hvt\n"
    )
    yield request.param, tmp_path / "evil.yaml"
    server.close()


COMMANDS = [
    ["status"],
    ["check"],
    ["logs", "--lines", "5"],
    ["deploy", "--tender", str(ROOT / "README.md")],
    ["rollback"],
    ["remove", "--yes"],
    ["ps"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("json_out", [False, True], ids=["plain", "json"])
async def test_every_command_survives_a_hostile_host(hostile, command, json_out):
    mode, profile = hostile
    argv = [sys.executable, "-m", "workbench", *command, "--profile", str(profile)]
    proc = await asyncio.create_subprocess_exec(
        *[*argv, "--json"] if json_out else argv,
        cwd=profile.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    text = (out + err).decode(errors="replace")
    assert proc.returncode != 70 and "Traceback" not in text, text[-2000:]
    assert proc.returncode in (0, 1, 3, 4, 5, 7, 8), (proc.returncode, text[-2000:])
    assert b"\x1b]0;PWNED" not in out + err
    if mode == "flood" and command[0] in ("status", "check"):
        assert "more than 16 MiB" in text, text[-2000:]


async def test_a_journal_line_without_end_is_skipped_not_held(tmp_path):
    """A host that sends a 20 MB 'line': the follower skips it and reads the entry after it."""
    from workbench.profiles.models import Host
    from workbench.remote import journal
    from workbench.remote.connection import HostConnection

    good = b'{"__CURSOR": "c2", "MESSAGE": "after the flood"}\n'

    async def flood_then_entry(process: asyncssh.SSHServerProcess) -> None:
        process.stdout.write(b'{"__CURSOR": "c1", "MESSAGE": "' + b"x" * (20 << 20))
        process.stdout.write(b'"}\n' + good)
        process.exit(0)

    server, port = await serve(tmp_path, flood_then_entry)
    host = Host(
        address="127.0.0.1",
        port=port,
        identity_file=tmp_path / "id",
        agent=False,
        known_hosts=tmp_path / "known_hosts",
    )
    conn = HostConnection("h", host)
    try:
        got = [e.message async for e in journal.entries(conn, ["journalctl", "-o", "json"])]
    finally:
        await conn.close()
        server.close()
    assert got == ["after the flood"]
