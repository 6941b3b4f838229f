"""A deploy, restart or rollback as it happens: the step list per host, the build output and
the unikernel's boot lines, upload progress, boot phases on a timeline, the health result and a
rollback that happened and why. `x` cancels it cleanly, as Ctrl-C does headless; `esc` leaves it
running in the background (its dashboard row shows it) and `d` deploys again once it ended."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.notifications import SeverityLevel
from textual.widgets import Header, Label, ProgressBar, Static

from workbench.app.messages import EngineEvents, JobEnded
from workbench.app.screens.base import WorkbenchScreen
from workbench.app.widgets import themed
from workbench.app.widgets.keys import KeysFooter
from workbench.app.widgets.logview import LogView
from workbench.app.widgets.steps import SHIELDED, StepTable
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

DASHBOARD_KEYS = {"deploy": "d", "restart": "r", "rollback": "b", "stop": "s", "start": "S",
                  "remove": "X"}  # fmt: skip
VERBS = {"deploy": "deploying", "restart": "restarting", "rollback": "rollback",
         "stop": "stopping", "start": "starting", "remove": "removing"}  # fmt: skip


class RunScreen(WorkbenchScreen):
    CSS_PATH = "run.tcss"
    BINDINGS = [
        Binding("x", "cancel", "Cancel"),
        Binding("d", "again", "Deploy again"),
        Binding("l", "logs", "Logs"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, kind: str, profile: str, hosts: list[str]) -> None:
        super().__init__()
        self.kind, self.profile, self.hosts = kind, profile, hosts
        self.running = False
        self.started_at = time.monotonic()
        self.ended = ""  # how it ended: done, failed, cancelled
        self.seen = False  # its end was on screen (else the row's key comes back to it)
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
        self.started_at = time.monotonic()
        self._state(
            f"{self.kind} running… (esc leaves it running in the background)", "text-accent"
        )
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
            timeline = self.query_one(BootTimeline)
            timeline.add(event.host, event.phase, event.seconds, self._attempt(event.step))
        elif isinstance(event, HealthResult):
            self.outcomes.append(event)
            if event.ok:  # on a boot's bar only: a no-op deploy's check draws no timeline
                timeline = self.query_one(BootTimeline)
                timeline.add(event.host, "healthy", event.seconds, self._attempt(event.step))
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

    def _attempt(self, step: str) -> str:
        """Which boot an event belongs to: a deploy's own, or the rollback after it; a restart,
        rollback or start has one (its boot phases and health come under different steps)."""
        return "rollback" if self.kind == "deploy" and step == "rollback" else "boot"

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
        self.seen = self.is_current
        self.refresh_bindings()  # x goes, d comes
        self.app.run_ended(self)  # type: ignore[attr-defined]
        away = f"{self.profile}: "
        if message.cancelled:
            self.ended = "cancelled"
            steps = self.query_one(StepTable)
            stopped = steps.ended("cancelled", "stopped by x", cancel=True)
            touched = {step for _, step in steps.changed_steps()} | {s for _, s in stopped}
            if touched & set(SHIELDED):
                what = "what was under way on a host (switch, restart, rollback) was completed "
                what += "first: each host runs either its old release or the new one"
            elif self.kind != "deploy":
                what = f"a {self.kind} already under way on a host is completed first"
            elif steps.changed_steps():
                what = "nothing was switched: every host runs the release it ran before"
            else:
                what = "nothing on the hosts had changed yet"
            where = f" (stopped: {', '.join(' '.join(s) for s in stopped)})" if stopped else ""
            self._state(f"{self.kind} cancelled{where}: {what}", "text-warning")
            self._tell(f"{away}{self.kind} cancelled", severity="warning")
            return
        if message.error:
            self.ended = "failed"
            self.query_one(StepTable).ended("not finished", f"the {self.kind} failed")
            fix = f"\nfix: {message.hint}" if message.hint else ""
            self._state(f"{self.kind} failed: {message.error}{fix}", "text-error")
            if not self.is_current:
                super().on_job_ended(message)
            return
        failed = [h for h, done in self.results.items() if not done.ok]
        rolled = self.query_one(StepTable).rolled_back
        if failed:
            self.ended = "failed"
            summary = "; ".join(f"{h}: {self.results[h].summary}" for h in failed)
            how = "rolled back" if set(failed) <= rolled else "failed"
            self._state(f"{self.kind} {how} on {', '.join(failed)}: {summary}", "text-error")
            self._tell(f"{away}{summary}", title=f"{self.kind} {how}", severity="error", timeout=12)
        else:
            self.ended = "done"
            summary = "; ".join(f"{h}: {d.summary}" for h, d in self.results.items())
            self._state(f"{self.kind} done: {summary}", "text-success")
            self._tell(f"{away}{summary}", title=f"{self.kind} done")

    def _tell(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
    ) -> None:
        """A toast only for a run that ended in the background: on this screen the state line
        says it, and a toast would cover the build and boot lines (a Pi's 80 columns)."""
        if not self.is_current:
            self.notify(message, title=title, severity=severity, timeout=timeout)

    def _state(self, text: str, colour: str) -> None:
        self.query_one("#state", Static).update(themed.text(self, text, colour, bold=True))

    # -- actions ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """x only while it runs, d only once a deploy ended (hidden otherwise)."""
        if action == "cancel":
            return self.running
        if action == "again":
            return not self.running and self.kind == "deploy"
        return True

    def action_cancel(self) -> None:
        if self.running:
            self._state(f"cancelling {self.kind}…", "text-warning")
            self.workers.cancel_group(self, self.kind)

    def action_again(self) -> None:
        if self.running or self.kind != "deploy":
            return
        self.app.pop_screen()
        self.app.forget_run(self)  # type: ignore[attr-defined]
        self.app.open_run(self.kind, self.profile, self.hosts)  # type: ignore[attr-defined]

    def action_back(self) -> None:
        """Leave; a run goes on in the background (the dashboard row says so, and the same
        key on it comes back here)."""
        self.app.pop_screen()
        if self.running:
            self.notify(
                f"the {self.kind} of {self.profile} goes on in the background: its dashboard row "
                f"shows it, and {DASHBOARD_KEYS[self.kind]} there comes back here",
                timeout=5,
            )
        else:
            self.app.forget_run(self)  # type: ignore[attr-defined]

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
