"""The dashboard's rows: what each column shows, and which columns a terminal of a given width
keeps (by priority: an 80-column Pi console keeps host, unit, health and uptime)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.widget import Widget

from workbench.app.backend import ProfileEntry
from workbench.app.rowtext import memory_cell, runtime_cell, spark_cell
from workbench.app.spark import Series
from workbench.app.widgets import themed
from workbench.numbers import human_seconds
from workbench.statustext import health_word, last_boot


@dataclass(frozen=True)
class Column:
    name: str
    width: int  # the widest value it shows (profile and host: fitted to the names)
    rank: int  # 0 is kept longest when the terminal narrows


COLUMNS = (
    Column("profile", 7, 4),
    Column("host", 4, 0),
    Column("runtime", 9, 8),
    Column("unit", 15, 1),  # "unreachable"; "restarting 0:05" while the TUI acts on it
    Column("health", 8, 2),
    Column("release", 7, 5),  # the id's first 7 characters, as git shows one; all in the pane
    Column("uptime", 7, 3),
    Column("restarts", 8, 6),
    Column("cpu", 6, 9),  # sparklines of the last samples: CPU %,
    Column("net", 6, 10),  # and bytes/s in and out of its taps
    Column("memory", 9, 7),  # three bars of the last samples and the latest figure
    Column("boot", 6, 11),
)
PADDING = 2  # a DataTable cell's, one each side
NAME_WIDTH = 16  # longer profile and host names are cut in the table (whole in the pane)


@dataclass
class HostRow:
    profile: ProfileEntry
    host: str
    fields: dict[str, object] = field(default_factory=dict)
    error: str | None = None
    hint: str | None = None
    at: float | None = None  # when the last try ended (an answer or a failure)
    answered: float | None = None  # when the host last answered
    series: Series = field(default_factory=Series)  # cpu %, memory, network bytes/s
    host_metrics: dict[str, object] = field(default_factory=dict)  # the host's last sample
    busy: str | None = None  # "deploying 2:14" while a run of the TUI acts on it

    @property
    def key(self) -> str:
        return f"{self.profile.name}/{self.host}"


def widths(rows: list[HostRow]) -> dict[str, int]:
    """Each column's width; profile and host as wide as their longest name (up to 16)."""
    out = {c.name: c.width for c in COLUMNS}
    for name, values in (
        ("profile", [r.profile.name for r in rows]),
        ("host", [r.host for r in rows]),
    ):
        out[name] = min(NAME_WIDTH, max([out[name], *map(len, values)]))
    return out


def fit(width: int, column_widths: dict[str, int]) -> tuple[str, ...]:
    """The columns a table `width` cells wide shows: by rank while they fit, in table order."""
    budget = width - 1  # a cell for the cursor's edge
    kept: set[str] = set()
    for column in sorted(COLUMNS, key=lambda c: c.rank):
        cost = column_widths[column.name] + PADDING
        if cost <= budget:
            kept.add(column.name)
            budget -= cost
    return tuple(c.name for c in COLUMNS if c.name in kept)


def cells(widget: Widget, row: HostRow) -> dict[str, Text]:
    t = lambda value, var=None, bold=False: themed.text(widget, value, var, bold=bold)  # noqa: E731
    entry, f = row.profile, row.fields
    if entry.error:
        blank = {c.name: t("") for c in COLUMNS}
        return blank | {
            "profile": t(entry.name),
            "host": t("-"),
            "unit": t("bad profile", "text-error", bold=True),
        }
    return {
        "profile": t(entry.name, "text-primary", bold=True),
        "host": t(row.host),
        "runtime": t(*runtime_cell(f)),
        "unit": unit_cell(widget, row),
        "health": health_cell(widget, row),
        "release": t(str(f["release"])[:7] if f.get("release") else None),
        "uptime": t(human_seconds(f.get("uptime_s"))),
        "restarts": t(f.get("restarts")),
        "cpu": t(spark_cell(row.series.get("cpu"), 5.0), "text-accent"),
        "net": t(spark_cell(row.series.get("net"), 1024.0), "text-accent"),
        "memory": t(memory_cell(row.series.get("memory"), f.get("memory_kib"))),
        "boot": t(last_boot(f)),
    }


def unit_cell(widget: Widget, row: HostRow) -> Text:
    if row.busy:
        return themed.text(widget, row.busy, "text-accent", bold=True)
    if row.at is None:
        return themed.text(widget, "…", "text-muted")
    if row.error:
        return themed.text(widget, "unreachable", "text-error", bold=True)
    f = row.fields
    unit = str(f.get("unit", "-"))
    colour = (
        "text-success"
        if unit.startswith("active/")
        else "text-error"
        if unit.startswith("failed")
        else "text-muted"
    )
    if f.get("crash_loop"):  # "restarting: 4 restarts in 9 s, last: ..." -> "restarting ×4"
        unit = str(f["crash_loop"]).split(":", 1)[0]
        if f.get("restarts"):
            unit += f" ×{f['restarts']}"
        colour = "text-error"
    return themed.text(widget, unit, colour)


_HEALTH_COLOURS = {"ok": "text-success", "failing": "text-error", "unknown": "text-warning"}


def health_cell(widget: Widget, row: HostRow) -> Text:
    if row.error or row.at is None:
        return themed.text(widget, "-", "text-muted")
    state = str(row.fields.get("health"))
    colour = _HEALTH_COLOURS.get(state, "text-muted")
    return themed.text(widget, health_word(row.fields), colour, bold=state == "failing")
