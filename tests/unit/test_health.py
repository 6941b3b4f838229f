"""Health checks: the HTTP request and the reading of its status line, then every check's text
through a real SSH connection whose server plays the unikernel behind the tap."""

from __future__ import annotations

from pathlib import Path

import asyncssh
import pytest

from tests.unit.test_hostile_host import serve
from workbench import profiles
from workbench.engine import health
from workbench.profiles.models import Host, HttpCheck, LogCheck, PingCheck, Profile, TcpCheck
from workbench.remote.connection import HostConnection, Result

ROOT = Path(__file__).resolve().parents[2]
HTTP, BANNER, SILENT = 8080, 2222, 8081  # ports the server answers on; any other is refused
ADDR = "10.9.0.2"  # the unikernel's, behind the host's tap


def test_the_request_is_a_get_that_asks_to_close():
    assert health.http_request("/healthz?x=1", "10.0.0.2") == (
        b"GET /healthz?x=1 HTTP/1.1\r\nHost: 10.0.0.2\r\nUser-Agent: workbench\r\n"
        b"Connection: close\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("line", "expect", "verdict"),
    [
        (b"HTTP/1.1 200 OK\r\n", 200, (True, "HTTP 200")),
        (b"HTTP/1.0 204\r\n", 204, (True, "HTTP 204")),
        (b"HTTP/1.1 503 Service Unavailable\r\n", 200, (False, "HTTP 503, expected 200")),
        (b"HTTP/1.1 200 OK\r\n", 301, (False, "HTTP 200, expected 301")),
        (b"", 200, (False, "not an HTTP answer: b''")),
        (
            b"SSH-2.0-OpenSSH_9.6\r\n",
            200,
            (False, "not an HTTP answer: b'SSH-2.0-OpenSSH_9.6\\r\\n'"),
        ),
        (b"http/1.1 200 OK\r\n", 200, (False, "not an HTTP answer: b'http/1.1 200 OK\\r\\n'")),
        (b"HTTP/1.1 20 OK\r\n", 200, (False, "not an HTTP answer: b'HTTP/1.1 20 OK\\r\\n'")),
        (b" HTTP/1.1 200 OK\r\n", 200, (False, "not an HTTP answer: b' HTTP/1.1 200 OK\\r\\n'")),
        (b"x" * 100, 200, (False, f"not an HTTP answer: b'{'x' * 60}'")),
    ],
)
def test_the_status_line_decides(line, expect, verdict):
    assert health.http_verdict(line, expect) == verdict


# -- through an SSH connection ------------------------------------------------------------


class _Host(asyncssh.SSHServer):
    """Answers direct-tcpip channels as the unikernel would; remembers what it was sent."""

    def __init__(self, requests: list[bytes]) -> None:
        self.requests = requests

    def connection_requested(self, dest_host, dest_port, orig_host, orig_port):  # type: ignore[no-untyped-def]
        if dest_port == HTTP:
            return self._http
        if dest_port == BANNER:
            return self._banner
        if dest_port == SILENT:
            return self._silent
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_CONNECT_FAILED, "Connection refused")

    async def _http(self, reader, writer) -> None:  # type: ignore[no-untyped-def]
        self.requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        writer.close()

    async def _banner(self, reader, writer) -> None:  # type: ignore[no-untyped-def]
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")  # first, and stays open as sshd does
        await reader.read()

    async def _silent(self, reader, writer) -> None:  # type: ignore[no-untyped-def]
        await reader.read()


@pytest.fixture
async def host(tmp_path):
    """A HostConnection to an SSH server on loopback that plays the unikernel, and the list of
    requests that reached it."""
    requests: list[bytes] = []
    server, port = await serve(tmp_path, None, server_factory=lambda: _Host(requests))
    profile_host = Host(
        address="127.0.0.1",
        port=port,
        identity_file=tmp_path / "id",
        agent=False,
        known_hosts=tmp_path / "known_hosts",
        connect_timeout=5,
    )
    connection = HostConnection("h", profile_host)
    yield connection, requests
    await connection.close()
    server.close()
    await server.wait_closed()


def with_check(check: HttpCheck | TcpCheck | PingCheck | LogCheck | None) -> Profile:
    loaded = profiles.load(str(ROOT / "profiles" / "lab.yaml"))
    return loaded.profile.model_copy(update={"health": check})


