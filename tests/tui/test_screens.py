"""Pilot tests of every screen and action, driven by event streams recorded from the lab."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, OptionList, ProgressBar, Static

from tests.tui.conftest import SIZE, screen_text, settle, until
from tests.tui.replay import BROKEN, LAB, ReplayBackend, recording
from workbench.app.main import WorkbenchApp
from workbench.app.screens.check import CheckScreen
from workbench.app.screens.dashboard import DashboardScreen
from workbench.app.screens.dialogs import ConfirmScreen, HelpScreen, PickerScreen
from workbench.app.screens.logs import LogsScreen
from workbench.app.screens.plan import PlanScreen
from workbench.app.screens.run import RunScreen
from workbench.app.widgets.crash import CrashBanner
from workbench.app.widgets.logview import LogView
from workbench.app.widgets.steps import StepTable
from workbench.app.widgets.timeline import BootTimeline
from workbench.engine.status import parse_status
from workbench.errors import ConnectError
from workbench.events import (
    BootPhase,
    HealthResult,
    HostMetrics,
    LogLine,
    Status,
    StepFailed,
    StepFinished,
    StepStarted,
    UnikernelMetrics,
)


def cells(table: DataTable, key: str) -> dict[str, str]:
    """A row's cells by column name (which columns show depends on the terminal's width)."""
    names = [str(c.key.value) for c in table.ordered_columns]
    return dict(zip(names, map(str, table.get_row(key)), strict=True))


def plain(widget: Static) -> str:
    return str(widget.render())


# -- dashboard ---------------------------------------------------------------------------------


async def test_dashboard_shows_each_hosts_live_state():
    app = WorkbenchApp(ReplayBackend(entries=[LAB, BROKEN]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#hosts", DataTable)
        row = cells(table, "lab/target")
        assert row["profile"] == "lab" and row["host"] == "target"
        assert row["runtime"] == "hvt"  # the runtime of its release, KVM usable
        assert row["unit"] == "active/running"
        (status,) = recording("status")
        assert isinstance(status, Status)
        assert row["release"] == status.fields["release"][:7]  # type: ignore[index]
        assert row["restarts"] == "0"
        assert row["memory"].endswith("M") and row["boot"] == "0.20 s"
        assert set(row["memory"].split()[0]) <= set("▁▂▃▄▅▆▇█")
        bars = set("▁▂▃▄▅▆▇█")
        assert row["cpu"].strip() and set(row["cpu"].strip()) <= bars
        assert row["net"].strip() and set(row["net"].strip()) <= bars
        assert cells(table, "broken/-")["unit"] == "bad profile"
        detail = plain(app.screen.query_one("#detail", Static))
        assert "target (10.213.0.2, x86_64)  unikernel hello, built on builder" in detail
        assert "last answer" in detail and "UTC" in detail
        await pilot.press("down")
        assert "hosts.pi.adress: unknown field" in plain(app.screen.query_one("#detail", Static))
        await pilot.press("d")  # an invalid profile cannot be deployed: a notice, no screen
        assert isinstance(app.screen, DashboardScreen)
        assert any("does not load" in n.message for n in app._notifications)


async def test_dashboard_unreachable_host_says_why_and_what_to_do():
    failed = StepFailed(
        host="target",
        step="status",
        message="cannot reach 10.213.0.2:22: connection refused",
        hint="is sshd running there?",
        kind="connect",
        exit_code=3,
    )
    app = WorkbenchApp(ReplayBackend({"status": [failed]}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row = cells(app.screen.query_one("#hosts", DataTable), "lab/target")
        assert row["unit"] == "unreachable" and row["health"] == "-"
        detail = plain(app.screen.query_one("#detail", Static))
        assert "connection refused" in detail and "fix: is sshd running there?" in detail
        assert "last try" in detail and "it never answered" in detail
        assert "last answer" not in detail


async def test_dashboard_shows_a_tender_crash_loop_and_its_fix():
    captured = (Path(__file__).parents[1] / "data" / "status-crash-loop.txt").read_text()
    status = Status(host="target", step="status", fields=parse_status(captured))
    app = WorkbenchApp(ReplayBackend({"status": [status]}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert cells(app.screen.query_one("#hosts", DataTable), "lab/target")["unit"] == (
            "restarting ×3"
        )
        detail = plain(app.screen.query_one("#detail", Static))
        assert "last: tender aborted (SIGABRT)" in detail
        assert "the tender aborted before the unikernel started (SIGABRT): solo5-hvt: " in detail
        assert "fix: the Solo5 tenders query personality(0xffffffff)" in detail


async def test_the_dashboard_follows_the_selected_unikernels_log_under_the_table():
    backend = ReplayBackend(entries=[LAB, BROKEN])
    app = WorkbenchApp(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        tail = app.screen.query_one("#tail", LogView)
        assert ("tail", "lab", ["target"]) in backend.calls
        assert tail.total == len(recording("logs")) and tail.following
        assert "[INFO] [application] serving HTTP on port 8080" in screen_text(app)
        await pilot.press("l")  # the logs screen on top: the tail is not followed twice
        await settle(pilot)
        dashboard = next(s for s in app.screen_stack if isinstance(s, DashboardScreen))
        assert dashboard.tailing is None
        assert not [w for w in dashboard.workers if w.name.startswith("tail:") and w.is_running]
        await pilot.press("escape")
        await settle(pilot)
        assert dashboard.tailing == "lab/target" and tail.rows  # following again
        await pilot.press("j")  # the broken profile's row: nothing to follow
        await pilot.pause(0.4)
        await settle(pilot)
        assert not tail.rows and app.screen.tailing is None


async def test_dashboard_refreshes_in_the_background(backend, app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.action_refresh()
        await settle(pilot)
        assert [c[0] for c in backend.calls].count("status") == 2
        assert backend.reloads == 1  # ctrl+r reads the profile files again


async def test_a_profile_fixed_on_disk_loads_on_ctrl_r_and_a_row_refreshes_after_an_action():
    backend = ReplayBackend(entries=[LAB, BROKEN])
    app = WorkbenchApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fixed = dataclasses.replace(LAB, name="broken", description="fixed on disk")
        backend.pending = [LAB, fixed]
        await pilot.press("ctrl+r")
        await settle(pilot)
        table = app.screen.query_one("#hosts", DataTable)
        assert cells(table, "broken/target")["unit"] == "active/running"
        statuses = [c[0] for c in backend.calls].count("status")
        await pilot.press("r", "y")  # a restart: its rows are asked again when it ends
        await settle(pilot)
        assert [c[0] for c in backend.calls].count("status") > statuses


# -- deploy, restart, rollback -------------------------------------------------------------------


async def test_deploy_shows_steps_build_upload_boot_and_health(backend, app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        assert ("deploy", "lab", ["target"]) in backend.calls
        states = screen.query_one(StepTable).states
        assert states[("builder", "build")] == "changed"
        assert states[("target", "upload")] == "changed"
        assert states[("target", "health")] == "healthy"
        assert states[("target", "done")] == "done"
        bar = screen.query_one("#progress", ProgressBar)
        assert bar.percentage == 1.0
        phases = screen.query_one(BootTimeline).phases["target"]
        assert set(phases) == {"banner", "memory_map", "network_up", "app_start", "healthy"}
        output = screen.query_one(LogView)
        texts = [r.text for r in output.rows]
        assert "[build] Your unikernel binary is now ready in ./dist/hello.hvt" in texts
        assert any("Bindings version v0.12.1" in t for t in texts)
        assert "deploy done" in plain(screen.query_one("#state", Static))
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_failed_deploy_shows_the_rollback_and_why():
    app = WorkbenchApp(ReplayBackend({"deploy": "deploy_rollback"}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        screen = app.screen
        outcome = plain(screen.query_one("#outcome", Static))
        assert "NOT healthy" in outcome
        assert "rolled back" in outcome and "because" in outcome
        state = plain(screen.query_one("#state", Static))
        assert state.startswith("deploy rolled back on target")
        states = screen.query_one(StepTable).states
        # True end states: the new release's check failed, the rollback worked and its own
        # check passed; nothing reads "healthy" over the failure or FAILED over the rollback.
        assert states[("target", "health")] == "FAILED"
        assert states[("target", "rollback health")] == "healthy"
        assert states[("target", "rollback")] == "rolled back ok"
        assert states[("target", "done")] == "rolled back"  # not "failed": the host is healthy
        assert not app._notifications, "the state line says it; no toast over the boot lines"
        # One timeline per attempt, markers in time order, none drawn over another.
        timeline = screen.query_one(BootTimeline)
        assert set(timeline.phases) == {"target", "target rollback"}
        text = plain(timeline)
        for bar in [line for line in text.splitlines() if " s" in line and "─" in line]:
            marks = [c for c in bar if c in "BMNAH"]
            assert marks == sorted(marks, key="BMNAH".index) or marks[0] == "B", bar
            assert len(marks) == len(set(marks)), bar
        bars = [line for line in text.splitlines() if "─" in line]
        assert [bar.count("B") for bar in bars] == [1, 1] and "H" in bars[1]
        assert [c for c in bars[1] if c in "BMNAH"] == list("BMNAH"), bars[1]  # none hidden


async def test_a_running_deploy_goes_on_in_the_background_and_cancels_truthfully(backend, app):
    backend.hold.add("deploy")
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await until(pilot, lambda: "deploy" in [c[0] for c in backend.calls], "the deploy call")
        await until(pilot, lambda: getattr(app.screen, "running", False), "a running deploy")
        screen = app.screen
        assert isinstance(screen, RunScreen) and screen.running
        await pilot.press("escape")  # leaves; the deploy goes on
        assert isinstance(app.screen, DashboardScreen)
        assert screen.running and "deploy" not in backend.finished
        await until(
            pilot,
            lambda: "deploying 0:0" in screen_text(app),
            "the dashboard row showing the deploy and its clock",
        )
        await pilot.press("d")  # the same key comes back to it, not a second deploy
        assert app.screen is screen
        assert [c[0] for c in backend.calls].count("deploy") == 1
        footer = screen_text(app).splitlines()[-1]
        assert "x Cancel" in footer and "Deploy again" not in footer
        await pilot.press("x")
        await settle(pilot)
        assert "deploy" in backend.finished  # the engine's stream was closed, not left running
        assert not screen.running
        state = plain(screen.query_one("#state", Static))
        assert "cancelled" in state  # after its switch: the recording had switched
        assert "(switch, restart, rollback) was completed first" in state
        states = screen.query_one(StepTable).states
        assert "running" not in states.values(), states
        footer = screen_text(app).splitlines()[-1]
        assert "x Cancel" not in footer and "d Deploy again" in footer
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
        assert "lab" not in app.runs, "a finished run that was left is let go"


async def test_a_deploy_cancelled_before_it_touched_a_host_says_so():
    feed: asyncio.Queue = asyncio.Queue()
    feed.put_nowait(StepStarted(host="builder", step="configure"))
    backend = ReplayBackend({"deploy": feed})
    app = WorkbenchApp(backend)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        screen = app.screen
        assert isinstance(screen, RunScreen)
        steps = screen.query_one(StepTable)
        await until(pilot, lambda: steps.states.get(("builder", "configure")) == "running", "it")
        await pilot.pause(1.2)  # the running step ticks
        ticking = str(steps.get_cell("builder\x00configure", "time"))
        assert re.fullmatch(r"[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] 0:0\d", ticking), ticking
        await pilot.press("x")
        await until(pilot, lambda: not screen.running, "the cancel")
        assert steps.states[("builder", "configure")] == "cancelled"
        state = plain(screen.query_one("#state", Static))
        assert "nothing on the hosts had changed yet" in state and "switch" not in state


async def test_a_run_that_ends_in_the_background_says_so_and_refreshes_its_rows(backend, app):
    backend.hold.add("deploy")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await until(pilot, lambda: getattr(app.screen, "running", False), "a running deploy")
        await pilot.press("escape")
        statuses = [c[0] for c in backend.calls].count("status")
        backend.release.set()
        await until(pilot, lambda: not app.runs["lab"].running, "the deploy's end")
        await settle(pilot)
        assert any(n.message.startswith("lab: builder: built") for n in app._notifications), [
            n.message for n in app._notifications
        ]
        assert [c[0] for c in backend.calls].count("status") > statuses
        run = app.runs["lab"]
        await pilot.press("d")  # back to the run that ended unseen, not a second deploy
        assert app.screen is run and run.seen
        assert [c[0] for c in backend.calls].count("deploy") == 1
        assert "deploy done" in plain(run.query_one("#state", Static))
        await pilot.press("escape", "d")  # seen and left: d is a new deploy now
        await settle(pilot)
        assert app.screen is not run and not run.is_attached
        assert [c[0] for c in backend.calls].count("deploy") == 2


async def test_a_cancel_during_the_switch_says_it_was_completed_not_undone():
    """The engine shields a switch or restart from a cancel and sends no end event for it."""
    feed: asyncio.Queue = asyncio.Queue()
    feed.put_nowait(StepStarted(host="target", step="switch"))
    app = WorkbenchApp(ReplayBackend({"deploy": feed}))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        screen = app.screen
        steps = screen.query_one(StepTable)
        await until(pilot, lambda: steps.states.get(("target", "switch")) == "running", "it")
        await pilot.press("x")
        await until(pilot, lambda: not screen.running, "the cancel")
        assert steps.states[("target", "switch")] == "completed"
        state = plain(screen.query_one("#state", Static))
        assert "was completed first" in state and "nothing" not in state


async def test_one_boot_bar_per_attempt_and_none_without_a_boot():
    boot = [
        BootPhase(host="target", step="restart", phase="banner", seconds=0.05),
        BootPhase(host="target", step="restart", phase="app_start", seconds=0.2),
        HealthResult(host="target", step="health", ok=True, target="t", detail="ok", seconds=0.3),
    ]
    noop = [HealthResult(host="target", step="health", ok=True, target="t", detail="ok", seconds=0)]
    app = WorkbenchApp(ReplayBackend({"restart": boot, "deploy": noop}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_run("restart", "lab", ["target"])
        await settle(pilot)
        timeline = app.screen.query_one(BootTimeline)
        assert list(timeline.phases) == ["target"]  # the restart's phases and its health: one bar
        assert set(timeline.phases["target"]) == {"banner", "app_start", "healthy"}
        await pilot.press("escape", "d")  # a deploy that restarted nothing: no timeline
        await settle(pilot)
        timeline = app.screen.query_one(BootTimeline)
        assert timeline.phases == {} and not timeline.display


async def test_deploy_again_after_it_ended(backend, app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        first = app.screen
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen) and app.screen is not first
        assert [c[0] for c in backend.calls].count("deploy") == 2


@pytest.mark.parametrize(
    "key,kind", [("r", "restart"), ("b", "rollback"), ("s", "stop"), ("X", "remove")]
)
async def test_restart_rollback_stop_and_remove_ask_first(backend, app, key, kind):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(key)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert isinstance(app.screen, DashboardScreen)
        assert kind not in [c[0] for c in backend.calls]
        await pilot.press(key, "y")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen) and app.screen.kind == kind
        assert (kind, "lab", ["target"]) in backend.calls
        assert app.screen.query_one(StepTable).states[("target", "done")] == "done"


async def test_start_destroys_nothing_so_it_goes_without_a_question(backend, app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen) and app.screen.kind == "start"
        assert ("start", "lab", ["target"]) in backend.calls
        assert app.screen.query_one(StepTable).states[("target", "done")] == "done"


async def test_the_remove_question_says_what_goes_and_what_stays(app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("X")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == "Remove lab on target?"
        assert "Releases are kept" in app.screen.detail
        assert "the bridge and NAT too if no other unikernel uses them" in app.screen.detail


async def test_an_engine_error_is_a_notification_not_a_crash():
    error = ConnectError("host key of 10.213.0.2 changed", "check the host, then fix known_hosts")
    app = WorkbenchApp(ReplayBackend({"deploy": error}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        note = app._notifications
        assert any(
            "host key of 10.213.0.2 changed" in n.message and "fix known_hosts" in n.message
            for n in note
        )
        assert "deploy failed: host key" in plain(app.screen.query_one("#state", Static))
        assert app.is_running


async def test_a_bug_in_a_stream_is_reported_and_the_app_keeps_running():
    app = WorkbenchApp(ReplayBackend({"check": RuntimeError("boom")}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert any(
            "RuntimeError: boom" in n.message and "bug" in n.message for n in app._notifications
        )
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_quitting_during_a_deploy_asks_and_cancels_it(backend, app):
    backend.hold.add("deploy")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d")
        while "deploy" not in [c[0] for c in backend.calls]:
            await pilot.pause()
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert isinstance(app.screen, RunScreen) and app.screen.running
        await pilot.press("q", "y")
        await pilot.pause()
    assert "deploy" in backend.finished
    assert app.return_code == 130


# -- logs ----------------------------------------------------------------------------------------


def lines(n: int, start: int = 0, level: str = "info") -> list[LogLine]:
    return [
        LogLine(host="target", step="logs", kind="app", level=level, text=f"line {i}")
        for i in range(start, start + n)
    ]


async def test_logs_follow_pause_when_scrolled_up_and_resume():
    feed: asyncio.Queue = asyncio.Queue()
    app = WorkbenchApp(ReplayBackend({"logs": feed}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        for e in lines(100):
            feed.put_nowait(e)
        log = app.screen.query_one(LogView)
        await until(pilot, lambda: log.total == 100, "100 lines in the view")
        await pilot.pause()  # the follower is a worker that never ends: no settle() here
        assert log.following and log.scroll_y == log.max_scroll_y > 0
        await pilot.press("pageup")
        assert not log.following
        top = log.scroll_y
        for e in lines(20, start=100):
            feed.put_nowait(e)
        await until(pilot, lambda: log.total == 120, "20 more lines in the view")
        await pilot.pause()
        assert log.scroll_y == top  # what the user reads holds still
        status = plain(app.screen.query_one("#status", Static))
        assert "PAUSED, 20 new line(s): F or End resumes" in status
        await pilot.press("F")
        assert log.following and log.scroll_y == log.max_scroll_y
        assert plain(app.screen.query_one("#status", Static)).startswith("following")
        feed.put_nowait(None)


async def test_logs_search_level_and_source_filters():
    app = WorkbenchApp(ReplayBackend())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        log = screen.query_one(LogView)
        await pilot.press("home", "slash")
        assert screen.query_one("#search", Input).has_focus
        await pilot.press(*"Memory map", "enter")
        assert log.current_match == log.matches[0] and not log.following  # from the top
        n = len(log.matches)
        assert n >= 2  # one per boot in the recording
        assert f"'Memory map': match 1/{n}" in plain(screen.query_one("#status", Static))
        await pilot.press("n")
        assert log.current_match == log.matches[1]
        assert f"match 2/{n}" in plain(screen.query_one("#status", Static))
        for _ in range(n - 1):  # past the last: wraps, and says so
            await pilot.press("n")
        status = plain(screen.query_one("#status", Static))
        assert f"match 1/{n} (passed the last match: wrapped to the first)" in status
        await pilot.press("f")  # the filter picker
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("escape")
        assert app.screen is screen and log.min_level == "debug"  # escape changes nothing
        screen.action_filter()
        await pilot.pause()
        picker = app.screen.query_one(OptionList)
        keys = [picker.get_option_at_index(i).id for i in range(picker.option_count)]
        picker.highlighted = keys.index("level:warning")
        await pilot.press("enter")
        await pilot.pause()
        assert log.min_level == "warning"
        assert {r.level for r in log.view} <= {"warning", "error"} and len(log.view) > 0
        screen.action_filter()
        await pilot.pause()
        app.screen.query_one(OptionList).highlighted = keys.index("source:solo5")
        await pilot.press("enter")
        await pilot.pause()
        assert log.source == "solo5" and log.view == type(log.view)()  # solo5 lines are info
        assert f"0 of {len(log.rows)} lines pass the filters" in plain(
            screen.query_one("#state", Static)
        )
        screen.action_filter()
        await pilot.pause()
        app.screen.query_one(OptionList).highlighted = 0  # reset
        await pilot.press("enter")
        await pilot.pause()
        assert len(log.view) == len(log.rows) and not screen.query_one("#state").display


async def test_search_while_following_finds_history_and_counts_matches():
    """The default mode is following: a search reaches back through the whole buffer."""
    app = WorkbenchApp(ReplayBackend())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        screen = app.screen
        log = screen.query_one(LogView)
        assert log.following
        await pilot.press("slash", *"Plugging", "enter")
        assert log.matches and log.current_match == log.matches[-1]  # the newest one
        n = len(log.matches)
        assert f"match {n}/{n}" in plain(screen.query_one("#status", Static))
        await pilot.press("n")  # from the tail, n goes on upwards (as after less's ?)
        assert log.current_match == log.matches[-2]
        row = log.view[[r.seq for r in log.view].index(log.current_match)]
        assert "Plugging" in row.text
        top = int(log.scroll_y)
        assert top <= list(log.view).index(row) < top + log.scrollable_content_region.height
        await pilot.press("N")
        assert log.current_match == log.matches[-1]
        await pilot.press("slash", *"2026-11-", "enter")  # in the time prefix the column shows
        assert not log.matches, "no match counted that is not marked on screen"


async def test_an_unreachable_host_is_a_state_in_the_pane_not_a_toast_storm():
    retry = [
        StepFinished(
            host="target",
            step="reconnect",
            detail=f"cannot reach target: connection refused; trying again in {d:.1f} s",
            hint="is sshd running there?",
        )
        for d in (0.5, 1.0, 2.0)
    ]
    feed: asyncio.Queue = asyncio.Queue()
    app = WorkbenchApp(ReplayBackend({"logs": feed}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        for event in retry:
            feed.put_nowait(event)
        await until(pilot, lambda: getattr(app.screen, "reconnects", 0) == 3, "three retries")
        await pilot.pause()
        state = plain(app.screen.query_one("#state", Static))
        assert "cannot reach target: connection refused; trying again in 2.0 s" in state
        assert "fix: is sshd running there?" in state
        assert plain(app.screen.query_one("#status", Static)).startswith("RECONNECTING")
        assert not [n for n in app._notifications if "connection" in n.message]
        # Reached again: said by the engine, not by a line (a quiet journal sends none).
        feed.put_nowait(StepFinished(host="target", step="reconnected", detail="following again"))
        await until(pilot, lambda: not app.screen.unreachable, "the host answering again")
        assert not app.screen.query_one("#state").display
        assert plain(app.screen.query_one("#status", Static)).startswith("following")
        feed.put_nowait(None)


async def test_log_lines_have_a_time_column_and_mirage_times_are_not_repeated():
    async with logs_of("logs") as (app, _pilot):
        text = screen_text(app)
        plugging = next(line for line in text.splitlines() if "Plugging into" in line)
        assert re.match(r"\s*\d\d:\d\d:\d\d \[INFO\] \[netif\] Plugging", plugging), plugging
        assert "2026-11-26T" not in text


@contextlib.asynccontextmanager
async def logs_of(stream):  # type: ignore[no-untyped-def]
    """The logs screen (after `l` on the dashboard) over the replayed `stream`."""
    app = WorkbenchApp(ReplayBackend({"logs": stream}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        yield app, pilot


async def test_logs_crash_banner_explains_the_exit_status():
    crash = [e for e in recording("deploy_rollback") if isinstance(e, LogLine)]
    async with logs_of(crash) as (app, pilot):
        banner = app.screen.query_one(CrashBanner)
        assert banner.has_class("-shown")
        assert banner.message.startswith("target: the unikernel exited with status 2:")
        assert "uncaught OCaml exception" in plain(banner)
        assert 'Failure("Invalid_argument boom")' in plain(banner)
        await pilot.press("a")
        assert not banner.has_class("-shown")


async def test_the_crash_banner_says_recovered_once_the_unit_runs_again(monkeypatch):
    """A rolled-back deploy's log: the crash, then the previous release started again, and
    no crash after it for a while: "recovered". A crash loop never gets there."""
    monkeypatch.setattr(CrashBanner, "RECOVERED_AFTER", 0.3)
    crash = [e for e in recording("deploy_rollback") if isinstance(e, LogLine)]
    exited = next(i for i, e in enumerate(crash) if "status=2/" in e.text)
    started_after = [
        e for e in crash[exited:] if e.origin == "systemd" and e.text.startswith("Started ")
    ]
    assert started_after, "the recording has the rollback's start"
    async with logs_of(crash) as (app, pilot):
        banner = app.screen.query_one(CrashBanner)
        assert banner.started is not None  # "started again at ...", then after a while:
        await until(pilot, lambda: banner.recovered, "a while without a new crash")
        assert banner.has_class("-recovered") and "✔ recovered: running since" in plain(banner)
        assert 'Failure("Invalid_argument boom")' in plain(banner)  # what happened, kept

    looping = [*crash[: exited + 1], *started_after[:1], crash[exited]]  # crashes again
    async with logs_of(looping) as (app, pilot):
        banner = app.screen.query_one(CrashBanner)
        await pilot.pause(0.5)
        assert not banner.recovered and "✖" in plain(banner)


def _spt_end(how: str) -> list[LogLine]:
    """A solo5-spt unikernel that booted, then systemd's line for how its process ended."""
    lines = [("banner", "            |      ___|"), ("solo5", "Solo5: Bindings version v0.12.1")]
    events = [LogLine(host="target", step="logs", kind=k, level="info", text=t) for k, t in lines]
    text = f"unikernel-hello.service: Main process exited, {how}"
    return [*events, LogLine(host="target", step="logs", kind="systemd", level="info",
                             text=text, origin="systemd")]  # fmt: skip


