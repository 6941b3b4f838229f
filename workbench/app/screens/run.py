"""A deploy, restart or rollback as it happens: the step list per host, the build output and
the unikernel's boot lines, upload progress, boot phases on a timeline, the health result and a
rollback that happened and why. `x` cancels it cleanly, as Ctrl-C does headless."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Header, Label, ProgressBar, Static

from workbench.app.messages import EngineEvents, JobEnded
from workbench.app.screens.base import WorkbenchScreen
from workbench.app.widgets import themed
from workbench.app.widgets.keys import KeysFooter
from workbench.app.widgets.logview import LogView
from workbench.app.widgets.steps import StepTable
from workbench.app.widgets.timeline import BootTimeline
from workbench.events import (
    BootPhase,
    BuildLine,
    BuildResult,
    Event,
    HealthResult,
    HostDone,
    LogLine,
    RolledBack,
    StepFailed,
    UploadProgress,
)

TITLES = {
    "deploy": "Deploy",
    "restart": "Restart",
    "rollback": "Rollback",
    "stop": "Stop",
    "start": "Start",
    "remove": "Remove",
}


class RunScreen(WorkbenchScreen):
    CSS_PATH = "run.tcss"
    BINDINGS = [
        Binding("x", "cancel", "Cancel"),
        Binding("l", "logs", "Logs"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, kind: str, profile: str, hosts: list[str]) -> None:
        super().__init__()
        self.kind, self.profile, self.hosts = kind, profile, hosts
        self.running = False
        self.results: dict[str, HostDone] = {}
        self.outcomes: list[HealthResult | RolledBack] = []  # in the order they happened

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="state")
        yield StepTable(id="steps")
        with Horizontal(id="upload"):
            yield Label("upload", id="upload-label")
            yield ProgressBar(id="progress", show_eta=False)
        yield BootTimeline(id="timeline")
        yield Static(id="outcome")
        yield LogView(capacity=5_000, show_host=True, id="output")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = f"{TITLES[self.kind]} {self.profile} -> {', '.join(self.hosts)}"
        self.query_one("#upload").display = False
        self.query_one("#outcome").display = False
        self.start()

    def start(self) -> None:
        backend, profile, hosts = self.backend, self.profile, self.hosts
        starters = {
            "deploy": lambda: backend.deploy(profile, hosts, restart=False),
            "restart": lambda: backend.restart(profile, hosts),
            "rollback": lambda: backend.rollback(profile, hosts),
            "stop": lambda: backend.stop(profile, hosts),
            "start": lambda: backend.start(profile, hosts),
            "remove": lambda: backend.remove(profile, hosts),
        }
        self.running = True
        self._state(f"{self.kind} running…", "text-accent")
        self.start_job(self.kind, starters[self.kind])

    # -- events ----------------------------------------------------------------------------------

    def on_engine_events(self, message: EngineEvents) -> None:
        steps = self.query_one(StepTable)
        output = self.query_one(LogView)
        lines: list[LogLine] = []
        for event in message.events:
            steps.update_from(event)
            if isinstance(event, LogLine):
                lines.append(event)
            elif isinstance(event, BuildLine):
                lines.append(_build_line(event))
            else:
                if lines:
                    output.append(lines)
                    lines = []
                self._other(event)
        if lines:
            output.append(lines)

    def _other(self, event: Event) -> None:
        if isinstance(event, UploadProgress):
            self.query_one("#upload").display = True
            bar = self.query_one("#progress", ProgressBar)
            bar.update(total=max(event.total, 1), progress=event.done)
            self.query_one("#upload-label", Label).update(
                f"upload {event.host} {event.done / 1024:.0f}/{event.total / 1024:.0f} KiB"
            )
        elif isinstance(event, BootPhase):
            self.query_one(BootTimeline).add(event.host, event.phase, event.seconds)
        elif isinstance(event, HealthResult):
            self.outcomes.append(event)
            if event.ok:
                self.query_one(BootTimeline).add(event.host, "healthy", event.seconds)
            self._outcome()
        elif isinstance(event, RolledBack):
            self.outcomes.append(event)
            self._outcome()
        elif isinstance(event, BuildResult):
            how = "cached build" if event.cached else "built"
            self.query_one(LogView).append(
                [
                    _build_line(
                        BuildLine(
                            host=event.host,
                            step="build",
                            stream="stdout",
                            text=f"{how}: {event.artifact}",
                        )
                    )
                ]
            )
        elif isinstance(event, HostDone):
            self.results[event.host] = event
        elif isinstance(event, StepFailed):
            self._outcome()

    def _outcome(self) -> None:
        out = themed.SafeText()
        for e in self.outcomes:
            out.append(f"{e.host}: ", themed.style(self, "text-primary", bold=True))
            if isinstance(e, RolledBack):
                out.append("rolled back ", themed.style(self, "text-warning", bold=True))
                out.append(f"{e.from_release} -> {e.to_release}, because {e.reason}\n")
                continue
            colour = "text-success" if e.ok else "text-error"
            out.append("healthy" if e.ok else "NOT healthy", themed.style(self, colour, bold=True))
            out.append(f" ({e.target}: {e.detail}, {e.seconds:.2f} s)\n")
        out.rstrip()
        widget = self.query_one("#outcome", Static)
        widget.update(out)
        widget.display = bool(out.plain)

    def on_job_ended(self, message: JobEnded) -> None:
        if message.job != self.kind:
            return
        self.running = False
        if message.cancelled:
            self._state(
                f"{self.kind} cancelled: a switch or restart under way was completed first, "
                "so each host runs either its old release or the new one",
                "text-warning",
            )
            self.notify(f"{self.kind} cancelled", severity="warning")
            return
        if message.error:
            self._state(f"{self.kind} failed: {message.error}", "text-error")
            super().on_job_ended(message)
            return
        failed = [h for h, done in self.results.items() if not done.ok]
        if failed:
            summary = "; ".join(f"{h}: {self.results[h].summary}" for h in failed)
            self._state(f"{self.kind} failed on {', '.join(failed)}: {summary}", "text-error")
            self.notify(summary, title=f"{self.kind} failed", severity="error", timeout=12)
        else:
            summary = "; ".join(f"{h}: {d.summary}" for h, d in self.results.items())
            self._state(f"{self.kind} done: {summary}", "text-success")
            self.notify(summary, title=f"{self.kind} done")

    def _state(self, text: str, colour: str) -> None:
        self.query_one("#state", Static).update(themed.text(self, text, colour, bold=True))

    # -- actions ---------------------------------------------------------------------------------

    def action_cancel(self) -> None:
        if not self.running:
            self.notify(f"no {self.kind} running", severity="information")
            return
        self._state(f"cancelling {self.kind}…", "text-warning")
        self.workers.cancel_group(self, self.kind)

    def action_back(self) -> None:
        if self.running:
            self.notify(f"the {self.kind} is still running: x cancels it", severity="warning")
            return
        self.app.pop_screen()

    def action_logs(self) -> None:
        self.app.open_logs(self.profile, self.hosts)  # type: ignore[attr-defined]


def _build_line(event: BuildLine) -> LogLine:
    """Build output shown in the same view as the boot lines, tagged with its step."""
    return LogLine(
        host=event.host,
        step=event.step,
        kind="build",
        level="warning" if event.stream == "stderr" else "info",
        text=f"[{event.step}] {event.text}",
        source="build",
        origin="build",
    )
