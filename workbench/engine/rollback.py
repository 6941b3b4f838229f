"""`workbench rollback`: back to the release that ran before, restart, health check."""

from __future__ import annotations

from collections.abc import AsyncIterator

from workbench.aio import shielded
from workbench.engine import bootwatch
from workbench.engine.deploy import switch_release
from workbench.engine.locked import locked
from workbench.errors import HealthError, RemoteCommandError
from workbench.events import Event, HostDone, RolledBack, StepFinished
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import HostConnection, Pool

RELEASES_SCRIPT = (
    'echo "current=$(readlink "$1/current")"; echo "previous=$(readlink "$1/previous")"; '
    'echo "releases=$(ls -1 "$1/releases" 2>/dev/null | grep -v "^[.]" | tr "\\n" " ")"'
)


def rollback(pool: Pool, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    return locked(pool, loaded, host, "rollback", lambda conn: _rollback(conn, loaded, host))


async def _rollback(conn: HostConnection, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    p = loaded.profile
    out = await conn.run(
        ["sh", "-c", RELEASES_SCRIPT, "workbench-releases", p.release_dir],
        what="reading releases",
    )
    info = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    current = info.get("current", "").rsplit("/", 1)[-1]
    previous = info.get("previous", "").rsplit("/", 1)[-1]
    releases = info.get("releases", "")
    if not previous or previous not in releases.split():
        raise RemoteCommandError(
            f"no previous release to roll back to (current: {current or 'none'})",
            f"releases on the host: {releases.strip() or 'none'}",
        )
    cursor, started = await shielded(
        switch_release(conn, p.release_dir, p.unit_name, previous, current, profile=p)
    )
    yield StepFinished(
        host=host,
        step="rollback",
        changed=True,
        detail=f"current -> {previous} (was {current}); restarted",
    )
    outcome = bootwatch.Outcome()
    async for event in bootwatch.watch(
        conn, p, p.unit_name, cursor, outcome, started, step="rollback"
    ):
        yield event
    yield RolledBack(
        host=host,
        step="rollback",
        from_release=current,
        to_release=previous,
        reason="requested",
    )
    if not outcome.ok:
        raise HealthError(f"{previous} is not healthy either: {outcome.reason}", outcome.hint)
    yield HostDone(
        host=host,
        step="done",
        ok=True,
        changed=True,
        release=previous,
        summary=f"rolled back to {previous}",
    )
