"""systemd verbs on a host: the only place that builds a systemctl command line."""

from __future__ import annotations

from workbench.remote.connection import HostConnection
from workbench.remote.journal import current_cursor, unit_start_monotonic


async def daemon_reload(conn: HostConnection) -> None:
    await conn.run(["systemctl", "daemon-reload"], what="systemctl daemon-reload")


async def enable(conn: HostConnection, unit: str) -> None:
    await conn.run(["systemctl", "enable", unit], what="enabling the unit")


async def enable_now(conn: HostConnection, unit: str, what: str) -> None:
    await conn.run(["systemctl", "enable", "--now", unit], timeout=60, what=what)


async def stop(conn: HostConnection, unit: str, what: str) -> None:
    await conn.run(["systemctl", "stop", unit], timeout=30, what=what)


async def disable_now(conn: HostConnection, unit: str) -> None:
    """Stop the unit and keep it stopped across reboots."""
    await conn.run(["systemctl", "disable", "--now", unit], timeout=60, what=f"stopping {unit}")


async def unit_state(conn: HostConnection, unit: str) -> tuple[str, str, str]:
    """(LoadState, ActiveState, UnitFileState): 'not-found' as the first for no such unit."""
    result = await conn.run(
        ["systemctl", "show", "-P", "LoadState,ActiveState,UnitFileState", unit],
        check=False,
        sudo=False,
        what=f"systemctl show {unit}",
    )
    values = [*result.stdout.split("\n")[:3], "", "", ""]
    return values[0].strip(), values[1].strip(), values[2].strip()


async def is_active(conn: HostConnection, unit: str) -> str:
    result = await conn.run(["systemctl", "is-active", unit], check=False, sudo=False)
    return result.stdout.strip()


async def restart(conn: HostConnection, unit: str) -> tuple[str | None, int | None]:
    """Restart the unit afresh. Returns the journal cursor from before the restart and the
    unit's start time (CLOCK_MONOTONIC microseconds), to follow exactly this boot."""
    cursor = await current_cursor(conn)
    # reset-failed first: the unit's start limit is there to stop a crash loop, not to refuse
    # the sixth deploy, restart or rollback in a minute ("Start request repeated too quickly").
    await conn.run(
        [
            "sh",
            "-c",
            'systemctl reset-failed "$1" 2>/dev/null; exec systemctl restart "$1"',
            "workbench-restart",
            unit,
        ],
        timeout=60,
        what=f"systemctl restart {unit}",
    )
    return cursor, await unit_start_monotonic(conn, unit)
