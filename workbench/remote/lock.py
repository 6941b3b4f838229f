"""The per-host deploy lock: one unikernel's deploy, restart or rollback at a time."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from workbench.errors import RemoteCommandError
from workbench.remote.connection import HostConnection

LOCK_DIR = "/run/workbench"


async def _read_up_to(stream: Any, size: int) -> str:  # an asyncssh reader
    """At most `size` characters: what arrives before that many, or end of file."""
    text = ""
    while len(text) < size and (chunk := await stream.read(size - len(text))):
        text += chunk
    return text


class RemoteLock:
    """A per-host lock: flock held by a remote process for as long as our channel lives.

    If this process dies or the connection drops, sshd ends the holder and the lock is free.
    """

    def __init__(self, process: object, path: str) -> None:
        self.process = process
        self.path = path

    @classmethod
    async def acquire(cls, conn: HostConnection, name: str) -> RemoteLock:
        # Not /run/lock: it is world-writable, so any local user could create the lock file
        # first and hold it. /run/workbench is made by root, mode 0700.
        path = f"{LOCK_DIR}/{name}.lock"
        script = 'mkdir -p -m 0700 "$1" && exec flock -n -E 75 "$2" sh -c "echo locked; exec cat"'
        argv = ["sh", "-c", script, "workbench-lock", LOCK_DIR, path]
        # No more than the few bytes of "locked" are waited for.
        process = await conn.start_process(argv, what="the deploy lock")
        try:
            first = await asyncio.wait_for(_read_up_to(process.stdout, len("locked\n")), 30)
        except TimeoutError:
            process.close()
            raise RemoteCommandError(
                f"could not take the deploy lock {path}: no answer in 30 s",
                "is the host overloaded, or sudo slow (host name lookup)?",
            ) from None
        if first.strip() != "locked":
            # Bounded: a host that floods the channel never lets it close (flow control).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait_closed(), 5)
            code = process.exit_status
            try:
                stderr = await asyncio.wait_for(process.stderr.read(4096), 5)
            except TimeoutError:
                stderr = ""
            process.close()
            sudo_error = conn.sudo_error(stderr)
            if sudo_error is not None:
                raise sudo_error
            if code == 75:
                raise RemoteCommandError(
                    f"another deploy of '{name}' is running on this host (lock {path})",
                    "wait for it to finish; the lock is released when it ends or disconnects",
                )
            raise RemoteCommandError(
                f"could not take the deploy lock {path} (exit {code}): {stderr.strip()[-200:]}",
                "is util-linux (flock) installed on the host?",
            )
        return cls(process, path)

    async def release(self) -> None:
        process = self.process
        # The channel may already be gone, and the lock with it.
        with contextlib.suppress(Exception):
            process.stdin.write_eof()  # type: ignore[attr-defined]
        process.close()  # type: ignore[attr-defined]
