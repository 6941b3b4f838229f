"""The live journal of one or several hosts: follows by default, pauses when scrolled up and
says so, `/` search, level/source/host filters, highlighted banner, memory map and errors, a
crash banner that explains the exit status, and the buffer saved to a file."""

from __future__ import annotations

import time
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, Input, Static

from workbench.app.messages import EngineEvents, JobEnded
from workbench.app.screens.base import WorkbenchScreen
from workbench.app.widgets import themed
from workbench.app.widgets.crash import CrashBanner
from workbench.app.widgets.keys import KeysFooter
from workbench.app.widgets.logview import LEVELS, LogView
from workbench.events import LogLine, StepFinished

HISTORY_LINES = 200


class LogsScreen(WorkbenchScreen):
    CSS_PATH = "logs.tcss"
    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next", show=False),
        Binding("N", "previous_match", "Previous", show=False),
        Binding("l", "level", "Level"),
        Binding("s", "source", "Source"),
        Binding("h", "host", "Host", show=False),
        Binding("f", "follow", "Follow"),
        Binding("w", "save", "Save"),
        Binding("x", "dismiss_crash", "Dismiss crash", show=False),
        Binding("ctrl+l", "clear", "Clear", show=False),
        Binding("r", "refollow", "Follow again", show=False),
        Binding("escape", "back", "Back"),
    ]

    def __init__(
        self,
        profile: str,
        hosts: list[str],
        *,
        capacity: int = 10_000,
        save_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.profile, self.hosts = profile, hosts
        self.capacity = capacity
        self.save_dir = save_dir or Path.cwd()
        self.reconnects = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield CrashBanner(id="crash")
        yield LogView(capacity=self.capacity, show_host=len(self.hosts) > 1, id="log")
        yield Input(placeholder="search (Enter: find, Esc: close)", id="search")
        yield Static(id="status")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = f"logs {self.profile}: {', '.join(self.hosts)}"
        self.query_one("#search", Input).display = False
        self.query_one(LogView).focus()
        self._status()
        self.action_refollow(history=HISTORY_LINES)

    def action_refollow(self, history: int = 0) -> None:
        """(Re)start following; after an end only what came since (journal cursors are the
        engine's business: a reconnect inside one follow loses nothing)."""
        if any(w.name == "logs" and w.is_running for w in self.workers):
            return
        backend, profile, hosts = self.backend, self.profile, self.hosts
        self.start_job("logs", lambda: backend.logs(profile, hosts, lines=history))
        self._status()

    # -- events ----------------------------------------------------------------------------------

    def on_engine_events(self, message: EngineEvents) -> None:
        if message.job != "logs":
            return
        lines = [e for e in message.events if isinstance(e, LogLine)]
        crash = self.query_one(CrashBanner)
        for line in lines:
            crash.consider(line)
        for event in message.events:
            if isinstance(event, StepFinished) and event.step == "reconnect":
                self.reconnects += 1
                self.notify(f"{event.host}: {event.detail}", severity="warning", timeout=4)
        self.query_one(LogView).append(lines)
        self._status()

    def on_job_ended(self, message: JobEnded) -> None:
        if message.job == "logs" and not message.cancelled:
            super().on_job_ended(message)
            self._status(ended=True)

    def on_log_view_follow_changed(self, _: LogView.FollowChanged) -> None:
        self._status()

    def _status(self, ended: bool = False) -> None:
        log = self.query_one(LogView)
        parts = []
        if ended:
            parts.append(
                themed.text(self, "ENDED (r restarts the follow)", "text-error", bold=True)
            )
        elif log.following:
            parts.append(themed.text(self, "following", "text-success", bold=True))
        else:
            news = f", {log.unseen} new line(s)" if log.unseen else ""
            parts.append(
                themed.text(self, f"PAUSED{news}: f or End resumes", "text-warning", bold=True)
            )
        filters = [f"level ≥ {log.min_level}"]
        if log.source:
            filters.append(f"source {log.source}")
        if log.host:
            filters.append(f"host {log.host}")
        if log.search_text:
            filters.append(f"search '{log.search_text}'")
        parts.append(themed.text(self, "   " + ", ".join(filters)))
        parts.append(
            themed.text(
                self,
                f"  {len(log.view)} shown, {len(log.rows)}/{log.capacity} kept, "
                f"{log.total} received",
                "text-muted",
            )
        )
        text = parts[0]
        for part in parts[1:]:
            text.append_text(part)
        self.query_one("#status", Static).update(text)

    # -- actions ---------------------------------------------------------------------------------

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        log = self.query_one(LogView)
        if not log.search(event.value, from_current=True) and event.value:
            self.notify(
                f"'{event.value}' not found below; N searches upwards",
                severity="warning",
                timeout=3,
            )
        event.input.display = False
        log.focus()
        self._status()

    def action_next_match(self) -> None:
        self._match(backwards=False)

    def action_previous_match(self) -> None:
        self._match(backwards=True)

    def _match(self, backwards: bool) -> None:
        log = self.query_one(LogView)
        if not log.search_text:
            self.action_search()
        elif not log.search(log.search_text, backwards=backwards):
            self.notify(f"no more matches for '{log.search_text}'", severity="warning", timeout=3)
        self._status()

    def action_level(self) -> None:
        log = self.query_one(LogView)
        log.set_filter(min_level=LEVELS[(LEVELS.index(log.min_level) + 1) % len(LEVELS)])
        self._status()

    def action_source(self) -> None:
        log = self.query_one(LogView)
        log.set_filter(source=_cycle(log.sources(), log.source))
        self._status()

    def action_host(self) -> None:
        log = self.query_one(LogView)
        log.set_filter(host=_cycle(log.hosts(), log.host))
        self._status()

    def action_follow(self) -> None:
        self.query_one(LogView).follow()
        self._status()

    def action_save(self) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for n in range(100):
            suffix = f"-{n}" if n else ""
            name = self.profile.replace("/", "-")  # PROFILE/UNIKERNEL: one file name
            path = self.save_dir / f"workbench-logs-{name}-{stamp}{suffix}.log"
            try:
                count = self.query_one(LogView).save(path)
                break
            except FileExistsError:
                continue
            except OSError as exc:
                self.notify(f"cannot write {path}: {exc.strerror}", severity="error")
                return
        else:
            self.notify(f"cannot find a free file name in {self.save_dir}", severity="error")
            return
        self.notify(f"{count} lines saved to {path}", title="saved")

    def action_dismiss_crash(self) -> None:
        self.query_one(CrashBanner).dismiss()

    def action_clear(self) -> None:
        self.query_one(LogView).clear()
        self._status()

    def action_back(self) -> None:
        box = self.query_one("#search", Input)
        if box.has_focus:
            box.display = False
            self.query_one(LogView).focus()
            return
        self.app.pop_screen()


def _cycle(options: list[str], current: str | None) -> str | None:
    """The next of None (all) -> options... -> None."""
    if current is None:
        return options[0] if options else None
    if current not in options:
        return None
    i = options.index(current) + 1
    return options[i] if i < len(options) else None
