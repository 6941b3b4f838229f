"""`workbench restart`: restart the unit on the current release, follow its boot, health check.
For a unikernel that wedged, or to watch a boot again during a demo; nothing is written."""

from __future__ import annotations

from collections.abc import AsyncIterator

from workbench.aio import shielded
from workbench.engine import bootwatch
from workbench.engine.locked import Held, locked
from workbench.engine.switch import switch_and_restart
from workbench.errors import HealthError, RemoteCommandError
from workbench.events import Event, HostDone, StepFinished
from workbench.profiles.loader import LoadedProfile
from workbench.remote import release as releases
from workbench.remote.connection import Pool


def restart(pool: Pool, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    return locked(pool, loaded, host, "restart", lambda held: _restart(held, loaded, host))


async def _restart(held: Held, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    p, conn = loaded.profile, held.conn
    current = await releases.current(conn, p.release_dir)
    if not current:
        raise RemoteCommandError(
            f"nothing deployed on {host}: {p.release_dir}/current does not exist",
            f"deploy first: workbench deploy --profile {loaded.name}",
        )
    release = current
    cursor, started = await shielded(switch_and_restart(conn, p, release, None, switch=False))
    yield StepFinished(
        host=host, step="restart", changed=True, detail=f"{p.unit_name} restarted ({release})"
    )
    outcome = bootwatch.Outcome()
    async for event in bootwatch.watch(
        conn, p, p.unit_name, cursor, outcome, started, step="restart"
    ):
        yield event
    if not outcome.ok:
        raise HealthError(
            f"{release} is not healthy after a restart: {outcome.reason}", outcome.hint
        )
    yield HostDone(
        host=host,
        step="done",
        ok=True,
        changed=True,
        release=release,
        summary=f"restarted {release}; healthy",
    )
