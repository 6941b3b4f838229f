"""One asyncssh connection per host, opened on first use under a lock, verified host keys.

Host keys: exactly the profile's known_hosts file is loaded (`hostkeys.load`) and given to
asyncssh, which accepts a trusted key and refuses a revoked one itself. Any other plain key
reaches `_HostKeyCheck.validate_host_public_key`, and the pure policy `hostkeys.verdict`
decides: `--accept-new-host-key` accepts a key only for a host that the file does not mention at
all (no key, CA or revoked line), and appends it; a changed key is always refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from workbench.errors import ConnectError, RemoteCommandError, RemoteTimeout
from workbench.profiles.models import Host
from workbench.remote import ciphers as cipherpref
from workbench.remote import hostkeys

DEFAULT_KNOWN_HOSTS = Path.home() / ".ssh" / "known_hosts"
# sudo in the C locale: its "a password is required" is then the same words on every host (a
# German host says "Ein Passwort ist notwendig"), and what runs under it prints parseable text.
SUDO = ("env", "LC_ALL=C", "sudo", "-n", "--")


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class _HostKeyCheck(asyncssh.SSHClient):
    """asyncssh asks this about a plain host key that is neither trusted nor revoked in the
    known hosts it was given (the same object): the pure policy in `hostkeys` decides."""

    def __init__(
        self, known: asyncssh.SSHKnownHosts, path: Path, host: str, port: int, accept_new: bool
    ) -> None:
        self.known, self.path = known, path
        self.host, self.port = host, port
        self.accept_new = accept_new
        self.presented: asyncssh.SSHKey | None = None
        self.verdict: hostkeys.Verdict | None = None

    def validate_host_public_key(self, host, addr, port, key) -> bool:  # type: ignore[no-untyped-def]
        self.presented = key
        self.verdict = hostkeys.verdict(
            self.known, self.host, addr, self.port, key, accept_new=self.accept_new
        )
        if self.verdict is hostkeys.Verdict.ACCEPT_NEW:
            hostkeys.append(self.path, self.host, self.port, key)
        return self.verdict.accepted


class HostConnection:
    """A lazily opened SSH connection to one profile host, with command helpers."""

    def __init__(
        self, name: str, host: Host, pool: Pool | None = None, *, accept_new_host_key: bool = False
    ) -> None:
        self.name = name
        self.host = host
        self.pool = pool
        self.accept_new_host_key = accept_new_host_key
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()
        # What the host runs, when known before connecting (remote/ciphers.py): set by a deploy
        # of a given artifact; a connection already open (a build's) keeps its cipher.
        self.arch: str | None = None

    @property
    def known_hosts(self) -> Path:
        return self.host.known_hosts or DEFAULT_KNOWN_HOSTS

    async def connection(self) -> asyncssh.SSHClientConnection:
        deadline = self._deadline()
        try:
            async with asyncio.timeout(deadline):
                async with self._lock:
                    if self._conn is None or self._conn.is_closed():
                        self._conn = await self._connect()
                    return self._conn
        except TimeoutError:
            raise ConnectError(
                f"{self.host.user}@{self.host.address}:{self.host.port}: not connected within "
                f"{deadline:.0f} s",
                "is the host (and any jump host) up and reachable?",
                host=self.name,
            ) from None

    def _deadline(self) -> float:
        """connect_timeout of this host and every jump host before it, plus slack per hop.
        The chain is followed at most as many hops as the pool has hosts (cycles are refused
        when the profile loads; this bounds it anyway)."""
        total, host, hops = 0.0, self.host, 0
        limit = len(self.pool.hosts) if self.pool is not None else 0
        while True:
            total += host.connect_timeout + 5
            jump = self.pool.hosts.get(host.jump) if self.pool and host.jump else None
            if jump is None or hops >= limit:
                return total
            host, hops = jump, hops + 1

    async def _connect(self) -> asyncssh.SSHClientConnection:
        h = self.host
        tunnel = None
        if h.jump is not None:
            if self.pool is None:
                raise ConnectError(f"{self.name}: jump host '{h.jump}' needs a connection pool")
            tunnel = await self.pool.get(h.jump).connection()
        known = hostkeys.load(self.known_hosts)  # exactly this file, never asyncssh's defaults
        checker = _HostKeyCheck(
            known, self.known_hosts, h.address, h.port, self.accept_new_host_key
        )
        options: dict[str, object] = {
            "port": h.port,
            "username": h.user,
            "known_hosts": known,
            "connect_timeout": h.connect_timeout,
            "keepalive_interval": 15,
            "keepalive_count_max": 3,
            "client_factory": lambda: checker,
        }
        if tunnel is not None:
            options["tunnel"] = tunnel
        if h.identity_file is not None:
            options["client_keys"] = [str(h.identity_file)]
        if not h.agent:
            options["agent_path"] = None
        if h.passphrase_env:
            options["passphrase"] = os.environ.get(h.passphrase_env)
        if self.arch and (
            first := cipherpref.cipher_preference(self.arch, cipherpref.ssh_config_text())
        ):
            options["encryption_algs"] = first
        where = f"{h.user}@{h.address}:{h.port}"
        try:
            return await asyncssh.connect(h.address, **options)
        except asyncssh.HostKeyNotVerifiable as exc:
            raise self._host_key_error(checker, str(exc.reason)) from None
        except asyncssh.PermissionDenied as exc:
            raise ConnectError(
                f"{where}: authentication failed ({exc.reason})",
                "check identity_file/agent in the profile and the user's authorized_keys",
                host=self.name,
            ) from None
        except asyncssh.KeyImportError as exc:
            raise ConnectError(
                f"cannot load the SSH key {h.identity_file}: {exc}",
                "set passphrase_env for an encrypted key, or check the file",
                host=self.name,
            ) from None
        except TimeoutError:
            raise ConnectError(
                f"{where}: no answer within {h.connect_timeout:.0f} s",
                "is the host up and reachable? (ping it; check address/port in the profile)",
                host=self.name,
            ) from None
        except (OSError, asyncssh.Error) as exc:
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
            port = h.port if h.port != 22 else None
            if "host key" in str(reason) and known.match(h.address, h.address, port)[1]:
                # A CA is trusted for this host: asyncssh offers only certificate algorithms.
                raise ConnectError(
                    f"{where}: {self.known_hosts} trusts an @cert-authority for this host, and "
                    "the host presents no certificate signed by it",
                    "the host's key is not the one its CA vouches for: compare the fingerprint "
                    "on its console; never add a plain key for a CA-managed host",
                    host=self.name,
                ) from None
            raise ConnectError(
                f"{where}: cannot connect: {reason}",
                "is sshd running there and the address right? `ssh "
                f"{'-p ' + str(h.port) + ' ' if h.port != 22 else ''}{h.user}@{h.address}` "
                "should work",
                host=self.name,
            ) from None

    def _host_key_error(self, checker: _HostKeyCheck, reason: str) -> ConnectError:
        h = self.host
        key = checker.presented
        fingerprint = key.get_fingerprint("sha256") if key else "(unknown)"
        algorithm = key.get_algorithm() if key else "?"
        if checker.verdict is hostkeys.Verdict.REVOKED or (
            key is None and "revoked" in reason.lower()
        ):
            return ConnectError(
                f"the host key of {h.address} is REVOKED in {self.known_hosts}",
                "the host presents a key marked @revoked: do not connect until its owner "
                "installs a new host key; then compare the fingerprint on its console",
                host=self.name,
            )
        if checker.verdict is hostkeys.Verdict.CHANGED:
            return ConnectError(
                f"the host key of {h.address} has CHANGED: it now presents {algorithm} "
                f"{fingerprint}, which does not match {self.known_hosts}",
                "if the host was reinstalled, check the new fingerprint on its console "
                "(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and replace the old line: "
                f"ssh-keygen -R {hostkeys.pattern(h.address, h.port)} -f {self.known_hosts}; "
                "otherwise someone may be intercepting the connection",
                host=self.name,
            )
        return ConnectError(
            f"unknown host key for {h.address}: {algorithm} {fingerprint} "
            f"(not in {self.known_hosts})",
            "compare it with the host's own (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on "
            "its console), then rerun with --accept-new-host-key to add it",
            host=self.name,
        )

    def _argv(self, argv: Sequence[str], sudo: bool | None) -> str:
        use_sudo = self.host.use_sudo if sudo is None else sudo
        words = [*SUDO, *argv] if use_sudo else list(argv)
        return shlex.join(words)

    def invalidate(self) -> None:
        """Forget a connection that failed mid-operation: the next call reconnects."""
        self._conn = None

    async def start_process(
        self, argv: Sequence[str], *, sudo: bool | None = None, what: str
    ) -> asyncssh.SSHClientProcess[str]:
        """A long-lived remote process (a lock holder, `journalctl -f`), its output as text
        that is not ours: bytes it cannot decode are replaced. The caller closes it."""
        conn = await self.connection()
        try:
            return await conn.create_process(
                self._argv(argv, sudo), encoding="utf-8", errors="replace"
            )
        except (OSError, asyncssh.Error) as exc:
            self.invalidate()
            raise ConnectError(f"cannot start {what}: {exc}", host=self.name) from None

    async def run(
        self,
        argv: Sequence[str],
        *,
        input: str | bytes | None = None,
        timeout: float = 60,
        check: bool = True,
        sudo: bool | None = None,
        what: str | None = None,
    ) -> Result:
        """Run an argv list (never a formatted shell string) with a deadline."""
        conn = await self.connection()
        command = self._argv(argv, sudo)
        label = what or shlex.join(argv)
        try:
            status, out, err = await asyncio.wait_for(_bounded(conn, command, input), timeout)
        except TimeoutError:
            raise RemoteTimeout(
                f"{label}: no answer within {timeout:.0f} s",
                "the host may be overloaded or the command stuck",
                host=self.name,
            ) from None
        except _TooMuch:
            raise RemoteCommandError(
                f"{label}: the host answered with more than {MAX_OUTPUT >> 20} MiB",
                "a broken or hostile host: check what that command prints there",
                host=self.name,
            ) from None
        except (OSError, asyncssh.Error) as exc:
            self.invalidate()
            raise ConnectError(
                f"connection lost while running {label}: {exc}",
                "check the network to the host and retry",
                host=self.name,
            ) from None
        stdout = out.decode(errors="replace")
        stderr = err.decode(errors="replace")
        result = Result(tuple(argv), status, stdout, stderr)
        sudo_error = self.sudo_error(stderr)
        if sudo_error is not None:
            raise sudo_error
        if check and status != 0:
            tail = (stderr.strip() or stdout.strip()).splitlines()[-3:]
            raise RemoteCommandError(
                f"{label} failed (exit {status}): {' / '.join(tail) or 'no output'}",
                host=self.name,
            )
        return result

    def sudo_error(self, stderr: str) -> ConnectError | None:
        """The error for a `sudo -n` that wants a password, if that is what stderr says."""
        if (
            "sudo: a password is required" not in stderr
            and "sudo: a terminal is required" not in stderr
        ):
            return None
        return ConnectError(
            f"sudo on {self.host.address} wants a password for {self.host.user}",
            f"allow passwordless sudo (e.g. '{self.host.user} ALL=(root) NOPASSWD: ALL' in "
            "/etc/sudoers.d/workbench) or connect as root",
            host=self.name,
        )

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError, OSError, asyncssh.Error):
                await asyncio.wait_for(self._conn.wait_closed(), 5)
            self._conn = None


MAX_OUTPUT = 16 << 20  # a command's stdout or stderr; past that the host is broken or hostile


class _TooMuch(Exception):
    pass


async def _bounded(
    conn: asyncssh.SSHClientConnection, command: str, input: str | bytes | None
) -> tuple[int, bytes, bytes]:
    """Run `command`; its exit status, stdout and stderr, each read up to MAX_OUTPUT (a host
    that says more cannot make us hold it all). The remote process is closed however this
    ends, cancellation included."""
    proc = await conn.create_process(command, encoding=None)
    try:
        if input is not None:
            proc.stdin.write(input.encode() if isinstance(input, str) else input)
        proc.stdin.write_eof()

        async def drain(stream: asyncssh.SSHReader[bytes]) -> bytes:
            buf = bytearray()
            while chunk := await stream.read(1 << 16):
                buf += chunk
                if len(buf) > MAX_OUTPUT:
                    raise _TooMuch
            return bytes(buf)

        out, err = await asyncio.gather(drain(proc.stdout), drain(proc.stderr))
        await proc.wait_closed()
        status = proc.exit_status
        return (status if status is not None else 255), out, err
    finally:
        proc.close()


class Pool:
    """Connections by profile host name; a jump host is connected once and shared."""

    def __init__(self, hosts: dict[str, Host], *, accept_new_host_key: bool = False) -> None:
        self.hosts = hosts
        self.accept_new_host_key = accept_new_host_key
        self._conns: dict[str, HostConnection] = {}

    def get(self, name: str) -> HostConnection:
        if name not in self._conns:
            self._conns[name] = HostConnection(
                name, self.hosts[name], self, accept_new_host_key=self.accept_new_host_key
            )
        return self._conns[name]

    def expect_arch(self, names: Sequence[str], arch: str) -> None:
        """What these hosts run (an artifact for `arch` is about to go to them): a connection
        opened after this picks its cipher for that (remote/ciphers.py)."""
        for name in names:
            self.get(name).arch = arch

    async def close(self) -> None:
        for conn in reversed(list(self._conns.values())):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.close(), 10)
