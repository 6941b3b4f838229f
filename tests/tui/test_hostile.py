"""Text that is not ours, in the TUI: a host's stderr, a unikernel's line inside a health reason,
a disconnect reason sent before any key exchange, a profile's description, what the user types.
Shown literally everywhere; never Textual markup (a crash, or a live action); never a terminal
escape."""

from __future__ import annotations

import time
from dataclasses import replace

from textual.widgets import DataTable, Input, Static

from tests.tui.conftest import SIZE, settle
from tests.tui.replay import LAB, ReplayBackend
from workbench.app.main import WorkbenchApp
from workbench.app.screens.logs import LogsScreen
from workbench.app.screens.run import RunScreen
from workbench.events import HealthResult, HostDone, RolledBack, StepFailed

MARKUP = "[@click=app.quit]x[/] [/etc/x] [/] [b"
ESC = "\x1b]0;owned\x07\x1b[2J"


def failure(step: str = "status") -> StepFailed:
    return StepFailed(
        host="target",
        step=step,
        message=f"Disconnected: {MARKUP}{ESC}",
        hint=f"stderr said {MARKUP}{ESC}",
        kind="connect",
        exit_code=3,
    )


def shown(app) -> str:  # type: ignore[no-untyped-def]
    """Everything on screen as text: notifications, and every Static's content."""
    parts = [f"{n.title} {n.message}" for n in app._notifications]
    parts += [str(w.render()) for w in app.screen.query(Static)]
    return "\n".join(parts)


async def test_markup_from_a_host_is_literal_text_not_an_action():
    app = WorkbenchApp(ReplayBackend({"status": [failure()]}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        detail = str(app.screen.query_one("#detail", Static).render())
        assert MARKUP in detail and "\x1b" not in detail


async def test_a_failed_deploy_with_markup_and_escapes_in_its_reasons():
    reason = f"Fatal error: exception Failure({MARKUP}){ESC}"
    events = [
        HealthResult(
            host="target",
            step="health",
            ok=False,
            target="http",
            detail=reason,
            seconds=1.0,
            attempts=1,
        ),
        RolledBack(host="target", step="rollback", from_release="a", to_release="b", reason=reason),
        failure("health"),
        HostDone(host="target", step="done", ok=False, summary=reason),
    ]
    app = WorkbenchApp(ReplayBackend({"deploy": events}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen), "the app is still running its deploy screen"
        text = shown(app)
        assert MARKUP in text, text
        assert "\x1b" not in text
        for table in app.screen.query(DataTable):
            for row in range(table.row_count):
                assert "\x1b" not in "".join(str(c) for c in table.get_row_at(row))


async def test_typing_markup_into_the_log_search():
    app = WorkbenchApp(ReplayBackend())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, LogsScreen)
        await pilot.press("slash")
        assert app.screen.query_one("#search", Input).has_focus
        await pilot.press(*"[/]", "enter")
        await settle(pilot)
        assert isinstance(app.screen, LogsScreen)
        assert "'[/]' is not in the buffer" in shown(app)


async def test_a_profile_description_cannot_write_to_the_terminal():
    entry = replace(LAB, description=f"my lab {ESC}{MARKUP}")
    app = WorkbenchApp(ReplayBackend(entries=[entry]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        detail = str(app.screen.query_one("#detail", Static).render())
        assert "my lab" in detail and MARKUP in detail and "\x1b" not in detail


async def test_saving_the_log_never_follows_a_planted_symlink(tmp_path, monkeypatch):
    """The file name is predictable (profile and time), so another user could plant a symlink
    at it: the save creates a new file exclusively and takes the next free name."""
    monkeypatch.chdir(tmp_path)
    real = time.strftime
    monkeypatch.setattr(
        time,
        "strftime",
        lambda fmt, *a: "20261126-000000" if fmt == "%Y%m%d-%H%M%S" else real(fmt, *a),
    )
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (tmp_path / "workbench-logs-lab-20261126-000000.log").symlink_to(victim)
    app = WorkbenchApp(ReplayBackend())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        await pilot.press("w")
    assert victim.read_text() == "keep me\n"
    saved = tmp_path / "workbench-logs-lab-20261126-000000-1.log"
    assert saved.read_text().split(" ", 1)[1].startswith("target | ")
