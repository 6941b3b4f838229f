"""`workbench stop | start`: take a unikernel down and keep it down across reboots, or bring
it back on its current release (following the boot, health checked). Nothing is written but
the unit's enablement; the release, the unit file and the network stay for `start`."""

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
from workbench.remote import systemd
from workbench.remote.connection import Pool


def stop(pool: Pool, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    return locked(pool, loaded, host, "stop", lambda held: _stop(held, loaded, host))


def start(pool: Pool, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    return locked(pool, loaded, host, "start", lambda held: _start(held, loaded, host))


async def _installed(held: Held, loaded: LoadedProfile, host: str) -> tuple[str, str]:
    """The unit's ActiveState and UnitFileState; an error if it was never deployed here."""
    unit = loaded.profile.unit_name
    load, active, enabled = await systemd.unit_state(held.conn, unit)
    if load != "loaded":
        raise RemoteCommandError(
            f"{unit} is not installed on {host} (systemd says {load or 'nothing'})",
            f"deploy first: workbench deploy --profile {loaded.name}",
        )
    return active, enabled


async def _stop(held: Held, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    unit = loaded.profile.unit_name
    active, enabled = await _installed(held, loaded, host)
    changed = active not in ("inactive", "failed") or enabled == "enabled"
    if changed:
        await systemd.disable_now(held.conn, unit)
    active, enabled = await _installed(held, loaded, host)
    detail = f"{unit} {active}, {enabled}"
    yield StepFinished(host=host, step="stop", changed=changed, detail=detail)
    summary = "stopped" if changed else "already stopped"
    yield HostDone(
        host=host,
        step="done",
        ok=True,
        changed=changed,
        summary=f"{summary}: {detail}; `workbench start` brings it back",
    )


async def _start(held: Held, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    p, conn = loaded.profile, held.conn
    active, enabled = await _installed(held, loaded, host)
    release = await releases.current(conn, p.release_dir)
    if not release:
        raise RemoteCommandError(
            f"nothing deployed on {host}: {p.release_dir}/current does not exist",
            f"deploy first: workbench deploy --profile {loaded.name}",
        )
    if active == "active" and enabled == "enabled":
        yield StepFinished(
            host=host, step="start", changed=False, detail=f"{p.unit_name} already running"
        )
        yield HostDone(
            host=host,
            step="done",
            ok=True,
            changed=False,
            release=release,
            summary=f"already running {release}",
        )
        return
    if enabled != "enabled":
        await systemd.enable(conn, p.unit_name)
    if active == "active":  # running, only not enabled: enabling is all there is to do
        yield StepFinished(
            host=host, step="start", changed=True, detail=f"{p.unit_name} enabled, was running"
        )
        yield HostDone(
            host=host,
            step="done",
            ok=True,
            changed=True,
            release=release,
            summary=f"enabled {p.unit_name}; it was already running {release}",
        )
        return
    cursor, started = await shielded(switch_and_restart(conn, p, release, None, switch=False))
    yield StepFinished(
        host=host, step="start", changed=True, detail=f"{p.unit_name} enabled, started ({release})"
    )
    outcome = bootwatch.Outcome()
    async for event in bootwatch.watch(
        conn, p, p.unit_name, cursor, outcome, started, step="start"
    ):
        yield event
    if not outcome.ok:
        raise HealthError(f"{release} is not healthy after a start: {outcome.reason}", outcome.hint)
    yield HostDone(
        host=host,
        step="done",
        ok=True,
        changed=True,
        release=release,
        summary=f"started {release}; healthy",
    )
