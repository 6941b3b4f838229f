"""The preflight table: every fact of every host (and the build host), a fix per failed row."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from workbench.app.messages import EngineEvents, JobEnded
from workbench.app.screens.base import WorkbenchScreen
from workbench.app.widgets import themed
from workbench.events import Fact, HostDone, StepFailed

COLUMNS = ("host", "check", "result", "value", "fix")
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

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="facts", cursor_type="row", zebra_stripes=True)
        yield Static(id="summary")
        yield Footer()

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
        self.query_one("#summary", Static).update(themed.text(self, "checking…", "text-accent"))
        backend, profile, hosts = self.backend, self.profile, self.hosts
        self.start_job("check", lambda: backend.check(profile, hosts))

    def on_engine_events(self, message: EngineEvents) -> None:
        table = self.query_one(DataTable)
        for e in message.events:
            if isinstance(e, Fact):
                word, colour = _RESULT[e.ok]
                self.failed += e.ok is False
                table.add_row(
                    themed.text(self, e.host, "text-primary"),
                    themed.text(self, e.name),
                    themed.text(self, word, colour, bold=e.ok is False),
                    themed.text(self, e.value),
                    themed.text(self, e.hint if e.ok is False else ""),
                )
            elif isinstance(e, StepFailed):
                self.failed += 1
                table.add_row(
                    themed.text(self, e.host, "text-primary"),
                    themed.text(self, e.step),
                    themed.text(self, "FAIL", "text-error", bold=True),
                    themed.text(self, e.message),
                    themed.text(self, e.hint or ""),
                )
            elif isinstance(e, HostDone):
                self.done[e.host] = e

    def on_job_ended(self, message: JobEnded) -> None:
        super().on_job_ended(message)
        if message.cancelled:
            return
        ok = self.failed == 0 and not message.error
        text = (
            f"all checks passed on {', '.join(self.done)}"
            if ok
            else f"{self.failed} check(s) failed: each FAIL row has its fix"
        )
        self.query_one("#summary", Static).update(
            themed.text(self, text, "text-success" if ok else "text-error", bold=True)
        )

    def action_back(self) -> None:
        self.app.pop_screen()
