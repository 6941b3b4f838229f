"""The frame of a one-host operation that restarts the unikernel (restart, rollback):
connect, hold the deploy lock, and end a WorkbenchError as StepFailed + HostDone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from workbench.errors import WorkbenchError
from workbench.events import Event, failure
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import HostConnection, Pool
from workbench.remote.lock import RemoteLock


async def locked(
    pool: Pool,
    loaded: LoadedProfile,
    host: str,
    step: str,
    body: Callable[[HostConnection], AsyncIterator[Event]],
) -> AsyncIterator[Event]:
    """Run `body` on the host under the deploy lock; a failure is reported at `step` (or at
    "connect" when it came before the lock was held)."""
    conn = pool.get(host)
    lock = None
    at = "connect"
    try:
        await conn.connection()
        lock = await RemoteLock.acquire(conn, loaded.profile.unikernel.name)
        at = step
        async for event in body(conn):
            yield event
    except WorkbenchError as exc:
        for event in failure(host, at, exc):
            yield event
    finally:
        if lock is not None:
            await lock.release()
