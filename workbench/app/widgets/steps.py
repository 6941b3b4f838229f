"""The deploy step list: one row per host and step with its state, duration and detail."""

from __future__ import annotations

from textual.widgets import DataTable

from workbench.app.widgets import themed
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


class StepTable(DataTable[object]):
    DEFAULT_CSS = "StepTable { height: auto; max-height: 50%; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.states: dict[tuple[str, str], str] = {}

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)

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
            detail = f"{event.from_release} -> {event.to_release}: {event.reason}"
            self._set(event.host, "rolled back", "rolled back", None, detail, "text-warning")
        elif isinstance(event, HostDone):
            colour = "text-success" if event.ok else "text-error"
            self._set(
                event.host, "done", "done" if event.ok else "failed", None, event.summary, colour
            )

    def _set(
        self, host: str, step: str, state: str, seconds: float | None, detail: str, colour: str
    ) -> None:
        key = f"{host}\x00{step}"
        self.states[(host, step)] = state
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