@pytest.mark.parametrize(
    ("check", "result"),
    [
        (
            TcpCheck(kind="tcp", port=HTTP, address=ADDR),
            (True, f"{ADDR}:{HTTP} accepts connections"),
        ),
        (
            TcpCheck(kind="tcp", port=9, address=ADDR),
            (False, f"connect to {ADDR}:9: Connection refused"),
        ),
        (
            HttpCheck(kind="http", port=HTTP, path="/healthz", expect_status=204, address=ADDR),
            (True, "HTTP 204"),
        ),
        (HttpCheck(kind="http", port=HTTP, address=ADDR), (False, "HTTP 204, expected 200")),
        (
            HttpCheck(kind="http", port=BANNER, address=ADDR),
            (False, "not an HTTP answer: b'SSH-2.0-OpenSSH_9.6\\r\\n'"),
        ),
        (
            HttpCheck(kind="http", port=SILENT, address=ADDR),
            (False, "HTTP request failed: TimeoutError"),
        ),
        (
            HttpCheck(kind="http", port=9, address=ADDR),
            (False, f"connect to {ADDR}:9: Connection refused"),
        ),
    ],
    ids=[
        "tcp",
        "tcp-refused",
        "http",
        "http-status",
        "http-not-http",
        "http-silent",
        "http-refused",
    ],
)
async def test_every_check_says_what_happened(host, monkeypatch, check, result):
    conn, requests = host
    monkeypatch.setattr(health, "ANSWER_TIMEOUT", 0.3)
    assert await health.probe(conn, with_check(check)) == result
    if result == (True, "HTTP 204"):
        assert requests == [health.http_request("/healthz", ADDR)]


class _Recorder:
    """A host connection that records the commands run on it and answers with `status`."""

    def __init__(self, status: int) -> None:
        self.status, self.runs = status, []

    async def run(self, argv, **options):  # type: ignore[no-untyped-def]
        self.runs.append((argv, options))
        return Result(tuple(argv), self.status, "", "")


@pytest.mark.parametrize(("status", "result"), [(0, "ping answered"), (1, "no ping reply")])
async def test_ping_runs_on_the_host(status, result):
    rec = _Recorder(status)
    profile = with_check(PingCheck(kind="ping", address=ADDR))
    assert await health.probe(rec, profile) == (status == 0, result)  # type: ignore[arg-type]
    assert [argv for argv, _ in rec.runs] == [["ping", "-c", "1", "-W", "1", ADDR]]
    assert rec.runs[0][1]["sudo"] is False


async def test_the_old_mac_is_forgotten_by_flushing_the_neighbour_entry():
    rec = _Recorder(0)
    await health.forget_mac(rec, with_check(PingCheck(kind="ping", address=ADDR)))  # type: ignore[arg-type]
    assert [argv for argv, _ in rec.runs] == [["ip", "neigh", "flush", "to", ADDR]]


# -- where and what: pure ----------------------------------------------------------------------


def without_ipv4(profile: Profile) -> Profile:
    uk = profile.unikernel.model_copy(update={"args": []})
    return profile.view(uk)


@pytest.mark.parametrize(
    ("check", "address", "described"),
    [
        # the lab profile's unikernel has --ipv4=10.0.0.2/24
        (HttpCheck(kind="http", port=8080), "10.0.0.2", "http://10.0.0.2:8080/"),
        (HttpCheck(kind="http", port=80, path="/x", address=ADDR), ADDR, f"http://{ADDR}:80/x"),
        (TcpCheck(kind="tcp", port=53), "10.0.0.2", "tcp 10.0.0.2:53"),
        (PingCheck(kind="ping"), "10.0.0.2", "ping 10.0.0.2"),
        (PingCheck(kind="ping", address=ADDR), ADDR, f"ping {ADDR}"),
        (
            LogCheck(kind="log", pattern="listening on [0-9]+"),
            "10.0.0.2",
            "log /listening on [0-9]+/",
        ),
        (None, "10.0.0.2", "unit active"),
    ],
)
def test_the_target_is_the_check_s_address_else_the_unikernel_s(check, address, described):
    profile = with_check(check)
    assert health.target_address(profile) == address
    assert health.describe(profile) == described


def test_without_any_address_there_is_nothing_to_probe():
    profile = without_ipv4(with_check(TcpCheck(kind="tcp", port=53)))
    assert health.target_address(profile) is None
    assert health.describe(profile) == "tcp ?:53"


async def test_a_check_with_no_address_fails_without_touching_the_host():
    rec = _Recorder(0)
    for check in (TcpCheck(kind="tcp", port=53), HttpCheck(kind="http", port=80)):
        got = await health.probe(rec, without_ipv4(with_check(check)))  # type: ignore[arg-type]
        assert got == (False, "no address to check")
    got = await health.probe(rec, with_check(LogCheck(kind="log", pattern="x")))  # type: ignore[arg-type]
    assert got == (False, "no address to check")  # a log check is the boot watcher's
    assert rec.runs == []
    await health.forget_mac(rec, without_ipv4(with_check(None)))  # type: ignore[arg-type]
    assert rec.runs == []
