"""The dashboard's detail-pane lines for a row's metrics: sparklines, heat, throttling, gaps."""

from __future__ import annotations

from textual.widget import Widget

from workbench.app.spark import Series, spark
from workbench.app.widgets import themed
from workbench.numbers import human_bytes


def metrics_lines(
    widget: Widget, out: themed.SafeText, series: Series, host: dict[str, object]
) -> None:
    """Sparklines of the last samples, the host's heat and, in words, its throttling."""
    for name, unit, floor in (("cpu", "%", 5.0), ("memory", "B", 0.0), ("net", "B/s", 0.0)):
        values = series.get(name)
        if not any(v is not None for v in values):
            continue
        last = next((v for v in reversed(values) if v is not None), None)
        shown = f"{last:.1f} %" if unit == "%" else human_bytes(last, unit)
        out.append(f"{name:<7}{spark(values, 32, floor)} {shown}\n")
    h = host
    temps = h.get("temperatures_c")
    if isinstance(temps, dict) and temps:
        degrees = [(z, d) for z, d in temps.items() if isinstance(d, int | float)]
        out.append(", ".join(f"{z} {d:.1f} °C" for z, d in degrees) + "\n")
    words = h.get("throttled_words")
    if isinstance(words, list) and words:
        now = any(str(w).endswith(" now") for w in words)
        text = ("THROTTLING: " if now else "throttled before: ") + ", ".join(map(str, words))
        out.append(text + "\n", themed.style(widget, "text-warning", bold=True) if now else None)
    gaps = h.get("gaps")
    if isinstance(gaps, list) and gaps:
        out.append(
            f"no metrics: {'; '.join(str(g) for g in gaps)}\n", themed.style(widget, "text-muted")
        )
