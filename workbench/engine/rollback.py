"""`workbench rollback`: back to the release that ran before, restart, health check."""

from __future__ import annotations

from collections.abc import AsyncIterator

from workbench.aio import shielded
from workbench.engine import bootwatch
from workbench.engine.locked import Held, locked
from workbench.engine.switch import UNIT_RUNS_ONE, runtime_clash, switch_and_restart
from workbench.errors import HealthError, RemoteCommandError
from workbench.events import Event, HostDone, RolledBack, StepFinished
from workbench.profiles.loader import LoadedProfile
from workbench.remote import release as releases
from workbench.remote.connection import Pool


def rollback(pool: Pool, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    return locked(pool, loaded, host, "rollback", lambda held: _rollback(held, loaded, host))


async def _rollback(held: Held, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    p, conn = loaded.profile, held.conn
    current, previous, on_host = await releases.pointers(conn, p.release_dir)
    if not previous or previous not in on_host:
        others = [r for r in on_host if r != current]
        raise RemoteCommandError(
            f"no previous release to roll back to on {host} (current: {current or 'none'})",
            "rollback returns to the release the current one replaced, and none did: deploy "
            "a new release first" + (f" (kept there too: {', '.join(others)})" if others else ""),
        )
    clash = await runtime_clash(conn, p, previous, current)
    if clash:
        raise RemoteCommandError(
            f"not rolling back: {clash}; {UNIT_RUNS_ONE}",
            f"deploy {previous}'s artifact again (`workbench deploy --artifact FILE`): "
            "the unit follows the artifact's runtime",
        )
    cursor, started = await shielded(switch_and_restart(conn, p, previous, current))
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
