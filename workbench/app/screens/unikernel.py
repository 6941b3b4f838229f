"""One unikernel on one host, up close (Enter on a dashboard row): its CPU, memory and network
over the last hour as the dashboard has sampled them, the host's heat and a Pi's throttling in
words, the last boot's phases, and its newest log lines, followed live."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, Static

from workbench.app.messages import EngineEvents
from workbench.app.screens.base import WorkbenchScreen
from workbench.app.spark import spark
from workbench.app.widgets import themed
from workbench.app.widgets.keys import KeysFooter
from workbench.events import LogLine
from workbench.numbers import human_bytes

if TYPE_CHECKING:
    from workbench.app.screens.dashboard import HostRow

LOG_LINES = 12
PLOTS = (("cpu", "CPU", "%", 5.0), ("memory", "memory", "B", 0.0), ("net", "network", "B/s", 0.0))


class UnikernelScreen(WorkbenchScreen):
    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, row: HostRow) -> None:
        super().__init__()
        self.row = row  # the dashboard's row: its samples keep coming while this is shown
        self.lines: deque[LogLine] = deque(maxlen=LOG_LINES)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="plots")
        yield Static(id="board")
        yield Static(id="boot")
        yield Static(id="recent")
        yield KeysFooter()

    def on_mount(self) -> None:
        e = self.row.profile
        self.sub_title = f"{e.name} on {self.row.host}"
        self.draw()
        self.set_interval(1.0, self.draw)
        backend, name, host = self.backend, e.name, self.row.host
        self.start_job("logs", lambda: backend.logs(name, [host], lines=LOG_LINES))

    def on_engine_events(self, message: EngineEvents) -> None:
        self.lines.extend(e for e in message.events if isinstance(e, LogLine))
        self._recent()

    def draw(self) -> None:
        width = max(16, self.size.width - 28)
        out = themed.SafeText()
        for key, title, unit, floor in PLOTS:
            values = self.row.series.get(key)
            last = next((v for v in reversed(values) if v is not None), None)
            shown = (
                "-" if last is None else f"{last:.1f} %" if unit == "%" else human_bytes(last, unit)
            )
            out.append(f"{title:<8}", themed.style(self, "text-primary", bold=True))
            out.append(f"{spark(values, width, floor)} {shown}\n")
        samples = len(self.row.series.get("cpu"))
        out.append(f"{samples} sample(s) of the last hour", themed.style(self, "text-muted"))
        self.query_one("#plots", Static).update(out)
        self._board()
        self._boot()

    def _board(self) -> None:
        h = self.row.host_metrics
        out = themed.SafeText()
        load = h.get("load")
        if isinstance(load, list) and load:
            out.append("load " + " ".join(str(v) for v in load) + "  ")
        temps = h.get("temperatures_c")
        if isinstance(temps, dict):
            degrees = [(z, d) for z, d in temps.items() if isinstance(d, int | float)]
            out.append(", ".join(f"{z} {d:.1f} °C" for z, d in degrees) or "no thermal zone")
        words = h.get("throttled_words")
        if isinstance(words, list) and words:
            now = any(str(w).endswith(" now") for w in words)
            text = ("\nTHROTTLING: " if now else "\nthrottled before: ") + ", ".join(
                map(str, words)
            )
            out.append(text, themed.style(self, "text-warning", bold=True) if now else None)
        elif h.get("throttled") is not None:
            out.append("\nnot throttled, no under-voltage since boot")
        gaps = h.get("gaps")
        if isinstance(gaps, list) and gaps:
            out.append(
                f"\nno sample: {'; '.join(map(str, gaps))}", themed.style(self, "text-muted")
            )
        self.query_one("#board", Static).update(out)

    def _boot(self) -> None:
        boot = self.row.fields.get("last_boot")
        out = themed.SafeText()
        if isinstance(boot, dict) and boot:
            timed = [(v, k) for k, v in boot.items() if isinstance(v, int | float)]
            phases = [f"{k} {v:.2f} s" for v, k in sorted(timed)]  # in the order they came
            out.append("last boot: " + ", ".join(phases))
        else:
            out.append("last boot: not recorded", themed.style(self, "text-muted"))
        self.query_one("#boot", Static).update(out)

    def _recent(self) -> None:
        out = themed.SafeText()
        for line in self.lines:
            colour = {"error": "text-error", "warning": "text-warning"}.get(line.level)
            out.append(line.text + "\n", themed.style(self, colour) if colour else None)
        self.query_one("#recent", Static).update(out)

    def action_back(self) -> None:
        self.app.pop_screen()
