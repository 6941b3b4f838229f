"""The preflight table: every fact of every host (and the build host); the selected row's whole
value and its fix in the pane under it (a fix column would be off-screen at 80 columns)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from workbench.app.messages import EngineEvents, JobEnded
from workbench.app.screens.base import WorkbenchScreen
from workbench.app.widgets import themed
from workbench.app.widgets.keys import KeysFooter, KeyTable
from workbench.events import Fact, HostDone, StepFailed

COLUMNS = ("host", "check", "result", "value")
_RESULT = {True: ("ok", "text-success"), False: ("FAIL", "text-error"), None: ("info", None)}


class CheckScreen(WorkbenchScreen):
    CSS_PATH = "check.tcss"
    BINDINGS = [
        Binding("ctrl+r", "rerun", "Run again"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, profile: str, hosts: list[str]) -> None:
        super().__init__()
        self.profile, self.hosts = profile, hosts
        self.failed = 0
        self.done: dict[str, HostDone] = {}
        self.facts: list[tuple[str, str, str, str | None]] = []  # host, check, value, fix

    def compose(self) -> ComposeResult:
        yield Header()
        yield KeyTable(id="facts", cursor_type="row", zebra_stripes=True)
        yield Static(id="fix")
        yield Static(id="summary")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = f"check {self.profile}"
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        table.focus()
        self.action_rerun()

    def action_rerun(self) -> None:
        self.query_one(DataTable).clear()
        self.failed = 0
        self.done.clear()
        self.facts.clear()
        self.query_one("#fix", Static).update("")
        self.query_one("#summary", Static).update(themed.text(self, "checking…", "text-accent"))
        backend, profile, hosts = self.backend, self.profile, self.hosts
        self.start_job("check", lambda: backend.check(profile, hosts))

    def on_engine_events(self, message: EngineEvents) -> None:
        for e in message.events:
            if isinstance(e, Fact):
                word, colour = _RESULT[e.ok]
                self.failed += e.ok is False
                self._add(e.host, e.name, word, colour, e.value, e.hint if e.ok is False else None)
            elif isinstance(e, StepFailed):
                self.failed += 1
                self._add(e.host, e.step, "FAIL", "text-error", e.message, e.hint)
            elif isinstance(e, HostDone):
                self.done[e.host] = e

    def _add(
        self, host: str, check: str, word: str, colour: str | None, value: str, fix: str | None
    ) -> None:
        table = self.query_one(DataTable)
        table.add_row(
            themed.text(self, host, "text-primary"),
            themed.text(self, check),
            themed.text(self, word, colour, bold=word == "FAIL"),
            themed.text(self, value),
        )
        self.facts.append((host, check, value, fix))
        if word == "FAIL" and self.failed == 1:
            table.move_cursor(row=table.row_count - 1)  # the first failure's fix, at once
        self._show_fix()

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._show_fix()

    def _show_fix(self) -> None:
        row = self.query_one(DataTable).cursor_row
        if not 0 <= row < len(self.facts):
            return
        host, check, value, fix = self.facts[row]
        out = themed.SafeText()
        out.append(f"{host} {check}: ", themed.style(self, "text-primary", bold=True))
        out.append(value)
        if fix:
            out.append("\nfix: ", themed.style(self, "text-warning", bold=True))
            out.append(fix)
        self.query_one("#fix", Static).update(out)

    def on_job_ended(self, message: JobEnded) -> None:
        super().on_job_ended(message)
        if message.cancelled:
            return
        ok = self.failed == 0 and not message.error
        text = (
            f"all checks passed on {', '.join(self.done)}"
            if ok
            else f"{self.failed} check(s) failed: select a FAIL row for its fix"
        )
        self.query_one("#summary", Static).update(
            themed.text(self, text, "text-success" if ok else "text-error", bold=True)
        )

    def action_back(self) -> None:
        self.app.pop_screen()
