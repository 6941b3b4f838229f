"""Follow a unit's journal: classified lines, resumed by cursor after a lost connection, so a
follow survives unit restarts (one journal stream) and SSH reconnects with no line lost or
shown twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from workbench.engine.bootwatch import to_event
from workbench.errors import ConnectError
from workbench.events import Event, StepFinished
from workbench.profiles.loader import LoadedProfile
from workbench.remote import journal
from workbench.remote.connection import Pool


async def follow(
    pool: Pool,
    loaded: LoadedProfile,
    host: str,
    *,
    lines: int | None = 50,
    since: str | None = None,
    follow: bool = True,
    max_retry_delay: float = 10.0,
) -> AsyncIterator[Event]:
    unit = loaded.profile.unit_name
    cursor: str | None = None
    delay = 0.5
    reached = False  # a connection that was never made is not "lost"
    failed = False  # the last attempt failed: say so when one succeeds again
    while True:
        conn = pool.get(host)
        argv = journal.journal_argv(
            unit,
            after_cursor=cursor,
            lines=None if cursor else lines,
            since=None if cursor else since,
            follow=follow,
        )
        try:
            await conn.connection()
            reached = True
            if failed:
                failed = False
                again = " from the last line seen" if cursor else ""
                yield StepFinished(host=host, step="reconnected", detail=f"following again{again}")
            async for entry in journal.entries(conn, argv, after=cursor):
                cursor = entry.cursor
                delay = 0.5
                yield to_event(host, "logs", entry)
            if not follow:
                return
            # journalctl ended while following: the session was closed under us.
            raise ConnectError("journalctl stopped", host=host)
        except ConnectError as exc:
            if not follow:
                raise
            failed = True
            if reached:
                detail = f"connection lost ({exc.message}); resuming in {delay:.1f} s" + (
                    " from the last line seen" if cursor else ""
                )
            else:
                detail = f"cannot reach {host}: {exc.message}; trying again in {delay:.1f} s"
            yield StepFinished(host=host, step="reconnect", detail=detail, hint=exc.hint)
            await pool.get(host).close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_retry_delay)
