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
from workbench.app.hostdetail import detail_text, rollback_facts, throttle_news
from workbench.app.hostrows import HostRow, cells, fit, widths
from workbench.app.messages import EngineEvents, JobEnded
from workbench.app.screens.base import WorkbenchScreen
from workbench.app.screens.run import VERBS
from workbench.app.widgets.keys import KeysFooter, KeyTable
from workbench.app.widgets.logview import LogView
from workbench.events import Event, HostMetrics, LogLine, Status, StepFailed, UnikernelMetrics
from workbench.samples import tap_rate

REFRESH_SECONDS = 15.0
NOW = time.time  # what release ages are measured against (a snapshot test fixes it)
TAIL_LINES = 50  # the selected unikernel's newest lines, followed under the table


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
        self.tailing: str | None = None  # the row whose log the tail pane follows
        self.suspended = False  # another screen is on top
        self._throttled: dict[str, set[str]] = {}  # host -> what it reported "now"

    def compose(self) -> ComposeResult:
        yield Header()
        yield KeyTable(id="hosts", cursor_type="row", zebra_stripes=True)
        yield LogView(capacity=TAIL_LINES * 10, id="tail")
        yield Static(id="detail")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = "dashboard"
        self._sync_rows()
        self.query_one("#hosts", DataTable).focus()
        self._show_detail()
        # After the first paint: the first refresh imports the SSH stack (~0.15 s).
        self.call_after_refresh(self._refresh_all)
        self.call_after_refresh(self._start_metrics)
        self.call_after_refresh(self._follow_tail)
        self.set_interval(REFRESH_SECONDS, self._refresh_all)
        self.set_interval(1.0, self._tick)

    def _sync_rows(self) -> None:
        """Rows for the profiles as loaded now: a row keeps what it knew when its profile and
        host are still there; the table is laid out again."""
        rows: dict[str, HostRow] = {}
        for entry in self.backend.profiles():
            for host in entry.targets or ["-"]:
                row = HostRow(entry, host)
                old = self.rows.get(row.key)
                if old is not None and old.profile.error is None and entry.error is None:
                    old.profile = entry
                    row = old
                rows[row.key] = row
        self.rows = rows
        self.shown = ()
        self._layout(self.size.width)

    def _tick(self) -> None:
        """Each second: a run's clock on its rows ("deploying 2:14"), and profile files that
        changed on disk loaded again."""
        runs = getattr(self.app, "runs", {})
        for row in self.rows.values():
            run = runs.get(row.profile.name)
            busy = None
            if run is not None and run.running and row.host in run.hosts:
                took = int(time.monotonic() - run.started_at)
                busy = f"{VERBS[run.kind]} {took // 60}:{took % 60:02d}"
            if busy != row.busy:
                row.busy = busy
                self._update_cells(row, ("unit",))
        if self.backend.changed():
            self.run_worker(self._reload(), group="reload", exclusive=True)

    async def _reload(self) -> None:
        await self.backend.reload()
        self._sync_rows()
        if self.tailing is not None:  # followed again, through the profile as it is now
            self.workers.cancel_group(self, f"tail:{self.tailing}")
            self.tailing = None
            self._follow_tail()
        self._show_detail()
        self._start_metrics()
        self._refresh_all()

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        """The columns this width keeps, by priority; the table rebuilt when they change (the
        cursor stays on its row)."""
        # More rows than half the screen: the table's scrollbar takes two columns.
        many = len(self.rows) > max(1, self.size.height // 2 - 2)
        column_widths = widths(list(self.rows.values()))
        shown = fit(width - 2 if many else width, column_widths)
        if shown == self.shown:
            return
        self.shown = shown
        table = self.query_one("#hosts", DataTable)
        selected = self.selected()
        cursor = table.cursor_row
        table.clear(columns=True)
        for name in shown:
            table.add_column(name, key=name, width=column_widths[name])
        for key, row in self.rows.items():
            all_cells = cells(self, row)
            table.add_row(*(all_cells[c] for c in shown), key=key)
        if selected is not None and selected.key in self.rows:
            table.move_cursor(row=table.get_row_index(selected.key))  # the same host, by key
        elif table.row_count:
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
        """ctrl+r: the profile files read again (one fixed on disk loads), then every row."""
        self.run_worker(self._reload(), group="reload", exclusive=True)

    def _refresh_all(self) -> None:
        """One status job per profile (its host names are its own): a slow or unreachable
        profile does not hold up the others, and a refresh still out is not started again."""
        running = {w.name for w in self.workers if w.is_running}
        for entry in self.backend.profiles():
            job = f"refresh:{entry.name}"
            if entry.error is None and entry.targets and job not in running:
                self.start_job(job, partial(self.backend.status, entry.name, entry.targets))

    def refresh_profile(self, profile: str) -> None:
        """Now, after an action on this profile's hosts ended (the old uptime must not stay
        until the next poll)."""
        entry = next((e for e in self.backend.profiles() if e.name == profile), None)
        if entry is not None and entry.error is None and entry.targets:
            self.start_job(
                f"refresh:{profile}", partial(self.backend.status, entry.name, entry.targets)
            )

    def _follow_tail(self) -> None:
        """The selected row's log, followed live under the table (a demo on one screen)."""
        if self.suspended:
            return  # followed again on resume
        row = self.selected()
        key = row.key if row is not None and row.profile.error is None and row.host != "-" else None
        if key == self.tailing:
            return
        if self.tailing is not None:
            self.workers.cancel_group(self, f"tail:{self.tailing}")
        self.tailing = key
        self.query_one("#tail", LogView).clear()
        if row is None or key is None:
            return
        profile, host = row.profile.name, row.host
        self.start_job(  # named by its row: lines still queued from the last one are dropped
            f"tail:{key}",
            lambda: self.backend.tail(profile, host, lines=TAIL_LINES),
            interval=0.2,
        )

    def on_screen_suspend(self) -> None:
        """Under another screen the tail stops (a flood is not followed twice)."""
        self.suspended = True
        if self.tailing is not None:
            self.workers.cancel_group(self, f"tail:{self.tailing}")
            self.tailing = None

    def on_screen_resume(self) -> None:
        self.suspended = False
        self._follow_tail()

    def on_engine_events(self, message: EngineEvents) -> None:
        if message.job.startswith("tail:"):
            if message.job == f"tail:{self.tailing}":
                tail = self.query_one("#tail", LogView)
                tail.append([e for e in message.events if isinstance(e, LogLine)])
            return
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
        self.refresh_bindings()

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
        """A toast when a board starts throttling or under-volting now."""
        said = throttle_news(self._throttled, base, event)
        if said:
            self.notify(said, title="the board is throttling", severity="warning")

    def on_job_ended(self, message: JobEnded) -> None:
        if message.job.startswith("metrics:"):
            # A stream that ended (its hosts' gaps are in the pane) starts again: the graphs
            # must not freeze for good.
            if not message.cancelled:
                self.set_timer(METRICS_SECONDS, self._start_metrics)
            return
        if message.job.startswith("tail:"):
            return  # the logs screen (l) says why a follow ended; the tail pane just stops
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
        self.set_timer(0.3, self._follow_tail)  # not a stream per row the cursor passes
        self.refresh_bindings()  # rollback is dimmed where there is nothing to go back to

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
        no_rollback = self.check_action("rollback", ()) is None
        detail.update(detail_text(self, row, no_rollback=no_rollback))

    def facts_for(self, kind: str, profile: str, hosts: list[str]) -> tuple[str, str | None]:
        """What a confirmation names for these hosts, and why it cannot be done."""
        if kind != "rollback":
            return "", None
        rows = [self.rows.get(f"{profile}/{host}") for host in hosts]
        return rollback_facts([r for r in rows if r is not None], NOW())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Rollback is dimmed in the footer when the selected host has nothing to go back to."""
        if action == "rollback" and (row := self.selected()) is not None:
            known = row.at is not None and not row.error and row.profile.error is None
            if known and not row.fields.get("previous"):
                return None
        return True

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
