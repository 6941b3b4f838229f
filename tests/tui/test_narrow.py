"""The TUI at a Pi console's 80x24 and at 160x45: what must stay on screen (host, health, unit,
uptime; `? Help` and `q Quit`), columns kept by priority, the check's fixes in a pane."""

from __future__ import annotations

import dataclasses

import pytest
from textual.widgets import DataTable

from tests.tui.conftest import screen_text, settle
from tests.tui.replay import BROKEN, LAB, ReplayBackend, recording
from workbench.app.hostrows import COLUMNS, HostRow, fit, widths
from workbench.app.main import WorkbenchApp
from workbench.events import Status


def healthy_status() -> Status:
    (status,) = recording("status")
    assert isinstance(status, Status)
    fields = dict(status.fields) | {"health": "ok", "health_detail": "http://x/: HTTP 200"}
    return dataclasses.replace(status, fields=fields)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_the_dashboard_keeps_what_matters_and_the_way_out(size):
    app = WorkbenchApp(ReplayBackend({"status": [healthy_status()]}, entries=[LAB, BROKEN]))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        text = screen_text(app)
        header = text.splitlines()[1].split()
        for column in ("host", "unit", "health", "uptime"):
            assert column in header, (column, header)
        assert "healthy" in text and "active/running" in text
        footer = text.splitlines()[-1]
        assert "? Help" in footer and "q Quit" in footer, footer
        if size[0] >= 160:  # room for every column
            assert header == [c.name for c in COLUMNS]


async def test_columns_follow_the_terminal_width_and_the_cursor_stays():
    app = WorkbenchApp(ReplayBackend(entries=[LAB, BROKEN]))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down")
        table = app.screen.query_one("#hosts", DataTable)
        wide = len(table.columns)
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert len(table.columns) < wide
        assert table.cursor_row == 1, "the selection survives the narrowing"


def test_columns_are_kept_by_rank_and_names_are_fitted():
    long = dataclasses.replace(LAB, name="x86-serve-rack-2")
    rows = [HostRow(LAB, "target"), HostRow(long, "x86-serve")]
    w = widths(rows)
    assert w["profile"] == len("x86-serve-rack-2") and w["host"] == len("x86-serve")
    narrow = fit(60, w)
    assert {"host", "unit", "health"} <= set(narrow)
    assert "boot" not in narrow and "cpu" not in narrow  # the lowest ranks go first
    assert set(fit(80, w)) <= set(fit(120, w)) <= set(fit(200, w))


async def test_check_shows_the_selected_rows_fix_in_a_pane_at_80_columns():
    app = WorkbenchApp(ReplayBackend(entries=[LAB]))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        text = screen_text(app)
        assert "fix: add unikernel to group kvm" in text  # the first failure, selected at once
        assert "? Help" in text.splitlines()[-1]
        await pilot.press("up")
        await settle(pilot)
        assert "fix:" not in screen_text(app)  # an ok row has no fix


async def test_colours_built_in_code_follow_a_theme_change():
    """themed.colour is cached per theme (the logs screen asks per batch of lines): another
    theme is another colour, and the first theme's comes back with it."""
    from workbench.app.widgets import themed

    app = WorkbenchApp(ReplayBackend({"status": [healthy_status()]}, entries=[LAB]))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.theme = "textual-dark"
        dark = themed.colour(app.screen, "text-success")
        assert dark == themed._colour(app.get_css_variables(), "text-success")
        app.theme = "textual-light"
        await settle(pilot)
        light = themed.colour(app.screen, "text-success")
        assert light == themed._colour(app.get_css_variables(), "text-success") != dark
        app.theme = "textual-dark"
        assert themed.colour(app.screen, "text-success") == dark