async def test_logs_of_a_stopped_spt_unikernel_show_no_crash_banner():
    """spt has no SIGTERM handler: `systemctl stop` kills it, and that is no crash."""
    async with logs_of(_spt_end("code=killed, status=15/TERM")) as (app, _pilot):
        assert not app.screen.query_one(CrashBanner).has_class("-shown")


async def test_logs_of_an_spt_seccomp_kill_say_so():
    async with logs_of(_spt_end("code=killed, status=31/SYS")) as (app, _pilot):
        banner = app.screen.query_one(CrashBanner)
        assert banner.has_class("-shown")
        assert banner.message.startswith("target: the unikernel was killed (killed, SIGSYS)")
        assert "seccomp filter" in plain(banner)


async def test_logs_of_a_clean_restart_show_no_crash_banner():
    async with logs_of("restart") as (app, _pilot):
        assert not app.screen.query_one(CrashBanner).has_class("-shown")


async def test_logs_save_writes_the_buffer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = WorkbenchApp(ReplayBackend())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        await pilot.press("w")
    [saved] = tmp_path.glob("workbench-logs-lab-*.log")
    text = saved.read_text().splitlines()
    assert len(text) == len(recording("logs"))
    first = recording("logs")[0]
    assert isinstance(first, LogLine)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(first.time))
    assert text[0].startswith(f"{stamp}.") and " target | Starting unikernel-" in text[0]


