"""Switch the release and restart the unit: the step deploy, restart and rollback share."""

from __future__ import annotations

from workbench.engine import health
from workbench.profiles.models import Profile
from workbench.remote import release, systemd
from workbench.remote.connection import HostConnection


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
