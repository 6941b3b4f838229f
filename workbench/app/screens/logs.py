"""The live journal of one or several hosts: follows by default, pauses when scrolled up and
says so, `/` search over the whole buffer with a match counter, level/source/host filters from
a picker, a time column, highlighted banner, memory map and errors, a crash banner that explains
the exit status, an in-pane state for a host that cannot be reached, and the buffer saved."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, Input, Static

from workbench.app.messages import EngineEvents, JobEnded
from workbench.app.screens.base import WorkbenchScreen
from workbench.app.screens.dialogs import PickerScreen
from workbench.app.widgets import themed
from workbench.app.widgets.crash import CrashBanner
from workbench.app.widgets.keys import KeysFooter
from workbench.app.widgets.logrow import LEVELS, clock
from workbench.app.widgets.logview import LogView
from workbench.events import LogLine, StepFinished

HISTORY_LINES = 200


class LogsScreen(WorkbenchScreen):
    CSS_PATH = "logs.tcss"
    # One meaning per key across screens (less's F follows, as here; ctrl+r does it again).
    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next match", show=False),
        Binding("N", "previous_match", "Previous match", show=False),
        Binding("f", "filter", "Filter"),
        Binding("F", "follow", "Follow"),
        Binding("w", "save", "Save"),
        Binding("a", "dismiss_crash", "Acknowledge crash", show=False),
        Binding("ctrl+l", "clear", "Clear", show=False),
        Binding("ctrl+r", "refollow", "Reconnect", show=False),
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
        self.unreachable: dict[str, tuple[str, str | None, float]] = {}  # host: why, fix, when
        self._shown_state: Text | None = None  # what the #state pane shows
        self.said = ""  # the last search message (wrapped, none below)

    def compose(self) -> ComposeResult:
        yield Header()
        yield CrashBanner(id="crash")
        yield Static(id="state")
        yield LogView(capacity=self.capacity, show_host=len(self.hosts) > 1, id="log")
        yield Input(placeholder="search (Enter: find, Esc: close)", id="search")
        yield Static(id="status")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = f"logs {self.profile}: {', '.join(self.hosts)}"
        self.query_one("#search", Input).display = False
        self.query_one("#state", Static).display = False
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
                # Said in the pane and the status line, not in a toast per retry.
                self.reconnects += 1
                self.unreachable[event.host] = (event.detail, event.hint, event.at)
            elif isinstance(event, LogLine) or (
                isinstance(event, StepFinished) and event.step == "reconnected"
            ):
                self.unreachable.pop(event.host, None)  # a quiet journal sends no line
        self.query_one(LogView).append(lines)
        self._state()
        self._status()

    def _state(self) -> None:
        """What the pane cannot show as lines: hosts that cannot be reached (why, when it tries
        again, the fix), or filters that hide every line."""
        log, state = self.query_one(LogView), self.query_one("#state", Static)
        out = themed.SafeText()
        for host, (why, fix, at) in sorted(self.unreachable.items()):
            stamp = clock(at)
            who = "" if why.startswith("cannot reach") else f"{host}: "
            warn = themed.style(self, "text-warning", bold=True)
            out.append(f"{who}{why} (at {stamp} UTC)\n", warn)
            if fix:
                out.append(f"  fix: {fix}\n")
        if log.rows and not log.view:
            out.append(
                f"0 of {len(log.rows)} lines pass the filters ({self._filters()}): "
                "f to change them\n",
                themed.style(self, "text-warning"),
            )
        # Called for every batch of lines: an unchanged pane is not updated, since an update
        # of this auto-height Static is a new layout of the whole screen.
        if out != self._shown_state:
            self._shown_state = out
            state.update(out)
            state.display = bool(out.plain)

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
            parts.append(themed.text(self, "ENDED (ctrl+r follows again)", "text-error", bold=True))
        elif self.unreachable:
            parts.append(themed.text(self, "RECONNECTING", "text-warning", bold=True))
        elif log.following:
            parts.append(themed.text(self, "following", "text-success", bold=True))
        else:
            news = f", {log.unseen} new line(s)" if log.unseen else ""
            parts.append(
                themed.text(self, f"PAUSED{news}: F or End resumes", "text-warning", bold=True)
            )
        parts.append(themed.text(self, "   " + self._filters()))
        if log.search_text:
            where = (
                f"match {log.match_at + 1}/{len(log.matches)}"
                if log.current_match is not None
                else f"{len(log.matches)} matches"
            )
            said = f" ({self.said})" if self.said else ""
            parts.append(themed.text(self, f"   '{log.search_text}': {where}{said}", "text-accent"))
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
        # One line high and as wide as the screen: new text never needs a new layout, which a
        # batch of lines 20 times a second would otherwise cost the whole screen.
        self.query_one("#status", Static).update(text, layout=False)

    def _filters(self) -> str:
        log = self.query_one(LogView)
        filters = [f"level ≥ {log.min_level}"]
        if log.source:
            filters.append(f"source {log.source}")
        if log.host:
            filters.append(f"host {log.host}")
        return ", ".join(filters)

    # -- actions ---------------------------------------------------------------------------------

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        log = self.query_one(LogView)
        said = log.search(event.value)
        if said is None and event.value:
            self.notify(f"'{event.value}' is not in the buffer", severity="warning", timeout=3)
        self.said = said or ""
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
            return
        said = log.next_match(backwards=backwards)
        if said is None:
            self.notify(f"no match for '{log.search_text}'", severity="warning", timeout=3)
        self.said = said or ""
        self._status()

    def action_filter(self) -> None:
        """One picker for every filter, with a reset at the top (no cycling through sources)."""
        log = self.query_one(LogView)
        options = [("reset", "show everything (reset every filter)")]
        options += [(f"level:{lv}", f"level: {lv} and above") for lv in LEVELS]
        options += [("source:", "source: all")]
        options += [(f"source:{src}", f"source: {src}") for src in log.sources()]
        if len(self.hosts) > 1:
            options += [("host:", "host: all")]
            options += [(f"host:{h}", f"host: {h}") for h in log.hosts()]

        def picked(key: str | None) -> None:
            if key is None:
                return
            what, _, value = key.partition(":")
            if what == "reset":
                log.set_filter(min_level="debug", source=None, host=None)
            elif what == "level":
                log.set_filter(min_level=value)
            elif what == "source":
                log.set_filter(source=value or None)
            elif what == "host":
                log.set_filter(host=value or None)
            self._state()
            self._status()

        current = f"source:{log.source}" if log.source else f"level:{log.min_level}"
        self.app.push_screen(PickerScreen("Show which lines?", options, current), picked)

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
        self._state()
        self._status()

    def action_back(self) -> None:
        box = self.query_one("#search", Input)
        if box.has_focus:
            box.display = False
            self.query_one(LogView).focus()
            return
        self.app.pop_screen()
