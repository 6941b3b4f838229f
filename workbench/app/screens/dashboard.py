"""Every profile and its hosts with live state, refreshed in the background; the place to pick
a host and act on it."""

from __future__ import annotations

import time
from functools import partial

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from workbench.app.backend import METRICS_SECONDS
from workbench.app.hostrows import HostRow, cells, fit, widths
from workbench.app.messages import EngineEvents, JobEnded
from workbench.app.screens.base import WorkbenchScreen
from workbench.app.widgets import themed
from workbench.app.widgets.keys import KeysFooter
from workbench.app.widgets.metricspane import metrics_lines
from workbench.events import Event, HostMetrics, Status, StepFailed, UnikernelMetrics
from workbench.samples import tap_rate

REFRESH_SECONDS = 15.0


class DashboardScreen(WorkbenchScreen):
    CSS_PATH = "dashboard.tcss"
    BINDINGS = [
        Binding("d", "deploy", "Deploy"),
        Binding("D", "deploy_all", "Deploy profile", show=False),
        Binding("l", "logs", "Logs"),
        Binding("L", "logs_all", "Logs (all hosts)", show=False),
        Binding("c", "check", "Check"),
        Binding("p", "plan", "Plan"),
        Binding("r", "restart", "Restart"),
        Binding("b", "rollback", "Rollback"),
        Binding("s", "stop", "Stop", show=False),
        Binding("S", "start", "Start", show=False),
        Binding("X", "remove", "Remove", show=False),
        Binding("ctrl+r", "refresh", "Refresh"),
        Binding("enter", "details", "Details", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, HostRow] = {}
        self.shown: tuple[str, ...] = ()  # the columns this terminal's width keeps
        self._throttled: dict[str, set[str]] = {}  # host -> what it reported "now"

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="hosts", cursor_type="row", zebra_stripes=True)
        yield Static(id="detail")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = "dashboard"
        for entry in self.backend.profiles():
            for host in entry.targets or ["-"]:
                row = HostRow(entry, host)
                self.rows[row.key] = row
        self._layout(self.size.width)
        self.query_one("#hosts", DataTable).focus()
        self._show_detail()
        # After the first paint: the first refresh imports the SSH stack (~0.15 s).
        self.call_after_refresh(self.action_refresh)
        self.call_after_refresh(self._start_metrics)
        self.set_interval(REFRESH_SECONDS, self.action_refresh)

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        """The columns this width keeps, by priority; the table rebuilt when they change (the
        cursor stays on its row)."""
        shown = fit(width, widths(list(self.rows.values())))
        if shown == self.shown:
            return
        self.shown = shown
        table = self.query_one("#hosts", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        column_widths = widths(list(self.rows.values()))
        for name in shown:
            table.add_column(name, key=name, width=column_widths[name])
        for key, row in self.rows.items():
            all_cells = cells(self, row)
            table.add_row(*(all_cells[c] for c in shown), key=key)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))

    def _start_metrics(self) -> None:
        """One sampling stream per profile (its unikernels share its hosts), kept running."""
        started = {
            w.name.removeprefix("metrics:")
            for w in self.workers
            if w.is_running and w.name.startswith("metrics:")
        }
        for entry in self.backend.profiles():
            base = entry.name.partition("/")[0]
            if entry.error is None and entry.targets and base not in started:
                started.add(base)
                self.start_job(
                    f"metrics:{base}",
                    partial(self.backend.metrics, entry.name, entry.targets),
                    interval=0.2,
                )

    # -- refresh -------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        """One status job per profile (its host names are its own): a slow or unreachable
        profile does not hold up the others, and a refresh still out is not started again."""
        running = {w.name for w in self.workers if w.is_running}
        for entry in self.backend.profiles():
            job = f"refresh:{entry.name}"
            if entry.error is None and entry.targets and job not in running:
                self.start_job(job, partial(self.backend.status, entry.name, entry.targets))

    def on_engine_events(self, message: EngineEvents) -> None:
        kind, _, profile = message.job.partition(":")
        if kind == "metrics":
            self._metrics(profile, message.events)
            return
        if kind != "refresh":
            return
        for event in message.events:
            row = self.rows.get(f"{profile}/{event.host}")
            if row is None:
                continue
            if isinstance(event, Status):
                row.fields, row.error, row.hint = dict(event.fields), None, None
                row.answered = event.at
            elif isinstance(event, StepFailed):
                row.error, row.hint = event.message, event.hint
            else:
                continue
            row.at = event.at
            self._update_cells(row, self.shown)
        self._show_detail()

    def _metrics(self, base: str, events: list[Event]) -> None:
        """A profile's samples into its rows: a host's figures to each of its rows there, a
        unikernel's to its own row (other profiles' unikernels on the host are theirs)."""
        for event in events:
            if isinstance(event, HostMetrics):
                self._throttling(base, event)
            for row in self.rows.values():
                if row.host != event.host or row.profile.name.partition("/")[0] != base:
                    continue
                if isinstance(event, HostMetrics):
                    row.host_metrics = dict(event.fields)
                elif (
                    isinstance(event, UnikernelMetrics)
                    and event.unikernel == row.profile.unikernel
                    and event.fields.get("profile") == base
                ):
                    f = event.fields
                    row.series.add("cpu", f.get("cpu_percent"))
                    row.series.add("memory", f.get("memory_bytes"))
                    row.series.add("net", tap_rate(f, "rx_bytes_per_s", "tx_bytes_per_s"))
                    self._update_cells(row, ("cpu", "net", "memory"))
        self._show_detail()

    def _throttling(self, base: str, event: HostMetrics) -> None:
        """A toast when a board starts throttling or under-volting now (not for what it did
        since boot, and once per host however many rows show it)."""
        words = event.fields.get("throttled_words")
        if "uptime_s" not in event.fields or not isinstance(words, list):
            return  # a gap says nothing about the board
        key = event.host if base in ("", event.host) else f"{base}:{event.host}"
        now = {str(w) for w in words if str(w).endswith(" now")}
        new = now - self._throttled.get(key, set())
        self._throttled[key] = now
        if new:
            self.notify(
                f"{event.host}: {', '.join(sorted(now))}",
                title="the board is throttling",
                severity="warning",
            )

    def on_job_ended(self, message: JobEnded) -> None:
        if message.job.startswith("metrics:"):
            # A stream that ended (its hosts' gaps are in the pane) starts again: the graphs
            # must not freeze for good.
            if not message.cancelled:
                self.set_timer(METRICS_SECONDS, self._start_metrics)
            return
        if not message.job.startswith("refresh:"):
            super().on_job_ended(message)
        elif message.error:  # the rows say it; a toast every 15 s would not help
            self.notify(message.error, severity="warning", timeout=5)

    def _update_cells(self, row: HostRow, columns: tuple[str, ...]) -> None:
        now = cells(self, row)
        table = self.query_one("#hosts", DataTable)
        for column in columns:
            if column in self.shown:
                table.update_cell(row.key, column, now[column])

    # -- selection -------------------------------------------------------------------------------

    def selected(self) -> HostRow | None:
        table = self.query_one("#hosts", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows.get(str(key))

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, _: DataTable.RowSelected) -> None:
        self.action_details()  # Enter on the table

    def action_details(self) -> None:
        """The selected unikernel up close: graphs, the board, its last boot, its logs."""
        from workbench.app.screens.unikernel import UnikernelScreen

        row = self.selected()
        if row is not None and row.profile.error is None and row.host != "-":
            self.app.push_screen(UnikernelScreen(row))

    def _show_detail(self) -> None:
        row = self.selected()
        detail = self.query_one("#detail", Static)
        if row is None:
            detail.update("No profiles found: add one to ./profiles (see `workbench profiles`).")
            return
        e = row.profile
        out = themed.SafeText()
        out.append(f"{e.name}", themed.style(self, "text-primary", bold=True))
        if e.error:
            out.append(f": {e.error}\n", themed.style(self, "text-error"))
            out.append(f"fix the file, then check it with `workbench profiles show {e.name}`")
            detail.update(out)
            return
        address = e.addresses.get(row.host, "-")
        out.append(f" / {row.host} ({address}")
        out.append(f", {row.fields['arch']})" if row.fields.get("arch") else ")")
        out.append(f"  unikernel {e.unikernel}")
        if e.builder:
            out.append(f", built on {e.builder}")
        if row.fields.get("runtime"):
            out.append(f"; runs under solo5-{row.fields['runtime']}")
        if row.fields.get("kvm"):
            out.append(f"; /dev/kvm: {row.fields['kvm']}")
        out.append(f"\n{e.description}\n", themed.style(self, "text-muted"))
        if row.error:
            out.append(f"{row.error}\n", themed.style(self, "text-error", bold=True))
            if row.hint:
                out.append(f"fix: {row.hint}\n")
        elif row.fields.get("crash_loop"):
            f = row.fields
            out.append(f"{f['crash_loop']}\n", themed.style(self, "text-error", bold=True))
            if f.get("last_exit"):
                out.append(f"{f['last_exit']}\n")
            if f.get("last_exit_hint"):
                out.append(f"fix: {f['last_exit_hint']}\n")
        elif row.fields.get("health_detail"):
            failing = row.fields.get("health") == "failing"
            colour = "text-error" if failing else "text-muted"
            out.append(f"health: {row.fields['health_detail']}\n", themed.style(self, colour))
        metrics_lines(self, out, row.series, row.host_metrics)
        out.append(_when(row), themed.style(self, "text-muted"))
        if not row.error and row.fields.get("release_created"):
            out.append(
                f"; release {row.fields.get('release')} made {row.fields['release_created']}",
                themed.style(self, "text-muted"),
            )
        detail.update(out)

    def _target(self, whole_profile: bool = False) -> tuple[str, list[str]] | None:
        row = self.selected()
        if row is None:
            return None
        if row.profile.error:
            self.notify(
                f"profile {row.profile.name} does not load: {row.profile.error}", severity="error"
            )
            return None
        return row.profile.name, (row.profile.targets if whole_profile else [row.host])

    # -- actions: hand off to the app ------------------------------------------------------------

    def action_deploy(self) -> None:
        if target := self._target():
            self.app.open_run("deploy", *target)  # type: ignore[attr-defined]

    def action_deploy_all(self) -> None:
        if target := self._target(whole_profile=True):
            self.app.open_run("deploy", *target)  # type: ignore[attr-defined]

    def action_logs(self) -> None:
        if target := self._target():
            self.app.open_logs(*target)  # type: ignore[attr-defined]

    def action_logs_all(self) -> None:
        if target := self._target(whole_profile=True):
            self.app.open_logs(*target)  # type: ignore[attr-defined]

    def action_check(self) -> None:
        if target := self._target(whole_profile=True):
            self.app.open_check(*target)  # type: ignore[attr-defined]

    def action_plan(self) -> None:
        if target := self._target():
            self.app.open_plan(*target)  # type: ignore[attr-defined]

    def action_restart(self) -> None:
        if target := self._target():
            self.app.confirm_run("restart", *target)  # type: ignore[attr-defined]

    def action_rollback(self) -> None:
        if target := self._target():
            self.app.confirm_run("rollback", *target)  # type: ignore[attr-defined]

    def action_stop(self) -> None:
        if target := self._target():
            self.app.confirm_run("stop", *target)  # type: ignore[attr-defined]

    def action_start(self) -> None:
        if target := self._target():
            self.app.open_run("start", *target)  # type: ignore[attr-defined]

    def action_remove(self) -> None:
        if target := self._target():
            self.app.confirm_run("remove", *target)  # type: ignore[attr-defined]


def _when(row: HostRow) -> str:
    """ "last answer" only for a host that answered; a host that never did has a last try."""
    stamp = lambda at: time.strftime("%H:%M:%S UTC", time.gmtime(at))  # noqa: E731
    if row.at is None:
        return "asking…"
    if not row.error:
        return f"last answer {stamp(row.at)}"
    answered = f"; last answer {stamp(row.answered)}" if row.answered else "; it never answered"
    return f"last try {stamp(row.at)}{answered}"
