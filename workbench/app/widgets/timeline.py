"""Boot phases as a timeline: where banner, memory map, network and app start fell between the
restart and the health check passing, on one scaled bar per host."""

from __future__ import annotations

from textual.widgets import Static

from workbench.app.widgets import themed
from workbench.bootlog import PHASES

_LABEL = {
    "banner": "banner",
    "memory_map": "memory map",
    "network_up": "network up",
    "app_start": "app start",
    "healthy": "healthy",
}
_MARK = {"banner": "B", "memory_map": "M", "network_up": "N", "app_start": "A", "healthy": "H"}


class BootTimeline(Static):
    DEFAULT_CSS = "BootTimeline { height: auto; padding: 0 1; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.phases: dict[str, dict[str, float]] = {}

    def add(self, host: str, phase: str, seconds: float) -> None:
        self.phases.setdefault(host, {})[phase] = seconds
        self._redraw()

    def clear_host(self, host: str) -> None:
        self.phases.pop(host, None)
        self._redraw()

    def _redraw(self) -> None:
        out = themed.SafeText()
        width = 40
        for host, phases in self.phases.items():
            end = max(phases.values()) or 1.0
            bar = ["─"] * (width + 1)
            for phase, at in phases.items():
                bar[round(at / end * width)] = _MARK.get(phase, "?")
            out.append(f"{host} boot ", themed.style(self, "text-primary", bold=True))
            out.append("".join(bar), themed.style(self, "text-accent"))
            out.append(f" {end:.3f} s\n")
            order = [p for p in (*PHASES, "healthy") if p in phases]
            legend = "   ".join(f"{_MARK[p]} {_LABEL[p]} {phases[p]:.3f} s" for p in order)
            out.append(f"  {legend}\n", themed.style(self, "text-muted"))
        self.update(out)
