"""Several unikernels on one host (issue: many unikernels per host): two from one profile
(`unikernels:`, the second `after:` the first) and one from another profile, on one bridge.
A redeploy with nothing changed touches none of them; `--unikernel` acts on one only; stop and
start go in `after:` order; each unit is ordered after the one it names."""

from __future__ import annotations

import pytest

from tests.lab.deploykit import (
    HEALTHY,
    Variant,
    artifact,
    deploy,
    json_events,
    on_target,
    remove,
    tender,
    variant,
)
from tests.lab.deploykit import workbench as wb

pytestmark = pytest.mark.lab

# Number 6 is no other lab test's: br16 and 10.0.6.0/24; taps tap61/tap62 and tap16.
PROFILE = """\
hosts:
  target:
    address: 10.213.0.2
    user: root
    identity_file: /var/lib/workbench-lab/id_ed25519
    agent: false
    known_hosts: /var/lib/workbench-lab/known_hosts
targets: [target]
unikernels:
  - name: m6b
    artifact: {b}
    tender: {tender}
    memory: 32
    args: ["--ipv4=10.0.6.3/24", "--ipv4-gateway=10.0.6.1"]
    networks: {{service: tap62}}
    after: [m6a]
  - name: m6a
    artifact: {a}
    tender: {tender}
    memory: 32
    args: ["--ipv4=10.0.6.2/24", "--ipv4-gateway=10.0.6.1"]
    networks: {{service: tap61}}
network: {{mode: nat, bridge: br16, address: 10.0.6.1/24, backend: systemd-networkd}}
health: {{kind: http, port: 8080, path: /health, timeout: 30}}
"""


@pytest.fixture
def three(lab, tmp_path):
    """The two-unikernel profile M and the one-unikernel profile S, nothing deployed."""
    m = tmp_path / "m6.yaml"
    a, b = artifact(tmp_path, "a", HEALTHY), artifact(tmp_path, "b", HEALTHY)
    m.write_text(PROFILE.format(a=a, b=b, tender=tender()))
    s = variant(tmp_path, 6)
    s.path.write_text(s.path.read_text().replace("--ipv4=10.0.6.2/24", "--ipv4=10.0.6.4/24"))
    parts = [Variant(m, name, tap, "br16", 6) for name, tap in (("m6a", "tap61"), ("m6b", "tap62"))]
    everything = [*parts, s]
    for v in everything:
        remove(v)
    yield m, parts, s
    for v in everything:
        remove(v)


def run(*args: str) -> tuple[int, list[dict], str]:
    result = wb(*args, "--json", timeout=240)
    return result.returncode, json_events(result.stdout), result.stderr


def state(units: list[str]) -> list[str]:
    """What must not move when another unikernel is deployed: each unit's start time and
    restart count, and every workbench network file's mtime."""
    show = "; ".join(
        f"systemctl show -P ActiveEnterTimestamp -P NRestarts -P ActiveState {u}" for u in units
    )
    return on_target(
        f"{show}; stat -c '%n %Y' /etc/systemd/network/10-workbench-*6* /etc/systemd/system/"
        "unikernel-*6*.service | sort"
    ).stdout.splitlines()


def changed(events: list[dict]) -> list[tuple[str, str]]:
    return [
        (e["unikernel"], e["step"])
        for e in events
        if e["event"] == "step_finished" and e["changed"]
    ]


def test_three_unikernels_two_profiles_one_bridge(three, tmp_path):
    m, (ma, mb), s = three
    units = [ma.unit, mb.unit, s.unit]

    code, events, err = run("deploy", "--profile", str(m))
    assert code == 0, err
    done = [(e["unikernel"], e["ok"]) for e in events if e["event"] == "host_done"]
    assert done == [("m6a", True), ("m6b", True)]  # `after:` first, not the file's order
    assert on_target(f"systemctl show -P After {mb.unit}").stdout.split().count(ma.unit) == 1
    code, events, err = deploy(s, artifact(tmp_path, "s", HEALTHY))
    assert code == 0, err
    assert on_target(f"systemctl is-active {' '.join(units)}").stdout.split() == ["active"] * 3
    links = on_target("bridge link show").stdout
    assert links.count("master br16") == 3, links
    before = state(units)

    # Nothing changed: nothing written, nothing restarted, on any of the three.
    code, events, err = run("deploy", "--profile", str(m))
    assert code == 0, err
    assert changed(events) == []
    code, events, err = deploy(s, artifact(tmp_path, "s", HEALTHY))
    assert code == 0, err
    assert changed(events) == []
    assert state(units) == before

    # One unikernel of the profile, with a new release: only it is touched.
    new_b = artifact(tmp_path, "b2", {**HEALTHY, "logs": [{"msg": "b2"}]})
    m.write_text(m.read_text().replace(str(tmp_path / "b.hvt"), str(new_b)))
    code, events, err = run("deploy", "--profile", str(m), "--unikernel", "m6b")
    assert code == 0, err
    assert {e["unikernel"] for e in events} == {"m6b"}
    assert changed(events) == [("m6b", "upload"), ("m6b", "switch"), ("m6b", "restart")]
    after = state(units)
    assert after[0:3] == before[0:3] and after[6:9] == before[6:9]  # m6a's and S's units
    assert after[3:6] != before[3:6]

    # Plain output names the unikernel; stop goes in reverse order, start in `after:` order.
    result = wb("stop", "--profile", str(m))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "] stopped: " in line]
    assert [line.split("]")[0] for line in lines] == ["[target/m6b", "[target/m6a"], lines
    assert on_target(f"systemctl is-active {' '.join(units)}").stdout.split() == [
        "inactive",
        "inactive",
        "active",
    ]
    code, events, err = run("start", "--profile", str(m))
    assert code == 0, err
    done = [(e["unikernel"], e["ok"]) for e in events if e["event"] == "host_done"]
    assert done == [("m6a", True), ("m6b", True)]
    assert on_target(f"systemctl is-active {' '.join(units)}").stdout.split() == ["active"] * 3
    assert state([s.unit])[0:3] == before[6:9]  # S never moved


def test_a_unikernel_the_profile_does_not_have_is_refused_before_connecting(three):
    m, _, _ = three
    code, events, err = run("deploy", "--profile", str(m), "--unikernel", "m6c")
    assert code == 2 and events == []
    assert "profile 'm6' has no unikernel named 'm6c'" in err
    assert "did you mean 'm6a'?" in err or "did you mean 'm6b'?" in err
