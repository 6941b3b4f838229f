"""The host-key policy, as a pure decision over what one known_hosts file says about a host.

- The file is the profile's `known_hosts` (default `~/.ssh/known_hosts`) and only that file. A
  missing file means "no keys known from it", never a silent switch to other files (asyncssh
  reads its default files when given no known_hosts at all).
- A host is *known* when any line matches it: a plain key, an `@cert-authority` line or an
  `@revoked` line. A key that is not one of its trusted keys is then *changed*: always refused,
  whatever `--accept-new-host-key` says.
- A revoked key is refused.
- Only a host nothing matches is *unknown*; with the opt-in its key is accepted and appended.
"""

from __future__ import annotations

import enum
from pathlib import Path

import asyncssh

from workbench.errors import ConnectError


class Verdict(enum.Enum):
    TRUSTED = "trusted"
    ACCEPT_NEW = "accept-new"  # unknown host, the user opted in: accept and record
    UNKNOWN = "unknown"
    CHANGED = "changed"
    REVOKED = "revoked"

    @property
    def accepted(self) -> bool:
        return self in (Verdict.TRUSTED, Verdict.ACCEPT_NEW)


def load(path: Path) -> asyncssh.SSHKnownHosts:
    """The known hosts of exactly this file; an empty set when it does not exist."""
    if not path.exists():
        return asyncssh.import_known_hosts("")
    try:
        return asyncssh.read_known_hosts(str(path))
    except (OSError, ValueError, asyncssh.KeyImportError) as exc:
        raise ConnectError(
            f"cannot read the known hosts file {path}: {exc}",
            f"fix or remove the bad line in {path} (ssh-keygen -F HOST -f {path} shows a host's)",
        ) from None


def verdict(
    known: asyncssh.SSHKnownHosts,
    host: str,
    addr: str,
    port: int,
    key: asyncssh.SSHKey,
    *,
    accept_new: bool,
) -> Verdict:
    trusted, cas, revoked, *x509 = known.match(host, addr, port if port != 22 else None)
    if port != 22:
        # asyncssh retries without the port when no trusted key matches it, and so drops a
        # port-specific @revoked line; look those up as exact "[name]:port" entries.
        revoked = [*revoked]
        for name in {host, addr}:
            revoked += known.match(f"[{name}]:{port}", "", None)[2]
    if key in revoked:
        return Verdict.REVOKED
    if key in trusted:
        return Verdict.TRUSTED
    if trusted or cas or revoked or any(x509):
        return Verdict.CHANGED
    return Verdict.ACCEPT_NEW if accept_new else Verdict.UNKNOWN


def pattern(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def append(path: Path, host: str, port: int, key: asyncssh.SSHKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = f"{pattern(host, port)} {key.export_public_key('openssh').decode().strip()}\n"
    with path.open("a") as fh:
        fh.write(line)
