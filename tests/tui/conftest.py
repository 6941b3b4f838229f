from __future__ import annotations

import time

import pytest

from tests.tui.replay import ReplayBackend
from workbench.app.main import WorkbenchApp

SIZE = (120, 36)


@pytest.fixture
def backend() -> ReplayBackend:
    return ReplayBackend()


@pytest.fixture
def app(backend: ReplayBackend) -> WorkbenchApp:
    return WorkbenchApp(backend)


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Every worker done and every message handled: no sleeping on a guess."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def until(pilot, condition, what: str, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until `condition()` holds (the lab answers at its own pace); the
    deadline only catches a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        await pilot.pause(0.05)


def screen_text(app) -> str:  # type: ignore[no-untyped-def]
    """The current screen as plain text, one line per terminal row (what a user reads)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()
