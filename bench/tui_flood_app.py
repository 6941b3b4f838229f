"""The TUI on the logs screen with a log source of RATE lines/s (the flood of bench_tui.py).

The source is in-process, so what is measured is the app: batching, the bounded view, the
rendering and the terminal output. (The log path over SSH is measured by bench/run.py.)
At exit it writes a JSON summary to $WB_BENCH_OUT."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.tui.replay import LAB, ReplayBackend
from workbench.app.main import WorkbenchApp
from workbench.app.widgets.logview import LogView
from workbench.events import LogLine

RATE = int(os.environ.get("WB_BENCH_RATE", "20000"))
TEXTS = [
    "2026-11-22T10:06:35-00:00: [INFO] [http] GET /health 200 (0.1 ms)",
    "2026-11-22T10:06:35-00:00: [DEBUG] [tcp.pcb] new connection from 10.0.0.1:51234",
    "2026-11-22T10:06:35-00:00: [WARNING] [netif] dropped a frame: ring full",
]
LEVELS = ["info", "debug", "warning"]
SOURCES = ["http", "tcp.pcb", "netif"]


class Flood(ReplayBackend):
    def __init__(self) -> None:
        super().__init__(entries=[LAB])
        self.produced = 0
        self.started: float | None = None

    async def _flood(self):  # type: ignore[no-untyped-def]
        start = self.started = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            due = int((time.perf_counter() - start) * RATE) - self.produced
            for _ in range(due):
                i = self.produced % 3
                self.produced += 1
                yield LogLine(
                    host="target",
                    step="logs",
                    kind="mirage",
                    level=LEVELS[i],
                    source=SOURCES[i],
                    text=f"{TEXTS[i]} #{self.produced}",
                )

    def logs(self, profile: str, hosts: list[str], *, lines: int = 200):  # type: ignore[no-untyped-def]
        return self._flood()


class FloodApp(WorkbenchApp):
    received_total = 0

    def on_mount(self) -> None:
        super().on_mount()
        self.call_after_refresh(self.open_logs, "lab", ["target"])

    async def action_quit(self) -> None:
        for screen in self.screen_stack:  # the logs screen's view, not the dashboard's tail
            for view in screen.query("#log").results(LogView):
                self.received_total = view.total
        await super().action_quit()


def main() -> None:
    backend = Flood()
    app = FloodApp(backend)
    start = time.perf_counter()
    cpu0 = os.times()
    app.run()
    wall = time.perf_counter() - (backend.started or start)  # the flood's own duration
    cpu = os.times()
    out = {
        "rate": RATE,
        "wall_s": wall,
        "produced": backend.produced,
        "received": app.received_total,
        "cpu_s": (cpu.user - cpu0.user) + (cpu.system - cpu0.system),
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    Path(os.environ["WB_BENCH_OUT"]).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
