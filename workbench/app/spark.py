"""Sparklines as text (for the dashboard's detail pane) and the bounded history behind them.

Pure: no textual. A missing sample (a gap: the host did not answer, no rate yet) is a space,
not a zero, so a graph never claims a value nobody measured.
"""

from __future__ import annotations

import math
from collections import deque

BARS = "▁▂▃▄▅▆▇█"
HISTORY = 720  # samples kept per series: an hour at the 5 s interval


def spark(values: list[float | None], width: int = 24, floor: float = 0.0) -> str:
    """The last `width` values as bars scaled to their maximum (at least `floor`, so a flat
    idle line stays low instead of filling the box)."""
    shown = values[-width:]
    shown = [v if v is not None and math.isfinite(v) and v >= 0 else None for v in shown]
    numbers = [v for v in shown if v is not None]
    top = max([floor, *numbers]) if numbers else floor
    out = []
    for v in shown:
        if v is None:
            out.append(" ")
        elif top <= 0:
            out.append(BARS[0])
        else:
            out.append(BARS[max(0, min(len(BARS) - 1, int(v / top * (len(BARS) - 1) + 0.5)))])
    return "".join(out).rjust(width)


class Series:
    """A few named series of one unikernel on one host, HISTORY samples each."""

    def __init__(self) -> None:
        self.values: dict[str, deque[float | None]] = {}

    def add(self, name: str, value: object) -> None:
        """A sample; anything but a finite number >= 0 is a gap."""
        number = None
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            number = float(value) if math.isfinite(value) else None
        self.values.setdefault(name, deque(maxlen=HISTORY)).append(number)

    def get(self, name: str) -> list[float | None]:
        return list(self.values.get(name, ()))
