"""SVG snapshots of every screen at a fixed size, from recorded lab streams.

Update after an intended change with `pytest tests/tui --snapshot-update` and look at the
report before committing."""

from __future__ import annotations

import asyncio

import pytest

from tests.tui.conftest import SIZE, settle, until
from tests.tui.replay import BROKEN, LAB, ReplayBackend
from workbench.app.main import WorkbenchApp
from workbench.app.screens import dashboard
from workbench.app.widgets.crash import CrashBanner
from workbench.app.widgets.logview import LogView
from workbench.app.widgets.steps import StepTable
from workbench.events import Event, StepFinished, StepStarted


def app(**streams: str) -> WorkbenchApp:
    return WorkbenchApp(ReplayBackend(streams, entries=[LAB, BROKEN]))


def after(*keys: str):  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        pilot.app.clear_notifications()  # toasts time out: not part of a screen's picture

    return run_before


def test_dashboard(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, run_before=after())


def test_deploy(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, run_before=after("d"))


def test_deploy_rolled_back(snap_compare):
    assert snap_compare(app(deploy="deploy_rollback"), terminal_size=SIZE, run_before=after("d"))


def test_logs(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, run_before=after("l"))


def test_logs_crash_paused_search(snap_compare, monkeypatch):
    monkeypatch.setattr(CrashBanner, "RECOVERED_AFTER", 3600.0)  # "started again", not a race
    keys = ("l", "home", "slash", *"Plugging", "enter")
    assert snap_compare(app(logs="deploy_rollback"), terminal_size=SIZE, run_before=after(*keys))


def test_check(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, run_before=after("c"))


def test_plan(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, run_before=after("p"))


def test_confirm_rollback(snap_compare, monkeypatch):
    # The releases' ages as of a fixed moment: 11 and 22 s after the recording made them.
    monkeypatch.setattr(dashboard, "NOW", lambda: 1795747015.0)
    assert snap_compare(app(), terminal_size=SIZE, run_before=after("b"))


def test_help(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, run_before=after("question_mark"))


def test_unikernel_up_close(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, run_before=after("enter"))


# A Pi's console and a wide terminal: columns kept by priority, `? Help` and `q Quit` shown.
PI, WIDE = (80, 24), (160, 45)


def test_dashboard_80x24(snap_compare):
    assert snap_compare(app(), terminal_size=PI, run_before=after())


def test_dashboard_160x45(snap_compare):
    assert snap_compare(app(), terminal_size=WIDE, run_before=after())


def test_check_80x24(snap_compare):
    assert snap_compare(app(), terminal_size=PI, run_before=after("c"))


def test_check_160x45(snap_compare):
    assert snap_compare(app(), terminal_size=WIDE, run_before=after("c"))


def test_deploy_rolled_back_80x24(snap_compare):
    assert snap_compare(app(deploy="deploy_rollback"), terminal_size=PI, run_before=after("d"))


def test_deploy_rolled_back_160x45(snap_compare):
    assert snap_compare(app(deploy="deploy_rollback"), terminal_size=WIDE, run_before=after("d"))


def _running(*events: Event) -> asyncio.Queue:
    feed: asyncio.Queue = asyncio.Queue()
    for event in events:
        feed.put_nowait(event)
    return feed


@pytest.mark.parametrize("size", [PI, WIDE], ids=["80x24", "160x45"])
def test_deploy_running(snap_compare, size, monkeypatch):
    monkeypatch.setattr(StepTable, "TICK_SECONDS", 3600.0)  # a clock would move the picture
    feed = _running(
        StepStarted(host="builder", step="configure", at=0.0),
    )
    the_app = WorkbenchApp(ReplayBackend({"deploy": feed}, entries=[LAB, BROKEN]))

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("d")
        await until(pilot, lambda: getattr(pilot.app.screen, "running", False), "running")
        await pilot.pause()

    assert snap_compare(the_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [PI, WIDE], ids=["80x24", "160x45"])
def test_deploy_cancelled(snap_compare, size, monkeypatch):
    monkeypatch.setattr(StepTable, "TICK_SECONDS", 3600.0)
    feed = _running(StepStarted(host="builder", step="configure", at=0.0))
    the_app = WorkbenchApp(ReplayBackend({"deploy": feed}, entries=[LAB, BROKEN]))

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("d")
        await until(pilot, lambda: getattr(pilot.app.screen, "running", False), "running")
        await pilot.press("x")
        await until(pilot, lambda: not pilot.app.screen.running, "cancelled")
        await pilot.pause()

    assert snap_compare(the_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [PI, WIDE], ids=["80x24", "160x45"])
def test_logs_search_while_following(snap_compare, size):
    keys = ("l", "slash", *"Plugging", "enter")
    assert snap_compare(app(), terminal_size=size, run_before=after(*keys))


@pytest.mark.parametrize("size", [PI, WIDE], ids=["80x24", "160x45"])
def test_logs_unreachable_host(snap_compare, size):
    retry = StepFinished(
        host="target",
        step="reconnect",
        detail="cannot reach target: connect to 10.213.0.2:22: connection refused; "
        "trying again in 4.0 s",
        hint="is sshd running on target? `workbench check --profile lab` says more",
        at=0.0,
    )
    feed = _running(retry)
    the_app = WorkbenchApp(ReplayBackend({"logs": feed}, entries=[LAB, BROKEN]))

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("l")
        await until(pilot, lambda: getattr(pilot.app.screen, "reconnects", 0) == 1, "a retry")
        await pilot.pause()

    assert snap_compare(the_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [PI, WIDE], ids=["80x24", "160x45"])
def test_logs_filter_hiding_everything(snap_compare, size):
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        pilot.app.screen.query_one(LogView).set_filter(min_level="error")
        pilot.app.screen._state()
        pilot.app.screen._status()
        await pilot.pause()

    assert snap_compare(app(), terminal_size=size, run_before=run_before)
