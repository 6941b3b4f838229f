"""`workbench stop | start`: take a unikernel down and keep it down across reboots, or bring
it back on its current release (following the boot, health checked). Nothing is written but
the unit's enablement; the release, the unit file and the network stay for `start`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from workbench.engine.locked import Held, locked
from workbench.engine.restart import deployed_release, restarted
from workbench.errors import RemoteCommandError
from workbench.events import Event, HostDone, StepFinished
from workbench.profiles.loader import LoadedProfile
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


def _finished(
    host: str, step: str, changed: bool, detail: str, summary: str, release: str | None = None
) -> list[Event]:
    return [
        StepFinished(host=host, step=step, changed=changed, detail=detail),
        HostDone(
            host=host, step="done", ok=True, changed=changed, release=release, summary=summary
        ),
    ]


async def _stop(held: Held, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    unit = loaded.profile.unit_name
    active, enabled = await _installed(held, loaded, host)
    changed = active not in ("inactive", "failed") or enabled == "enabled"
    if changed:
        await systemd.disable_now(held.conn, unit)
    active, enabled = await _installed(held, loaded, host)
    detail = f"{unit} {active}, {enabled}"
    summary = f"{'stopped' if changed else 'already stopped'}: {detail}; "
    for event in _finished(
        host, "stop", changed, detail, summary + "`workbench start` brings it back"
    ):
        yield event


async def _start(held: Held, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    unit = loaded.profile.unit_name
    active, enabled = await _installed(held, loaded, host)
    release = await deployed_release(held, loaded, host)
    if active == "active" and enabled == "enabled":
        done = _finished(
            host, "start", False, f"{unit} already running", f"already running {release}", release
        )
    elif active == "active":  # running, only not enabled: enabling is all there is to do
        await systemd.enable(held.conn, unit)
        summary = f"enabled {unit}; it was already running {release}"
        done = _finished(host, "start", True, f"{unit} enabled, was running", summary, release)
    else:
        if enabled != "enabled":
            await systemd.enable(held.conn, unit)
        detail = f"{unit} enabled, started ({release})"
        async for event in restarted(held, loaded, host, release, "start", detail):
            yield event
        summary = f"started {release}; healthy"
        done = [
            HostDone(
                host=host, step="done", ok=True, changed=True, release=release, summary=summary
            )
        ]
    for event in done:
        yield event
