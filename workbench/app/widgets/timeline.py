"""Boot phases as a timeline: where banner, memory map, network and app start fell between the
restart and the health check passing, on one scaled bar per host."""

from __future__ import annotations

from textual.widgets import Static

from workbench.app.widgets import themed

_LABEL = {
    "banner": "banner",
    "memory_map": "memory map",
    "network_up": "network up",
    "app_start": "app start",
    "healthy": "healthy",
}
_MARK = {"banner": "B", "memory_map": "M", "network_up": "N", "app_start": "A", "healthy": "H"}


class BootTimeline(Static):
    """One bar per host and attempt (a deploy's boot, then its rollback's), markers in time
    order and never drawn over each other; hidden until a boot is seen (a no-op has none)."""

    DEFAULT_CSS = "BootTimeline { height: auto; padding: 0 1; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.phases: dict[str, dict[str, float]] = {}  # "host" or "host rollback" -> phases

    def on_mount(self) -> None:
        self.display = False

    def add(self, host: str, phase: str, seconds: float, attempt: str = "boot") -> None:
        """A phase of a host's boot ("boot") or of a later attempt ("rollback"). "healthy" is
        drawn only on a bar a boot started: a check of a unit that was not restarted has none."""
        label = host if attempt == "boot" else f"{host} {attempt}"
        if phase == "healthy" and label not in self.phases:
            return
        self.phases.setdefault(label, {})[phase] = seconds
        self._redraw()

    def clear_host(self, host: str) -> None:
        self.phases.pop(host, None)
        self._redraw()

    def _redraw(self) -> None:
        out = themed.SafeText()
        width = 40
        for label, phases in self.phases.items():
            marks = ordered(phases)
            end = max(at for _, at in marks) or 1.0
            bar = ["─"] * (width + 1)
            last = -1
            for phase, at in marks:
                # Never hide a marker under another: a later one moves right of the earlier.
                cell = max(round(at / end * width), last + 1)
                bar.extend("─" * (cell + 1 - len(bar)))  # past the end: the bar grows
                bar[cell] = _MARK.get(phase, "?")
                last = cell
            out.append(f"{label} ", themed.style(self, "text-primary", bold=True))
            out.append("".join(bar), themed.style(self, "text-accent"))
            out.append(f" {end:.3f} s\n")
            legend = "   ".join(f"{_MARK[p]} {_LABEL[p]} {at:.3f} s" for p, at in marks)
            out.append(f"  {legend}\n", themed.style(self, "text-muted"))
        self.update(out)
        self.display = bool(self.phases)


def ordered(phases: dict[str, float]) -> list[tuple[str, float]]:
    """The phases in the order they happened. "healthy" is the probe's time (its own clock, from
    its first attempt) and can read earlier than the journal's phases it follows: it is never
    drawn before them."""
    marks = sorted(((p, t) for p, t in phases.items() if p != "healthy"), key=lambda m: m[1])
    if "healthy" in phases:
        after = max([t for _, t in marks], default=0.0)
        marks.append(("healthy", max(phases["healthy"], after)))
    return marks
