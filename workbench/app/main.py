"""The workbench TUI: the dashboard first, a screen per action, every action also in the
command palette, errors as notifications. The engine runs on this app's event loop."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen

from workbench.app.backend import Backend
from workbench.app.screens.check import CheckScreen
from workbench.app.screens.dashboard import DashboardScreen
from workbench.app.screens.dialogs import ConfirmScreen, HelpScreen
from workbench.app.screens.logs import LogsScreen
from workbench.app.screens.plan import PlanScreen
from workbench.app.screens.run import RunScreen
from workbench.app.screens.unikernel import UnikernelScreen
from workbench.textsafe import sanitize, sanitize_lines

_CONFIRM = {
    "restart": ("Restart", "The unikernel stops and boots again on its current release."),
    "stop": (
        "Stop",
        "The unikernel stops and stays stopped, across reboots too, until Start. Its release, "
        "unit and network stay.",
    ),
    "remove": (
        "Remove",
        "Its unit, its taps and their files and its owner record are deleted on the host; "
        "the bridge and NAT too if no other unikernel uses them. Releases are kept "
        "(`workbench remove --purge` deletes them).",
    ),
    "rollback": (
        "Roll back",
        "current goes back to the previous release, which is restarted and health-checked.",
    ),
}
# Per-host actions on a run screen: title, kind, asks first, what the palette says of it.
_HOST_ACTIONS = (
    ("Restart {p} on {host}", "restart", True, "asks first"),
    ("Rollback {p} on {host}", "rollback", True, "asks first"),
    ("Stop {p} on {host}", "stop", True, "asks first; stays stopped across reboots"),
    ("Start {p} on {host}", "start", False, "enable and start on its current release"),
    ("Remove {p} from {host}", "remove", True, "asks first; releases are kept"),
)
_MOVING = [
    ("j, k", "down, up (as the arrows)"),
    ("g, G", "first, last (as Home, End); G in logs follows again"),
    ("enter", "open the selected row"),
]
_SCREENS: list[tuple[str, type[Screen[None]]]] = [
    ("Dashboard", DashboardScreen),
    ("Deploy / restart / rollback / stop / start / remove", RunScreen),
    ("Logs", LogsScreen),
    ("Check", CheckScreen),
    ("Plan", PlanScreen),
    ("Unikernel (Enter on the dashboard)", UnikernelScreen),
]


class WorkbenchApp(App[int]):
    TITLE = "workbench"
    BINDINGS = [
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend
        # Run screens by profile, kept (installed) while they run in the background and until
        # they were seen to the end: leaving a running deploy does not stop it.
        self.runs: dict[str, RunScreen] = {}

    def on_mount(self) -> None:
        self.push_screen(DashboardScreen())

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification, from any screen, carries text that is not ours (a host's
        stderr, a unikernel's line in a health reason, a disconnect reason from an untrusted
        host, what the user typed into search): shown literally, never as markup, and without
        terminal controls. `markup` is accepted for Textual's signature and ignored."""
        super().notify(
            sanitize_lines(message),
            title=sanitize(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    async def on_unmount(self) -> None:
        await self.backend.close()

    # -- what screens and the palette hand off to ------------------------------------------------

    def open_run(self, kind: str, profile: str, hosts: list[str]) -> None:
        """A new run screen; or back to this profile's run when it is still going, or ended in
        the background and was not seen since (the same action); or why not."""
        current = self.runs.get(profile)
        if current is not None and (current.running or not current.seen):
            if current.kind == kind and set(hosts) <= set(current.hosts):
                self._show_run(current)
                return
            if current.running:
                self.notify(
                    f"a {current.kind} of {profile} is running: wait for it or cancel it",
                    severity="warning",
                )
                return
        if current is not None:
            self.forget_run(current)
        screen = RunScreen(kind, profile, hosts)
        self.runs[profile] = screen
        self.install_screen(screen, name=f"run:{profile}")
        self._show_run(screen)

    def _show_run(self, screen: RunScreen) -> None:
        if self.screen is not screen:
            self.push_screen(f"run:{screen.profile}")
        if not screen.running:
            screen.seen = True  # its end is on screen now

    def forget_run(self, screen: RunScreen) -> None:
        """A finished run the user has left: its screen goes (it was kept while it ran)."""
        if self.runs.get(screen.profile) is screen and screen not in self.screen_stack:
            del self.runs[screen.profile]
            self.uninstall_screen(f"run:{screen.profile}")
            screen.remove()  # not in the stack: nothing else would delete it and its timers

    def run_ended(self, screen: RunScreen) -> None:
        """The dashboard's rows of the hosts a run touched are refreshed at once, not at the
        next 15 s poll."""
        dashboard = next((s for s in self.screen_stack if isinstance(s, DashboardScreen)), None)
        if dashboard is not None:
            dashboard.refresh_profile(screen.profile)

    def confirm_run(self, kind: str, profile: str, hosts: list[str]) -> None:
        """Ask first, with what the dashboard knows of the hosts (a rollback names both
        releases and their ages), or say at once why it cannot be done."""
        verb, detail = _CONFIRM[kind]
        current = self.runs.get(profile)
        if current is not None and current.running:
            self.open_run(kind, profile, hosts)  # back to it, or why not
            return
        dashboard = next((s for s in self.screen_stack if isinstance(s, DashboardScreen)), None)
        if dashboard is not None:
            facts, refusal = dashboard.facts_for(kind, profile, hosts)
            if refusal:
                self.notify(refusal, title=f"nothing to {verb.lower()}", severity="warning")
                return
            detail = f"{facts}\n\n{detail}" if facts else detail

        def answered(yes: bool | None) -> None:
            if yes:
                self.open_run(kind, profile, hosts)

        self.push_screen(
            ConfirmScreen(f"{verb} {profile} on {', '.join(hosts)}?", detail, yes=verb), answered
        )

    def open_logs(self, profile: str, hosts: list[str]) -> None:
        self.push_screen(LogsScreen(profile, hosts))

    def open_check(self, profile: str, hosts: list[str]) -> None:
        self.push_screen(CheckScreen(profile, hosts))

    def open_plan(self, profile: str, hosts: list[str]) -> None:
        self.push_screen(PlanScreen(profile, hosts))

    # -- app-wide actions ------------------------------------------------------------------------

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        sections = [(title, _keys(cls.BINDINGS)) for title, cls in _SCREENS]
        sections.append(("Tables and logs", _MOVING))
        sections.append(("Everywhere", [*_keys(self.BINDINGS), ("ctrl+p", "Command palette")]))
        self.push_screen(HelpScreen(sections))

    async def action_quit(self) -> None:
        running = [s for s in self.runs.values() if s.running]
        if not running:
            self.exit(0)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                for screen in running:
                    screen.action_cancel()
                self.exit(return_code=130)

        what = ", ".join(f"{s.kind} of {s.profile}" for s in running)
        self.push_screen(
            ConfirmScreen(
                f"Quit while a {what} is running?",
                "It is cancelled cleanly first: a switch or restart under way completes.",
                yes="Quit",
            ),
            answered,
        )

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help: keys", "Every screen's keys", self.action_help)
        # The current screen's own actions (search, save, cancel, refresh, ...), by name.
        for binding in screen.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                key = _keys([binding])[0][0]
                yield SystemCommand(
                    f"{binding.description} (this screen)",
                    f"key {key}",
                    lambda a=binding.action, s=screen: self.run_action(a, s),
                )
        for entry in self.backend.profiles():
            if entry.error:
                continue
            p, targets = entry.name, entry.targets
            yield SystemCommand(
                f"Deploy {p}",
                f"build if needed, deploy to {', '.join(targets)}",
                lambda p=p, t=targets: self.open_run("deploy", p, t),
            )
            yield SystemCommand(
                f"Check {p}",
                "preflight facts with fixes",
                lambda p=p, t=targets: self.open_check(p, t),
            )
            yield SystemCommand(
                f"Plan {p}",
                "the diffs deploy would apply",
                lambda p=p, t=targets: self.open_plan(p, t),
            )
            yield SystemCommand(
                f"Logs {p}",
                f"live journal of {', '.join(targets)}",
                lambda p=p, t=targets: self.open_logs(p, t),
            )
            for host in targets:
                h = [host]
                yield SystemCommand(
                    f"Deploy {p} to {host}",
                    "this host only",
                    lambda p=p, h=h: self.open_run("deploy", p, h),
                )
                yield SystemCommand(
                    f"Logs {p} on {host}", "live journal", lambda p=p, h=h: self.open_logs(p, h)
                )
                for title, kind, asks, help in _HOST_ACTIONS:
                    act = self.confirm_run if asks else self.open_run
                    yield SystemCommand(
                        title.format(p=p, host=host),
                        help,
                        lambda act=act, kind=kind, p=p, h=h: act(kind, p, h),
                    )


def _keys(bindings: Iterable[object]) -> list[tuple[str, str]]:
    out = []
    for b in bindings:
        if isinstance(b, Binding):
            keys = ", ".join(
                k.strip().replace("question_mark", "?").replace("slash", "/")
                for k in b.key.split(",")
            )
            out.append((keys, b.description or b.action))
    return out
