"""`workbench status` without --json: one aligned table in the dashboard's words and units
(compared with tests/golden/status.txt; regenerate with `UPDATE_GOLDEN=1 pytest tests/unit`),
and the health column's verdicts."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.unit.test_decide import LOADED
from tests.unit.test_status import running_status_text
from workbench.engine import status as status_engine
from workbench.engine.status import parse_status
from workbench.profiles.models import LogCheck
from workbench.statustext import table

DATA = Path(__file__).parents[1] / "data"
GOLDEN = Path(__file__).parents[1] / "golden" / "status.txt"


def running() -> dict[str, object]:
    return parse_status(running_status_text())


def test_status_prints_a_table_like_the_dashboard():
    ok = running() | {"health": "ok", "health_detail": "http://10.0.0.2:80/: HTTP 200"}
    failing = running() | {
        "health": "failing",
        "health_detail": "http://10.0.0.3:80/: connect to 10.0.0.3:80: refused",
        "last_boot": {"banner": 0.0863, "app_start": 0.1986, "healthy": None},
    }
    looping = parse_status((DATA / "status-crash-loop.txt").read_text())
    got = "\n".join(
        [
            *table([("target", "hello", ok)], several=False),
            "",
            *table(
                [("pi", "web", ok), ("pi", "dns", failing), ("x86", "web", looping)],
                several=True,
            ),
        ]
    )
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(got + "\n")
    assert got + "\n" == GOLDEN.read_text()
    assert "{" not in got, "no Python dict reaches the user"


def health_of(profile, fields):  # type: ignore[no-untyped-def]
    return asyncio.run(status_engine._health(None, profile, fields))  # type: ignore[arg-type]


def test_health_is_probed_only_for_a_running_unit(monkeypatch):
    calls = []

    async def probe(conn, profile):  # type: ignore[no-untyped-def]
        calls.append(profile)
        return False, "connect to 10.213.0.100:8080: refused"

    monkeypatch.setattr(status_engine.health, "probe", probe)
    p = LOADED.profile
    assert health_of(p, {"unit": "activating/auto-restart"}) == {}
    assert not calls
    got = health_of(p, {"unit": "active/running"})
    assert got["health"] == "failing" and "refused" in got["health_detail"]
    assert len(calls) == 1


def test_a_log_check_is_judged_by_the_last_boot_and_no_check_says_so():
    p = LOADED.profile
    log = p.model_copy(update={"health": LogCheck(kind="log", pattern="ready")})
    matched = {"unit": "active/running", "last_boot": {"healthy": 0.2}}
    assert health_of(log, matched)["health"] == "ok"
    assert health_of(log, {"unit": "active/running", "last_boot": {}})["health"] == "unknown"
    none = p.model_copy(update={"health": None})
    assert health_of(none, {"unit": "active/running"})["health"] == "none"
