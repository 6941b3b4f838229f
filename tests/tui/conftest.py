from __future__ import annotations

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
