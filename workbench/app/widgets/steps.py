"""The deploy step list: one row per host and step (and per attempt: a rollback's health check is
its own row) with its state, duration and detail; a running step ticks with a spinner."""

from __future__ import annotations

import time

from textual.widgets import DataTable

from workbench.app.widgets import themed
from workbench.app.widgets.keys import VI_TABLE
from workbench.events import (
    Event,
    HealthResult,
    HostDone,
    RolledBack,
    StepFailed,
    StepFinished,
    StepStarted,
)

COLUMNS = ("host", "step", "state", "time", "detail")
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SHIELDED = ("switch", "restart", "rollback")  # aio.shielded in the engine: never cut in half


class StepTable(DataTable[object]):
    BINDINGS = VI_TABLE
    DEFAULT_CSS = "StepTable { height: auto; max-height: 50%; }"
    TICK_SECONDS = 0.5  # how often running steps' clocks move

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.states: dict[tuple[str, str], str] = {}
        self.started: dict[tuple[str, str], float] = {}  # running steps: since when (monotonic)
        self.rolled_back: set[str] = set()  # hosts whose rollback worked
        self._tick = 0

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)
        self.set_interval(self.TICK_SECONDS, self._ticking)

    def _ticking(self) -> None:
        """Running steps show how long they have run (a first `make depend` on a Pi runs for
        many minutes): a spinner and m:ss."""
        self._tick += 1
        now = time.monotonic()
        for (host, step), since in list(self.started.items()):
            took = int(now - since)
            spin = SPINNER[self._tick % len(SPINNER)]
            cell = themed.text(self, f"{spin} {took // 60}:{took % 60:02d}", "text-accent")
            self.update_cell(f"{host}\x00{step}", "time", cell)

    def ended(self, state: str, why: str, *, cancel: bool = False) -> list[tuple[str, str]]:
        """Every step still running ends now (cancelled, or its job failed). A cancel never cuts
        a switch, restart or rollback in half (the engine shields them), so those read
        "completed": their own end event is not sent after it. Returns the steps ended."""
        stopped = []
        for host, step in list(self.started):
            if cancel and step in SHIELDED:
                done = "finished before the cancel"
                self._set(host, step, "completed", None, done, "text-warning")
            else:
                self._set(host, step, state, None, why, "text-warning")
            stopped.append((host, step))
        return stopped

    def changed_steps(self) -> list[tuple[str, str]]:
        return [key for key, state in self.states.items() if state == "changed"]

    def update_from(self, event: Event) -> None:
        if isinstance(event, StepStarted):
            self._set(event.host, event.step, "running", None, event.detail, "text-accent")
        elif isinstance(event, StepFinished):
            state = "changed" if event.changed else "ok"
            self._set(event.host, event.step, state, event.seconds, event.detail, "text-success")
        elif isinstance(event, StepFailed):
            detail = event.message + (f" (fix: {event.hint})" if event.hint else "")
            self._set(event.host, event.step, "FAILED", event.seconds, detail, "text-error")
        elif isinstance(event, HealthResult):
            colour = "text-success" if event.ok else "text-error"
            state = "healthy" if event.ok else "UNHEALTHY"
            detail = f"{event.target}: {event.detail}"
            row = "health" if event.step == "health" else f"{event.step} health"
            self._set(event.host, row, state, event.seconds, detail, colour)
        elif isinstance(event, RolledBack):
            self.rolled_back.add(event.host)
            detail = f"{event.from_release} -> {event.to_release}: {event.reason}"
            self._set(event.host, "rollback", "rolled back ok", None, detail, "text-warning")
        elif isinstance(event, HostDone):
            # The truth of the end: a failed release that was rolled back left a healthy host.
            state, colour = ("done", "text-success") if event.ok else ("failed", "text-error")
            if not event.ok and event.host in self.rolled_back:
                state, colour = "rolled back", "text-warning"
            self._set(event.host, "done", state, None, event.summary, colour)

    def _set(
        self, host: str, step: str, state: str, seconds: float | None, detail: str, colour: str
    ) -> None:
        key = f"{host}\x00{step}"
        self.states[(host, step)] = state
        if state == "running":
            self.started.setdefault((host, step), time.monotonic())
        else:
            self.started.pop((host, step), None)
        took = f"{seconds:.2f} s" if seconds else ""
        cells = {
            "host": themed.text(self, host),
            "step": themed.text(self, step),
            "state": themed.text(self, state, colour, bold=state.isupper()),
            "time": themed.text(self, took),
            "detail": themed.text(self, detail),
        }
        if key in self.rows:
            for column, value in cells.items():
                self.update_cell(key, column, value)
        else:
            self.add_row(*cells.values(), key=key)
            self.move_cursor(row=self.row_count - 1)
