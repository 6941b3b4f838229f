"""Confirmations name what they act on: a rollback names both releases and their ages, and is
refused with the reason (and dimmed in the footer) when there is nothing to go back to."""

from __future__ import annotations

import calendar
import dataclasses
import time

from tests.tui.conftest import screen_text, settle
from tests.tui.replay import LAB, ReplayBackend, recording
from workbench.app.main import WorkbenchApp
from workbench.app.screens.dashboard import DashboardScreen
from workbench.app.screens.dialogs import ConfirmScreen
from workbench.events import Status
from workbench.statustext import age


def status(**fields: object) -> Status:
    (event,) = recording("status")
    assert isinstance(event, Status)
    return dataclasses.replace(event, fields=dict(event.fields) | fields)


async def test_rollback_names_both_releases_and_their_ages():
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * 3600 - 120))
    two = status(previous="1215680b2ef8affe", previous_created=created)
    backend = ReplayBackend({"status": [two]}, entries=[LAB])
    app = WorkbenchApp(backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        text = screen_text(app)
        assert f"target: {two.fields['release']} (" in text
        assert "-> 1215680b2ef8affe (3h 2m old)" in text


async def test_rollback_with_nothing_to_go_back_to_is_refused_with_the_reason():
    backend = ReplayBackend({"status": [status(previous=None)]}, entries=[LAB])
    app = WorkbenchApp(backend)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert screen.check_action("rollback", ()) is None  # dimmed in the footer
        assert "b rollback: no earlier release here" in screen_text(app)
        app.confirm_run("rollback", "lab", ["target"])  # as the command palette does
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen), "no question that can only fail"
        assert any("no earlier release on target" in n.message for n in app._notifications)
        assert "rollback" not in [c[0] for c in backend.calls]


def test_a_release_age_reads_like_uptime():
    two_hours_later = calendar.timegm((2026, 11, 27, 1, 22, 8, 0, 0, 0))
    assert age("2026-11-26T23:22:08Z", two_hours_later) == "2h 0m old"
    assert age("not a time", 0) is None and age(None, 0) is None