async def test_log_view_memory_is_bounded():
    app = WorkbenchApp(ReplayBackend())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        log = app.screen.query_one(LogView)
        log.clear()
        for start in range(0, 30_000, 1000):
            log.append(lines(1000, start))
        await pilot.pause()
        assert len(log.rows) == len(log.view) == log.capacity == 10_000
        assert log.total == 30_000 + len(recording("logs"))
        assert log.view[-1].text == "line 29999" and log.view[0].text == "line 20000"
        # Paused: rows falling off the front do not move what the user is reading.
        await pilot.press("pageup", "pageup")
        reading = log.view[int(log.scroll_y)].text
        log.append(lines(500, 30_000))
        await pilot.pause()
        assert log.view[int(log.scroll_y)].text == reading
        assert log.unseen == 500


# -- check, plan, help, palette ------------------------------------------------------------------


async def test_check_table_has_a_fix_for_each_failed_row(app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CheckScreen)
        table = app.screen.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        failed = [r for r in rows if r[2] == "FAIL"]
        assert failed == [
            ["target", "kvm", "FAIL", "/dev/kvm root:kvm:600; unikernel cannot open it"]
        ]
        screen = app.screen
        fixes = [f for f in screen.facts if f[3]]
        assert [f[:2] for f in fixes] == [("target", "kvm")]
        assert "usermod -aG kvm unikernel" in (fixes[0][3] or "")
        assert ["builder", "docker"] in [r[:2] for r in rows]
        assert "1 check(s) failed" in plain(app.screen.query_one("#summary", Static))


