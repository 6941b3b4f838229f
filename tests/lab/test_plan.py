"""`plan` then `deploy` on the real target, in the states where they once disagreed: what plan
says deploy will change is what deploy then changes."""

from __future__ import annotations

import pytest

from tests.lab.deploykit import (
    HEALTHY,
    artifact,
    deploy,
    json_events,
    on_target,
    remove,
    tender,
    variant,
    workbench,
)

pytestmark = pytest.mark.lab


@pytest.fixture
def v(lab, tmp_path):
    var = variant(tmp_path, 47)
    remove(var)
    yield var
    remove(var)


def planned(v, art) -> list[str]:
    result = workbench("plan", "--profile", str(v.path), "--json", *_inputs(art))
    assert result.returncode == 0, result.stderr
    events = json_events(result.stdout)
    changed = [e["step"] for e in events if e["event"] == "step_finished" and e["changed"]]
    # deploy reports enabling the unit and recording its owner in its "unit" step
    return list(dict.fromkeys("unit" if s in ("enable", "owner") else s for s in changed))


def _inputs(art) -> list[str]:
    return ["--artifact", str(art), "--tender", str(tender())]


def deployed(v, art) -> list[str]:
    code, events, err = deploy(v, art)
    assert code == 0, err
    return [e["step"] for e in events if e["event"] == "step_finished" and e["changed"]]


def test_plan_says_what_deploy_then_does(v, tmp_path):
    art = artifact(tmp_path, "app", HEALTHY)
    fresh = planned(v, art)
    # The service user is shared by every profile on the host: an earlier test may have made it.
    user = ["user"] if on_target("id -u unikernel").returncode != 0 else []
    assert fresh == ["upload", *user, "network", "unit", "switch", "restart"]
    assert deployed(v, art) == fresh

    on_target(f"ip link set {v.tap} down")  # plan once ignored a tap that is not up
    assert planned(v, art) == ["network", "restart"]
    assert deployed(v, art) == ["network", "restart"]

    on_target(f"systemctl disable {v.unit}")  # ... and a unit that is not enabled
    assert planned(v, art) == ["unit", "restart"]
    assert deployed(v, art) == ["unit", "restart"]

    assert planned(v, art) == []
    assert deployed(v, art) == []
