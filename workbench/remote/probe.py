"""Reaching a unikernel from its host: a TCP connection through the host's SSH connection (a
direct-tcpip channel to the address behind the tap), ping run on the host, and the host's
neighbour entry for it dropped.

A probe that fails is an answer, not an error: failures come back as text for the health
check to report, and asyncssh's exceptions go no further than here. A lost SSH connection is
still a WorkbenchError, as everywhere.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncssh

from workbench.remote.connection import HostConnection


@dataclass(frozen=True, slots=True)
class Reply:
    """What one request over a fresh connection got: its first line, or why not."""

    line: bytes = b""
    refused: str | None = None  # no connection: the channel-open reason or the exception's name
    failed: str | None = None  # the exchange broke after connecting: the exception's type name


async def _open(
    conn: HostConnection, addr: str, port: int, timeout: float
) -> tuple[asyncssh.SSHReader[bytes], asyncssh.SSHWriter[bytes]] | str:
    ssh = await conn.connection()
    try:
        return await asyncio.wait_for(ssh.open_connection(addr, port), timeout)
    except (TimeoutError, asyncssh.ChannelOpenError, OSError) as exc:
        # A refusal relayed by sshd carries its reason ("Connection refused"); a timeout none.
        return getattr(exc, "reason", None) or type(exc).__name__


async def tcp_connect(conn: HostConnection, addr: str, port: int, timeout: float) -> str | None:
    """None when addr:port accepts a connection from the host, else why it did not."""
    opened = await _open(conn, addr, port, timeout)
    if isinstance(opened, str):
        return opened
    opened[1].close()
    return None


async def first_line(
    conn: HostConnection,
    addr: str,
    port: int,
    request: bytes,
    *,
    connect_timeout: float,
    answer_timeout: float,
) -> Reply:
    """Send `request` to addr:port from the host and read the first line of the answer."""
    opened = await _open(conn, addr, port, connect_timeout)
    if isinstance(opened, str):
        return Reply(refused=opened)
    reader, writer = opened
    try:
        writer.write(request)
        return Reply(line=await asyncio.wait_for(reader.readline(), answer_timeout))
    except (TimeoutError, OSError, asyncssh.Error) as exc:
        return Reply(failed=type(exc).__name__)
    finally:
        writer.close()


async def ping(conn: HostConnection, addr: str) -> bool:
    """One echo request from the host, a second to answer."""
    result = await conn.run(
        ["ping", "-c", "1", "-W", "1", addr], check=False, sudo=False, timeout=10, what="ping"
    )
    return result.ok


async def forget_neighbour(conn: HostConnection, addr: str) -> None:
    """Drop the host's neighbour (ARP/NDP) entry for addr, so its next packet asks afresh."""
    await conn.run(
        ["ip", "neigh", "flush", "to", addr],
        check=False,
        timeout=10,
        what="forgetting the unikernel's old MAC",
    )
