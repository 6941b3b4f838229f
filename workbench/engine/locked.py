"""The frame of a one-host operation (deploy, restart, rollback): connect, hold the deploy
lock, and end a WorkbenchError as StepFailed + HostDone."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from workbench.errors import WorkbenchError
from workbench.events import Event, StepFinished, StepStarted, failure
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import HostConnection, Pool
from workbench.remote.lock import RemoteLock


@dataclass
class Held:
    """The connection and the lock a body works under, and where it has got to."""

    conn: HostConnection
    name: str  # the unikernel: names the lock
    step: str
    lock: RemoteLock | None = None
    changed: bool = False
    release: str | None = None
    started_at: float = field(default_factory=time.monotonic)

    async def retake(self) -> None:
        """Take the lock again on a new connection (the old one was dropped on purpose)."""
        if self.lock is not None:
            await self.lock.release()
        self.lock = await RemoteLock.acquire(self.conn, self.name)


async def locked(
    pool: Pool,
    loaded: LoadedProfile,
    host: str,
    step: str,
    body: Callable[[Held], AsyncIterator[Event]],
    *,
    announce: bool = False,
) -> AsyncIterator[Event]:
    """Run `body` on the host under the deploy lock. A failure is reported at the step the body
    has reached (`held.step`), or at "connect"/"lock" before that. With `announce` the connect
    and lock steps are events of their own."""
    conn = pool.get(host)
    held = Held(conn, loaded.profile.unikernel.name, "connect")
    try:
        if announce:
            yield StepStarted(host=host, step="connect")
        await conn.connection()
        h = conn.host
        if announce:
            where = f"{h.user}@{h.address}" + (" (sudo)" if h.use_sudo else "")
            yield StepFinished(host=host, step="connect", changed=False, detail=where)
            yield StepStarted(host=host, step="lock")
        held.step = "lock"
        held.lock = await RemoteLock.acquire(conn, held.name)
        if announce:
            yield StepFinished(host=host, step="lock", changed=False, detail=held.lock.path)
        held.step = step
        async for event in body(held):
            yield event
    except WorkbenchError as exc:
        if not exc.host:
            exc.host = host
        for event in failure(
            host,
            held.step,
            exc,
            seconds=round(time.monotonic() - held.started_at, 3),
            changed=held.changed,
            release=held.release,
        ):
            yield event
    finally:
        if held.lock is not None:
            await held.lock.release()
