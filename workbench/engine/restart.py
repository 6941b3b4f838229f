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
    release = await deployed_release(held, loaded, host)
    detail = f"{loaded.profile.unit_name} restarted ({release})"
    async for event in restarted(held, loaded, host, release, "restart", detail):
        yield event
    yield HostDone(
        host=host,
        step="done",
        ok=True,
        changed=True,
        release=release,
        summary=f"restarted {release}; healthy",
    )


async def deployed_release(held: Held, loaded: LoadedProfile, host: str) -> str:
    """The release `current` points at; an error saying to deploy first when there is none."""
    p = loaded.profile
    current = await releases.current(held.conn, p.release_dir)
    if not current:
        raise RemoteCommandError(
            f"nothing deployed on {host}: {p.release_dir}/current does not exist",
            f"deploy first: workbench deploy --profile {loaded.name}",
        )
    return current


async def restarted(
    held: Held, loaded: LoadedProfile, host: str, release: str, step: str, detail: str
) -> AsyncIterator[Event]:
    """Restart the unit on `release` (shielded), then follow its boot to a health verdict;
    an unhealthy one is a HealthError that says after what (`step`)."""
    p, conn = loaded.profile, held.conn
    cursor, started = await shielded(switch_and_restart(conn, p, release, None, switch=False))
    yield StepFinished(host=host, step=step, changed=True, detail=detail)
    outcome = bootwatch.Outcome()
    async for event in bootwatch.watch(conn, p, p.unit_name, cursor, outcome, started, step=step):
        yield event
    if not outcome.ok:
        raise HealthError(
            f"{release} is not healthy after a {step}: {outcome.reason}", outcome.hint
        )
