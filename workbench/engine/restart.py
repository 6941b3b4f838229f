"""`workbench restart`: restart the unit on the current release, follow its boot, health check.
For a unikernel that wedged, or to watch a boot again during a demo; nothing is written."""

from __future__ import annotations

from collections.abc import AsyncIterator

from workbench.aio import shielded
from workbench.engine import bootwatch
from workbench.engine.deploy import switch_release
from workbench.engine.locked import locked
from workbench.errors import HealthError, RemoteCommandError
from workbench.events import Event, HostDone, StepFinished
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import HostConnection, Pool


def restart(pool: Pool, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    return locked(pool, loaded, host, "restart", lambda conn: _restart(conn, loaded, host))


async def _restart(conn: HostConnection, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    p = loaded.profile
    current = (
        await conn.run(["readlink", f"{p.release_dir}/current"], check=False, sudo=False)
    ).stdout.strip()
    if not current:
        raise RemoteCommandError(
            f"nothing deployed on {host}: {p.release_dir}/current does not exist",
            f"deploy first: workbench deploy --profile {loaded.name}",
        )
    release = current.rsplit("/", 1)[-1]
    cursor, started = await shielded(
        switch_release(conn, p.release_dir, p.unit_name, release, None, switch=False, profile=p)
    )
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
