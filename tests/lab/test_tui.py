"""The real TUI against the lab: deploy from source, watch the Solo5 banner arrive live in the
logs screen, roll back, and see the dashboard follow. Real sshd, systemd, journald, dockerd."""

from __future__ import annotations

import pytest

from tests.lab.deploykit import HEALTHY, artifact, deploy, on_target, remove, variant
from tests.tui.conftest import until
from workbench.app.backend import EngineBackend
from workbench.app.main import WorkbenchApp
from workbench.app.screens.dashboard import DashboardScreen
from workbench.app.screens.dialogs import ConfirmScreen
from workbench.app.screens.logs import LogsScreen
from workbench.app.screens.run import RunScreen
from workbench.app.widgets.logview import LogView
from workbench.app.widgets.steps import StepTable

pytestmark = pytest.mark.lab


@pytest.fixture
def v(lab, tmp_path):
    var = variant(tmp_path, 71)
    remove(var)
    yield var
    remove(var)


async def finished(pilot, screen: RunScreen) -> None:  # type: ignore[no-untyped-def]
    workers = [w for w in pilot.app.workers if w.group == screen.kind]
    await pilot.app.workers.wait_for_complete(workers)
    await until(pilot, lambda: not screen.running, f"the {screen.kind} screen to settle", 10)


async def test_tui_deploy_live_banner_and_rollback(v, tmp_path):
    first = artifact(tmp_path, "first", HEALTHY)
    code, events, err = deploy(v, first, "--quiet")
    assert code == 0, err
    first_release = events[-1]["release"]

    app = WorkbenchApp(EngineBackend([str(v.path)]))
    async with app.run_test(size=(120, 36)) as pilot:
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen)
        row = dashboard.rows[f"{v.name}/target"]
        await until(pilot, lambda: row.at is not None, "the dashboard's first refresh")
        assert row.error is None and row.fields["release"] == first_release

        # Deploy from source: the build on the lab builder, then the target.
        await pilot.press("d")
        run = app.screen
        assert isinstance(run, RunScreen)
        await finished(pilot, run)
        states = run.query_one(StepTable).states
        # .get: a deploy that ended early has no health row; show every row's state then
        assert states.get(("target", "health")) == "healthy", (states, app._notifications)
        assert states.get(("target", "done")) == "done", states
        assert run.results["target"].ok
        built_release = run.results["target"].release
        assert built_release and built_release != first_release

        # Logs: the banner of a boot that happens while we watch.
        await pilot.press("l")
        logs = app.screen
        assert isinstance(logs, LogsScreen)
        view = logs.query_one(LogView)
        await until(pilot, lambda: view.total > 0, "the journal history")
        seen = view.total
        assert on_target(f"systemctl restart {v.unit}").returncode == 0
        new = lambda: list(view.rows)[-(view.total - seen) :] if view.total > seen else []  # noqa: E731
        await until(pilot, lambda: any(r.kind == "banner" for r in new()), "a live banner")
        await until(pilot, lambda: any(r.kind == "memory_map" for r in new()), "the memory map")
        assert view.following

        # Back to the dashboard, roll back (confirmed), and the dashboard shows it.
        await pilot.press("escape", "escape")
        assert app.screen is dashboard
        await pilot.press("b")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        rollback = app.screen
        assert isinstance(rollback, RunScreen) and rollback.kind == "rollback"
        await finished(pilot, rollback)
        assert rollback.results["target"].ok, rollback.results
        assert rollback.results["target"].release == first_release
        current = on_target(f"readlink {v.release_dir}/current").stdout.strip()
        assert current == f"releases/{first_release}"
        await pilot.press("escape", "ctrl+r")
        await until(pilot, lambda: row.fields.get("release") == first_release, "the refresh")
