"""What deploy would change: per host the unit and network files (diffs) and whether the
release would be uploaded, switched and restarted. Read-only on the targets."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Header, Static

from workbench.app.messages import EngineEvents, JobEnded
from workbench.app.screens.base import WorkbenchScreen
from workbench.app.widgets import themed
from workbench.app.widgets.keys import KeysFooter, KeyTable
from workbench.engine.decide import STEPS
from workbench.events import Fact, FileDiff, HostDone, StepFailed, StepFinished
from workbench.textsafe import sanitize

COLUMNS = ("host", "what", "change", "detail")


class PlanScreen(WorkbenchScreen):
    CSS_PATH = "plan.tcss"
    BINDINGS = [
        Binding("d", "deploy", "Deploy this"),
        Binding("ctrl+r", "rerun", "Plan again"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, profile: str, hosts: list[str]) -> None:
        super().__init__()
        self.profile, self.hosts = profile, hosts
        self.diffs: dict[str, FileDiff] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield KeyTable(id="changes", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="diff-box"):
            yield Static(id="diff")
        yield Static(id="summary")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = f"plan {self.profile} -> {', '.join(self.hosts)}"
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        table.focus()
        self.action_rerun()

    def action_rerun(self) -> None:
        self.query_one(DataTable).clear()
        self.diffs.clear()
        self.query_one("#diff", Static).update("")
        self.query_one("#summary", Static).update(themed.text(self, "planning…", "text-accent"))
        backend, profile, hosts = self.backend, self.profile, self.hosts
        self.start_job("plan", lambda: backend.plan(profile, hosts))

    def on_engine_events(self, message: EngineEvents) -> None:
        table = self.query_one(DataTable)
        for e in message.events:
            t = lambda v, c=None, b=False: themed.text(self, v, c, bold=b)  # noqa: E731
            if isinstance(e, FileDiff):
                key = f"{e.host}\x00{e.path}"
                self.diffs[key] = e
                colour = None if e.status == "unchanged" else "text-warning"
                table.add_row(
                    t(e.host, "text-primary"), t(e.purpose), t(e.status, colour), t(e.path), key=key
                )
                if len(self.diffs) == 1:
                    self._show(e)
            elif isinstance(e, StepFinished) and e.step in STEPS:
                word, colour = ("yes", "text-warning") if e.changed else ("no", None)
                table.add_row(t(e.host, "text-primary"), t(e.step), t(word, colour), t(e.detail))
            elif isinstance(e, Fact):
                word, colour = ("FAILED", "text-error") if e.ok is False else ("note", None)
                table.add_row(t(e.host, "text-primary"), t(e.name), t(word, colour), t(e.value))
            elif isinstance(e, StepFailed):
                table.add_row(
                    t(e.host, "text-primary"),
                    t(e.step),
                    t("FAILED", "text-error", True),
                    t(e.message + (f" (fix: {e.hint})" if e.hint else "")),
                )
            elif isinstance(e, HostDone) and e.host in self.hosts:
                table.add_row(t(e.host, "text-primary"), t("total"), t(""), t(e.summary))

    def on_job_ended(self, message: JobEnded) -> None:
        super().on_job_ended(message)
        changed = sum(d.status != "unchanged" for d in self.diffs.values())
        self.query_one("#summary", Static).update(
            themed.text(
                self,
                f"{changed} file(s) would change; d deploys, Enter on a file shows its diff",
                "text-muted",
            )
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        diff = self.diffs.get(str(event.row_key.value))
        if diff is not None:
            self._show(diff)

    def _show(self, e: FileDiff) -> None:
        out = Text(no_wrap=True)  # a wrapped diff line would read as a line of its own
        out.append(
            f"{e.host}:{e.path}  ({e.purpose}, {e.status})\n",
            themed.style(self, "text-primary", bold=True),
        )
        colours = {"+": "text-success", "-": "text-error", "@": "text-accent"}
        for line in (e.diff or "(no difference)").splitlines():
            colour = colours.get(line[:1]) if not line.startswith(("+++", "---")) else "text-muted"
            out.append(sanitize(line) + "\n", themed.style(self, colour) if colour else "")
        self.query_one("#diff", Static).update(out)

    def action_deploy(self) -> None:
        self.app.open_run("deploy", self.profile, self.hosts)  # type: ignore[attr-defined]

    def action_back(self) -> None:
        self.app.pop_screen()
