"""Switch the release and restart the unit: the step deploy, restart and rollback share."""

from __future__ import annotations

from workbench.engine import health
from workbench.profiles.models import Profile
from workbench.remote import release, systemd
from workbench.remote.connection import HostConnection

UNIT_RUNS_ONE = (
    "the unit runs one tender, so it cannot switch between releases of different runtimes"
)


async def switch_and_restart(
    conn: HostConnection,
    profile: Profile,
    rid: str,
    old: str | None,
    *,
    switch: bool = True,
    restart: bool = True,
) -> tuple[str | None, int | None]:
    """Point `current` at RID (`previous` at OLD), then restart the unit. Returns the journal
    cursor from before the restart and the unit's start time, for following its boot. Callers
    run this shielded: Ctrl-C leaves the host on one release or the other, never between."""
    if switch:
        await release.switch_current(conn, profile.release_dir, rid, old)
    if not restart:
        return None, None
    cursor, started = await systemd.restart(conn, profile.unit_name)
    await health.forget_mac(conn, profile)
    return cursor, started


async def runtime_clash(conn: HostConnection, profile: Profile, to: str, now: str) -> str | None:
    """Why release TO cannot take over from NOW under the installed unit, or None. The unit
    execs current/solo5-TARGET: a release made for another runtime lacks that file."""
    held = await release.tenders(conn, profile.release_dir, to, now)
    if held[to] == held[now] or not held[to] or not held[now]:
        return None
    return f"{to} runs under {held[to]} and {now} under {held[now]}"
