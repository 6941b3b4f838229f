"""Health checks of a unikernel, made from its host: TCP or HTTP through the host's SSH
connection (a direct-tcpip channel to the unikernel's address behind the tap), or ping run on
the host; `workbench.remote.probe` does the reaching, this module asks and judges. A `log` check
is answered by the boot watcher from the journal."""

from __future__ import annotations

import re

from workbench.profiles.models import HttpCheck, PingCheck, Profile, TcpCheck
from workbench.remote.connection import HostConnection
from workbench.remote.probe import first_line, forget_neighbour, ping, tcp_connect

CONNECT_TIMEOUT = 1.0  # one attempt of many: the boot watcher probes again 0.2 s later
ANSWER_TIMEOUT = 5.0
_STATUS_LINE = re.compile(rb"HTTP/\d\.\d (\d{3})")


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
        ok = await ping(conn, addr or "")
        return ok, "ping answered" if ok else "no ping reply"
    if not isinstance(check, TcpCheck | HttpCheck) or addr is None:
        return False, "no address to check"
    if isinstance(check, TcpCheck):
        refused = await tcp_connect(conn, addr, check.port, CONNECT_TIMEOUT)
        if refused is not None:
            return False, f"connect to {addr}:{check.port}: {refused}"
        return True, f"{addr}:{check.port} accepts connections"
    reply = await first_line(
        conn,
        addr,
        check.port,
        http_request(check.path, addr),
        connect_timeout=CONNECT_TIMEOUT,
        answer_timeout=ANSWER_TIMEOUT,
    )
    if reply.refused is not None:
        return False, f"connect to {addr}:{check.port}: {reply.refused}"
    if reply.failed is not None:
        return False, f"HTTP request failed: {reply.failed}"
    return http_verdict(reply.line, check.expect_status)


def http_request(path: str, host: str) -> bytes:
    """A GET that asks the server to close after answering: one status line is all we read."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: workbench\r\nConnection: close\r\n\r\n"
    ).encode()


def http_verdict(status_line: bytes, expect: int) -> tuple[bool, str]:
    """(ok, what happened) for the first line of an HTTP answer."""
    match = _STATUS_LINE.match(status_line)
    if not match:
        return False, f"not an HTTP answer: {status_line[:60]!r}"
    status = int(match.group(1))
    ok = status == expect
    return ok, f"HTTP {status}" + ("" if ok else f", expected {expect}")


async def forget_mac(conn: HostConnection, profile: Profile) -> None:
    """Drop the host's neighbour entry for the unikernel after a restart.

    Solo5 gives a unikernel a new random MAC on every start (unless --net-mac is set). Its
    gratuitous ARP is ignored by Linux if the old entry was updated within the last second
    (arp locktime), and the host then keeps sending to the old MAC until the entry expires,
    about 30 s. Forgetting it makes the next packet ask afresh.
    """
    addr = target_address(profile)
    if addr:
        await forget_neighbour(conn, addr)
