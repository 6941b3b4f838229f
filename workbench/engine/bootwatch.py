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
from workbench.events import BootPhase, Event, HealthResult, LogLine, log_line
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
    last_cursor: str | None = None  # the last journal entry shown: a rollback goes on from it


def systemd_level(priority: int, message: str) -> str:
    """systemd logs a main process' failed exit at notice ("Main process exited, code=exited,
    status=255/EXCEPTION"; a clean one at debug) and "Failed with result" at warning: both say
    the unikernel ended badly, so neither reads like routine lifecycle lines."""
    if priority <= 3:
        return "error"
    if priority == 4 or "Main process exited, code=" in message:
        return "warning"
    return "info"


def to_event(host: str, step: str, entry: journal.JournalEntry) -> LogLine:
    if entry.from_systemd:
        level = systemd_level(entry.priority, entry.message)
        return log_line(
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
    return log_line(
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
    health_step: str = "health",
) -> AsyncIterator[Event]:
    """Yield events until the unikernel is healthy, has failed, or the health timeout passes.
    Boot phases carry `step`, the health result `health_step` (a deploy's rollback checks the
    old release under "rollback", apart from the new release's failed "health")."""
    w = _Watch(conn, profile, unit, cursor, outcome, step, started_us)
    w.health_step = health_step
    follower = asyncio.create_task(w.follow())
    prober = asyncio.create_task(w.run_probe())
    try:
        while True:
            event = await w.queue.get()
            if event is None:
                break
            yield event
        await asyncio.sleep(0.3)  # let the last lines of a failing boot arrive
        while not w.queue.empty():
            event = w.queue.get_nowait()
            if event is not None:
                yield event
    finally:
        for task in (prober, follower):
            task.cancel()
        for task in (prober, follower):
            with contextlib.suppress(asyncio.CancelledError, WorkbenchError):
                await task
        outcome.phases = w.phases.durations()


class _Watch:
    """The journal follower and the health prober of one boot, meeting in one queue."""

    def __init__(
        self,
        conn: HostConnection,
        profile: Profile,
        unit: str,
        cursor: str | None,
        outcome: Outcome,
        step: str,
        started_us: int | None,
    ) -> None:
        self.conn, self.profile, self.unit, self.cursor = conn, profile, unit, cursor
        self.outcome, self.step = outcome, step
        self.health_step = "health"
        check = profile.health
        self.check = check
        self.timeout = check.timeout if check is not None else 15.0
        self.pattern = re.compile(check.pattern) if isinstance(check, LogCheck) else None
        self.log_match: str | None = None
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        # Times are the host's CLOCK_MONOTONIC (journal __MONOTONIC_TIMESTAMP and systemd's
        # ExecMainStartTimestampMonotonic): exact, and immune to a Pi without a real-time clock.
        self.started = started_us / 1e6 if started_us else None
        self.phases = bootlog.BootPhases(started_at=self.started)
        self.run = runwatch.RunWatch(unit=unit)
        self.target = health.describe(profile)

    async def follow(self) -> None:
        host, step = self.conn.name, self.step
        argv = (
            journal.journal_argv(self.unit, after_cursor=self.cursor)
            if self.cursor
            else journal.journal_argv(self.unit, lines=0)
        )
        held: BootPhase | None = None  # "banner reached", said after the banner's last line
        async for entry in journal.entries(self.conn, argv, after=self.cursor):
            event = to_event(host, step, entry)
            if held is not None and event.kind != "banner":
                await self.queue.put(held)
                held = None
            await self.queue.put(event)
            self.outcome.last_cursor = entry.cursor
            when = entry.monotonic_us / 1e6
            if self.started is not None and when < self.started:
                continue  # the previous run stopping, before our restart started the unit
            if entry.from_systemd:
                self.run.feed_systemd(entry.message)
                continue
            line = bootlog.classify(entry.message)
            self.run.feed(line)
            phase = self.phases.feed(line, when)
            if phase is not None:
                origin = self.phases.started_at if self.phases.started_at is not None else when
                seconds = round(when - origin, 3)
                reached = BootPhase(host=host, step=step, phase=phase, seconds=seconds)
                if phase == "banner":
                    held = reached  # not in the middle of the ASCII art
                else:
                    await self.queue.put(reached)
            if self.pattern is not None and self.pattern.search(entry.message):
                self.log_match = entry.message

    async def run_probe(self) -> None:
        try:
            await self.queue.put(await self.probe())
        finally:
            await self.queue.put(None)

    def _result(self, ok: bool, detail: str, elapsed: float, attempts: int) -> HealthResult:
        return HealthResult(
            host=self.conn.name,
            step=self.health_step,
            ok=ok,
            target=self.target,
            detail=detail,
            seconds=round(elapsed, 3),
            attempts=attempts,
        )

    async def probe(self) -> HealthResult:
        """Probe until healthy, failed, or out of time; the outcome says which."""
        start = time.monotonic()
        attempts = 0
        outcome = self.outcome
        while True:
            await asyncio.sleep(0.2)
            elapsed = time.monotonic() - start
            if self.run.reason is not None:
                return await self._died(elapsed, attempts)
            if self.check is None:
                ok, detail = elapsed > 2, "unit still running after 2 s"
            elif self.pattern is not None:
                ok = self.log_match is not None
                detail = f"log line matched: {self.log_match}" if ok else "no log line matched"
            else:
                attempts += 1
                ok, detail = await health.probe(self.conn, self.profile)
            if ok:
                outcome.ok, outcome.health_seconds = True, round(elapsed, 3)
                # The journal reaches us a little after the guest answers; let the boot lines
                # up to the application's first arrive (1 s at most: an application may log
                # nothing) so the report reads in the order things happened.
                for _ in range(10):
                    if "app_start" in self.phases.reached:
                        break
                    await asyncio.sleep(0.1)
                return self._result(True, detail, elapsed, attempts)
            if elapsed > self.timeout:
                outcome.reason = f"not healthy after {self.timeout:.0f} s ({self.target}: {detail})"
                outcome.hint = "see the log lines above; `workbench logs` shows more"
                return self._result(False, outcome.reason, elapsed, attempts)
            await asyncio.sleep(0.3)

    async def _died(self, elapsed: float, attempts: int) -> HealthResult:
        run = self.run
        if run.before_start and run.short == "tender aborted":
            # systemd's exit line (with the signal) follows the tender's last words.
            for _ in range(10):
                await asyncio.sleep(0.05)
                if run.short != "tender aborted":
                    break
        reason = run.reason
        self.outcome.reason, self.outcome.hint = str(reason), run.hint
        self.outcome.before_start = run.before_start
        return self._result(False, str(reason), elapsed, attempts)
