"""Health checks of a unikernel, made from its host: TCP or HTTP through the host's SSH
connection (a direct-tcpip channel to the unikernel's address behind the tap), or ping run on
the host. A `log` check is answered by the boot watcher from the journal."""

from __future__ import annotations

import asyncio
import re

import asyncssh

from workbench.profiles.models import HttpCheck, PingCheck, Profile, TcpCheck
from workbench.remote.connection import HostConnection


def target_address(profile: Profile) -> str | None:
    check = profile.health
    address = getattr(check, "address", None) if check is not None else None
    if address:
        return address
    ip = profile.unikernel.ipv4
    return str(ip.ip) if ip is not None else None


def describe(profile: Profile) -> str:
    check = profile.health
    addr = target_address(profile) or "?"
    if isinstance(check, HttpCheck):
        return f"http://{addr}:{check.port}{check.path}"
    if isinstance(check, TcpCheck):
        return f"tcp {addr}:{check.port}"
    if isinstance(check, PingCheck):
        return f"ping {addr}"
    if check is not None:
        return f"log /{check.pattern}/"
    return "unit active"


async def probe(conn: HostConnection, profile: Profile) -> tuple[bool, str]:
    """One attempt. (ok, what happened)."""
    check = profile.health
    addr = target_address(profile)
    if isinstance(check, PingCheck):
        result = await conn.run(
            ["ping", "-c", "1", "-W", "1", addr or ""],
            check=False,
            sudo=False,
            timeout=10,
            what="ping",
        )
        return result.ok, "ping answered" if result.ok else "no ping reply"
    if not isinstance(check, TcpCheck | HttpCheck) or addr is None:
        return False, "no address to check"
    ssh = await conn.connection()
    try:
        reader, writer = await asyncio.wait_for(ssh.open_connection(addr, check.port), 1.0)
    except (TimeoutError, asyncssh.ChannelOpenError, OSError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        return False, f"connect to {addr}:{check.port}: {reason}"
    try:
        if isinstance(check, TcpCheck):
            return True, f"{addr}:{check.port} accepts connections"
        request = (
            f"GET {check.path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: workbench\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(request.encode())
        status_line = await asyncio.wait_for(reader.readline(), 5)
        match = re.match(rb"HTTP/\d\.\d (\d{3})", status_line)
        if not match:
            return False, f"not an HTTP answer: {status_line[:60]!r}"
        status = int(match.group(1))
        ok = status == check.expect_status
        return ok, f"HTTP {status}" + ("" if ok else f", expected {check.expect_status}")
    except (TimeoutError, OSError, asyncssh.Error) as exc:
        return False, f"HTTP request failed: {type(exc).__name__}"
    finally:
        writer.close()


async def forget_mac(conn: HostConnection, profile: Profile) -> None:
    """Drop the host's neighbour entry for the unikernel after a restart.

    Solo5 gives a unikernel a new random MAC on every start (unless --net-mac is set). Its
    gratuitous ARP is ignored by Linux if the old entry was updated within the last second
    (arp locktime), and the host then keeps sending to the old MAC until the entry expires,
    about 30 s. Forgetting it makes the next packet ask afresh.
    """
    addr = target_address(profile)
    if addr:
        await conn.run(
            ["ip", "neigh", "flush", "to", addr],
            check=False,
            timeout=10,
            what="forgetting the unikernel's old MAC",
        )