async def test_plan_lists_changes_and_shows_each_diff(app, backend):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)
        diff = plain(app.screen.query_one("#diff", Static))
        assert "unikernel-hello.service" in diff and "+ExecStart=" in diff
        seen = []
        for _ in range(8):  # down the list of changes to the network's first file
            await pilot.press("down")
            seen.append(plain(app.screen.query_one("#diff", Static)))
            if "10-workbench-tap100.netdev" in seen[-1]:
                break
        assert "10-workbench-tap100.netdev" in seen[-1], [d.split("\n", 1)[0] for d in seen]
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen)
        assert "deploy" in [c[0] for c in backend.calls]


async def test_help_lists_every_screens_keys(app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one(Static).render())
        for expected in (
            "Deploy",
            "Rollback",
            "Search",
            "Follow",
            "Cancel",
            "Run again",
            "Command palette",
        ):
            assert expected in text
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_every_action_is_in_the_command_palette(app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for title in (
            "Deploy lab",
            "Check lab",
            "Plan lab",
            "Logs lab",
            "Deploy lab to target",
            "Logs lab on target",
            "Restart lab on target",
            "Rollback lab on target",
            "Stop lab on target",
            "Start lab on target",
            "Remove lab from target",
            "Help: keys",
        ):
            assert title in titles
        await pilot.press("ctrl+p", *"Rollback lab", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)


async def test_the_current_screens_actions_are_in_the_palette(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = WorkbenchApp(ReplayBackend())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Refresh (this screen)" in {c.title for c in app.get_system_commands(app.screen)}
        await pilot.press("l")
        await settle(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Search (this screen)", "Save (this screen)", "Filter (this screen)"} <= titles
        await pilot.press("ctrl+p", *"Save (this", "enter")
        await settle(pilot)
    assert len(list(tmp_path.glob("workbench-logs-lab-*.log"))) == 1


def test_the_runtime_column_says_what_runs_it_and_flags_hvt_without_kvm():
    from workbench.app.rowtext import runtime_cell

    assert runtime_cell({"runtime": "spt", "kvm": "missing"}) == ("spt", "text-success")
    assert runtime_cell({"runtime": "hvt", "kvm": "ok"}) == ("hvt", "text-success")
    assert runtime_cell({"runtime": "hvt", "kvm": "missing"}) == ("hvt !kvm", "text-warning")
    assert runtime_cell({"runtime": "hvt", "kvm": "no access for unikernel"}) == (
        "hvt !kvm",
        "text-warning",
    )
    # Nothing deployed yet: the host's KVM, in the column's nine characters.
    assert runtime_cell({"kvm": "missing"}) == ("no kvm", "text-warning")
    assert runtime_cell({"kvm": "ok"}) == ("kvm ok", "text-success")
    assert runtime_cell({"kvm": "no access for unikernel"}) == ("no access", "text-warning")
    assert runtime_cell({}) == (None, None)
    # QEMU runs virtio and qemu guests either way: the column says when it emulates (TCG), as
    # the unit says (accel), else as far as the service user's /dev/kvm goes.
    assert runtime_cell({"runtime": "virtio", "kvm": "ok", "accel": "tcg"}) == (
        "virtio tcg",
        "text-warning",
    )
    assert runtime_cell({"runtime": "qemu", "kvm": "ok", "accel": "kvm"}) == (
        "qemu",
        "text-success",
    )
    assert runtime_cell({"runtime": "virtio", "kvm": "missing"}) == ("virtio tcg", "text-warning")


async def test_dashboard_graphs_what_the_unikernel_uses_and_flags_a_throttled_board():
    samples = recording("metrics")
    throttled = HostMetrics(
        host="target",
        step="metrics",
        fields={
            **samples[-2].fields,  # type: ignore[attr-defined]
            "throttled": "0x50005",
            "throttled_words": ["under-voltage now", "throttled now"],
            "temperatures_c": {"cpu-thermal": 81.2},
            "unikernels": 1,
        },
    )
    other = UnikernelMetrics(  # another profile's unikernel on the host: not this row's
        host="target", step="metrics", unikernel="hello", fields={"profile": "elsewhere"}
    )
    since_boot = HostMetrics(
        host="target",
        step="metrics",
        fields={**throttled.fields, "throttled_words": ["under-voltage since boot"]},
    )
    # Throttling twice in a row, then only "since boot": one toast, not three.
    stream = [*samples, other, throttled, samples[-1], throttled, samples[-1], since_boot,
              samples[-1]]  # fmt: skip
    app = WorkbenchApp(ReplayBackend({"metrics": stream}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row = app.screen.rows["lab/target"]  # type: ignore[attr-defined]
        assert len(row.series.get("cpu")) == 7  # the recording's four samples, three more
        assert row.series.get("net")[0] is None and row.series.get("net")[-1] > 0
        detail = plain(app.screen.query_one("#detail", Static))
        lines = {line.split()[0]: line for line in detail.splitlines() if line.strip()}
        assert lines["cpu"].endswith("%") and lines["memory"].endswith("MiB")
        assert lines["net"].endswith("B/s") and any(ch in lines["net"] for ch in "▂▃▄▅▆▇█")
        assert "cpu-thermal 81.2 °C" in detail
        assert "throttled before: under-voltage since boot" in detail
        toasts = [n for n in app._notifications if "under-voltage now" in n.message]
        assert len(toasts) == 1


async def test_enter_shows_the_unikernel_up_close_and_escape_goes_back():
    from workbench.app.screens.unikernel import UnikernelScreen

    app = WorkbenchApp(ReplayBackend())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, UnikernelScreen)
        plots = plain(screen.query_one("#plots", Static))
        assert plots.splitlines()[0].startswith("CPU") and "4 sample(s)" in plots
        assert "network" in plots and "B/s" in plots
        (status,) = recording("status")
        boot = status.fields["last_boot"]  # type: ignore[attr-defined]
        assert plain(screen.query_one("#boot", Static)).startswith("last boot: ")
        assert f"{boot['healthy']:.2f} s" in plain(screen.query_one("#boot", Static))
        recent = plain(screen.query_one("#recent", Static)).splitlines()
        logs = [e.text for e in recording("logs") if isinstance(e, LogLine)]
        assert recent == logs[-12:]  # the newest, in order
        assert ("logs", "lab", ["target"]) in app.backend.calls  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
