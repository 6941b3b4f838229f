"""`workbench stop` and `start` on the lab target: a stopped unikernel stays stopped (disabled,
so a reboot respects it) with its release, unit and network kept; start brings it back."""

from __future__ import annotations

import json

import pytest

from tests.lab.deploykit import (
    HEALTHY,
    artifact,
    deploy,
    failures,
    json_events,
    on_target,
    remove,
    variant,
)
from tests.lab.deploykit import workbench as wb

pytestmark = pytest.mark.lab


@pytest.fixture
def v(lab, tmp_path):
    var = variant(tmp_path, 5)  # a number no other lab test uses
    remove(var)
    yield var
    remove(var)


def run(verb: str, v) -> tuple[int, list[dict], str]:
    result = wb(verb, "--profile", str(v.path), "--json", timeout=120)
    return result.returncode, json_events(result.stdout), result.stderr


def unit_state(v) -> list[str]:
    return on_target(
        f"systemctl is-active {v.unit}; systemctl is-enabled {v.unit}; "
        f"readlink {v.release_dir}/current; test -e /etc/systemd/system/{v.unit} && echo unit; "
        f"ip -br link show {v.tap} | cut -d' ' -f1"
    ).stdout.split()


def test_stop_keeps_it_down_and_start_brings_it_back(v, tmp_path):
    code, events, err = run("start", v)  # nothing deployed yet
    assert code == 4, err
    assert failures(events) == (
        f"{v.unit} is not installed on target (systemd says not-found)\n"
        f"hint: deploy first: workbench deploy --profile {v.name}\n"
    )

    code, events, err = deploy(v, artifact(tmp_path, "app", HEALTHY))
    assert code == 0, err
    release = events[-1]["release"]

    code, events, err = run("stop", v)
    assert code == 0, err
    done = events[-1]
    assert (done["changed"], done["summary"]) == (
        True,
        f"stopped: {v.unit} inactive, disabled; `workbench start` brings it back",
    )
    # Down and disabled; the release, the unit file and the tap are kept for start.
    assert unit_state(v) == ["inactive", "disabled", f"releases/{release}", "unit", v.tap]
    status = wb("status", "--profile", str(v.path), "--json", timeout=60)
    assert json.loads(status.stdout.splitlines()[0])["fields"]["unit"].startswith("inactive")

    code, events, err = run("stop", v)
    assert code == 0, err
    assert (events[-1]["changed"], events[-1]["summary"].split(":")[0]) == (
        False,
        "already stopped",
    )

    code, events, err = run("start", v)
    assert code == 0, err
    assert (events[-1]["changed"], events[-1]["summary"]) == (True, f"started {release}; healthy")
    assert [e["ok"] for e in events if e["event"] == "health_result"] == [True]
    assert unit_state(v)[:3] == ["active", "enabled", f"releases/{release}"]

    code, events, err = run("start", v)
    assert code == 0, err
    assert (events[-1]["changed"], events[-1]["summary"]) == (False, f"already running {release}")
