"""Follow a unit's journal from a restart: classified log lines, boot phases, and the first
sign of failure; probe health at the same time, and stop at the first clear answer."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from workbench import bootlog, runwatch
from workbench.engine import health
from workbench.errors import WorkbenchError
from workbench.events import BootPhase, Event, HealthResult, LogLine
from workbench.profiles.models import LogCheck, Profile
from workbench.remote import journal
from workbench.remote.connection import HostConnection


@dataclass
class Outcome:
    ok: bool = False
    reason: str = ""
    hint: str | None = None
    phases: dict[str, float] | None = None
    health_seconds: float | None = None
    before_start: bool = False  # the tender died before the unikernel started


def to_event(host: str, step: str, entry: journal.JournalEntry) -> LogLine:
    if entry.from_systemd:
        level = "error" if entry.priority <= 3 else "info"
        return LogLine(
            host=host,
            step=step,
            kind="systemd",
            level=level,
            text=entry.message,
            source="systemd",
            cursor=entry.cursor,
            time=entry.realtime_us / 1e6,
            origin="systemd",
        )
    line = bootlog.classify(entry.message)
    return LogLine(
        host=host,
        step=step,
        kind=line.kind,
        level=line.level,
        text=line.text,
        source=line.source,
        hint=line.hint,
        cursor=entry.cursor,
        time=entry.realtime_us / 1e6,
    )


async def watch(
    conn: HostConnection,
    profile: Profile,
    unit: str,
    cursor: str | None,
    outcome: Outcome,
    started_us: int | None = None,
    *,
    step: str = "boot",
) -> AsyncIterator[Event]:
    """Yield events until the unikernel is healthy, has failed, or the health timeout passes."""
    host = conn.name
    check = profile.health
    timeout = check.timeout if check is not None else 15.0
    pattern = re.compile(check.pattern) if isinstance(check, LogCheck) else None
    queue: asyncio.Queue[Event | None] = asyncio.Queue()
    # Times are the host's CLOCK_MONOTONIC (journal __MONOTONIC_TIMESTAMP and systemd's
    # ExecMainStartTimestampMonotonic): exact, and immune to a Pi without a real-time clock.
    started = started_us / 1e6 if started_us else None
    phases = bootlog.BootPhases(started_at=started)
    state: dict[str, object] = {}
    run = runwatch.RunWatch(unit=unit)

    async def follow() -> None:
        argv = (
            journal.journal_argv(unit, after_cursor=cursor)
            if cursor
            else journal.journal_argv(unit, lines=0)
        )
        async for entry in journal.entries(conn, argv):
            event = to_event(host, step, entry)
            await queue.put(event)
            when = entry.monotonic_us / 1e6
            if started is not None and when < started:
                continue  # the previous run stopping, before our restart started the unit
            if entry.from_systemd:
                run.feed_systemd(entry.message)
                continue
            line = bootlog.classify(entry.message)
            run.feed(line)
            phase = phases.feed(line, when)
            if phase is not None:
                origin = phases.started_at if phases.started_at is not None else when
                await queue.put(
                    BootPhase(host=host, step=step, phase=phase, seconds=round(when - origin, 3))
                )
            if pattern is not None and pattern.search(entry.message):
                state["log_match"] = entry.message

    async def probe() -> None:
        start = time.monotonic()
        attempts = 0
        target = health.describe(profile)
        while True:
            await asyncio.sleep(0.2)
            elapsed = time.monotonic() - start
            if run.reason is not None:
                if run.before_start and run.short == "tender aborted":
                    # systemd's exit line (with the signal) follows the tender's last words.
                    for _ in range(10):
                        await asyncio.sleep(0.05)
                        if run.short != "tender aborted":
                            break
                reason = run.reason
                outcome.reason, outcome.hint = reason, run.hint
                outcome.before_start = run.before_start
                await queue.put(
                    HealthResult(
                        host=host,
                        step="health",
                        ok=False,
                        target=target,
                        detail=str(reason),
                        seconds=round(elapsed, 3),
                        attempts=attempts,
                    )
                )
                return
            if check is None:
                ok, detail = elapsed > 2, "unit still running after 2 s"
            elif pattern is not None:
                ok, detail = "log_match" in state, f"log line matched: {state.get('log_match')}"
            else:
                attempts += 1
                ok, detail = await health.probe(conn, profile)
            if ok:
                outcome.ok, outcome.health_seconds = True, round(elapsed, 3)
                # The journal reaches us a little after the guest answers; let the boot lines
                # and phases arrive first so the report reads in the order things happened.
                for _ in range(10):
                    if phases.reached:
                        break
                    await asyncio.sleep(0.1)
                await queue.put(
                    HealthResult(
                        host=host,
                        step="health",
                        ok=True,
                        target=target,
                        detail=detail,
                        seconds=round(elapsed, 3),
                        attempts=attempts,
                    )
                )
                return
            if elapsed > timeout:
                outcome.reason = f"not healthy after {timeout:.0f} s ({target}: {detail})"
                outcome.hint = "see the log lines above; `workbench logs` shows more"
                await queue.put(
                    HealthResult(
                        host=host,
                        step="health",
                        ok=False,
                        target=target,
                        detail=outcome.reason,
                        seconds=round(elapsed, 3),
                        attempts=attempts,
                    )
                )
                return
            await asyncio.sleep(0.3)

    async def run_probe() -> None:
        try:
            await probe()
        finally:
            await queue.put(None)

    follower = asyncio.create_task(follow())
    prober = asyncio.create_task(run_probe())
    try:
        while True:
            event = await queue.get()
            if event is None:
                break
            yield event
        await asyncio.sleep(0.3)  # let the last lines of a failing boot arrive
        while not queue.empty():
            event = queue.get_nowait()
            if event is not None:
                yield event
    finally:
        for task in (prober, follower):
            task.cancel()
        for task in (prober, follower):
            with contextlib.suppress(asyncio.CancelledError, WorkbenchError):
                await task
        outcome.phases = phases.durations()
