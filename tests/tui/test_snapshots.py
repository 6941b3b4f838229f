"""SVG snapshots of every screen at a fixed size, from recorded lab streams.

Update after an intended change with `pytest tests/tui --snapshot-update` and look at the
report before committing."""

from __future__ import annotations

from tests.tui.conftest import SIZE, settle
from tests.tui.replay import BROKEN, LAB, ReplayBackend
from workbench.app.main import WorkbenchApp


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


def test_logs_crash_paused_search(snap_compare):
    keys = ("l", "home", "slash", *"Plugging", "enter")
    assert snap_compare(app(logs="deploy_rollback"), terminal_size=SIZE, run_before=after(*keys))


def test_check(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, run_before=after("c"))


def test_plan(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, run_before=after("p"))


def test_confirm_rollback(snap_compare):
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
