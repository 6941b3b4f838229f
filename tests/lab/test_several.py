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
def three(lab, tmp_path, request):
    """The two-unikernel profile M and the one-unikernel profile S, nothing deployed; on the
    network backend the test asks for (systemd-networkd unless told)."""
    backend = getattr(request, "param", "systemd-networkd")
    m = tmp_path / "m6.yaml"
    a, b = artifact(tmp_path, "a", HEALTHY), artifact(tmp_path, "b", HEALTHY)
    m.write_text(PROFILE.format(a=a, b=b, tender=tender()).replace("systemd-networkd", backend))
    s = variant(tmp_path, 6)
    text = s.path.read_text().replace("--ipv4=10.0.6.2/24", "--ipv4=10.0.6.4/24")
    s.path.write_text(text.replace("backend: systemd-networkd", f"backend: {backend}"))
    parts = [Variant(m, name, tap, "br16", 6) for name, tap in (("m6a", "tap61"), ("m6b", "tap62"))]
    everything = [*parts, s]
    for v in everything:
        remove(v)
    yield m, parts, s
    on_target(
        "ifdown --force tap61 tap62 tap16 br16 2>/dev/null; rm -f "
        "/etc/network/interfaces.d/workbench-br16* /etc/workbench/nat-br16.nft "
        "/etc/workbench/owners/unikernel-m6?.json /etc/workbench/owners/unikernel-t6.json"
    )
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
        "unikernel-*6*.service /etc/network/interfaces.d/workbench-br16* "
        "/etc/workbench/nat-br16.nft 2>/dev/null | sort"
    ).stdout.splitlines()


def changed(events: list[dict]) -> list[tuple[str, str]]:
    return [
        (e["unikernel"], e["step"])
        for e in events
        if e["event"] == "step_finished" and e["changed"]
    ]


@pytest.mark.parametrize("three", ["systemd-networkd", "ifupdown"], indirect=True)
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

    # `ps` through profile M shows all three, the other profile's too, with its owner.
    listed = wb("ps", "--profile", str(m), "--json")
    rows = {
        e["unikernel"]: (e["fields"]["profile"], e["fields"]["state"], e["fields"]["taps"])
        for e in json_events(listed.stdout)
        if e["event"] == "status"
    }
    assert rows["m6a"] == ("m6", "active/running", ["tap61"])
    assert rows["m6b"] == ("m6", "active/running", ["tap62"])
    assert rows["t6"] == ("t6", "active/running", ["tap16"])
    table = wb("ps", "--profile", str(m)).stdout.splitlines()
    assert table[0].split() == [
        "HOST", "UNIKERNEL", "PROFILE", "STATE", "RUNTIME", "RELEASE", "UPTIME", "RESTARTS",
        "MEMORY", "TAPS",
    ]  # fmt: skip
    assert any(
        line.split()[:5] == ["target", "t6", "t6", "active/running", "hvt"] for line in table
    )

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


def sums(v: Variant) -> list[str]:
    """Every file of a unikernel's, with its content's hash: byte-identical means same list."""
    return on_target(
        f"sha256sum /etc/systemd/system/{v.unit} /etc/systemd/network/10-workbench-{v.tap}.* "
        f"/etc/workbench/owners/unikernel-{v.name}.json /etc/systemd/network/10-workbench-br16.* "
        "/etc/network/interfaces.d/workbench-br16 "
        f"/etc/network/interfaces.d/workbench-br16-{v.tap} /etc/workbench/nat-br16.nft 2>/dev/null"
    ).stdout.splitlines()


@pytest.mark.parametrize("three", ["systemd-networkd", "ifupdown"], indirect=True)
def test_remove_takes_one_off_and_the_bridge_only_with_the_last(three, tmp_path):
    m, (ma, mb), s = three
    assert run("deploy", "--profile", str(m))[0] == 0
    assert deploy(s, artifact(tmp_path, "s", HEALTHY))[0] == 0

    # Another profile taking what is m6's is refused before anything is written, naming m6.
    clash = tmp_path / "clash.yaml"
    clash.write_text(s.path.read_text().replace("name: t6", "name: m6a"))
    code, events, err = deploy(
        Variant(clash, "m6a", "tap16", "br16", 6), artifact(tmp_path, "s", HEALTHY)
    )
    assert code == 2
    assert "unikernel-m6a.service on target belongs to profile 'm6' (it deployed it there)" in err
    clash.write_text(s.path.read_text().replace("service: tap16", "service: tap61"))
    code, events, err = deploy(
        Variant(clash, "t6", "tap61", "br16", 6), artifact(tmp_path, "s", HEALTHY)
    )
    assert code == 2
    assert (
        "tap tap61 on target is used by unikernel-m6a.service (unikernel 'm6a' of profile 'm6')"
        in err
    )
    assert not [e for e in events if e["event"] == "step_finished" and e["changed"]]

    # No terminal, no --yes: refused, nothing removed.
    code, events, err = run("remove", "--profile", str(m), "--unikernel", "m6b")
    assert code == 2 and "add --yes to confirm" in err
    assert on_target(f"systemctl is-active {mb.unit}").stdout.strip() == "active"

    keep_a, keep_s = (sums(ma), state([ma.unit])[:3]), (sums(s), state([s.unit])[:3])
    code, events, err = run("remove", "--profile", str(m), "--unikernel", "m6b", "--yes")
    assert code == 0, err
    steps = {e["step"]: e["detail"] for e in events if e["event"] == "step_finished"}
    files = 1 if "backend: ifupdown" in m.read_text() else 2  # its tap's: one, or .netdev+.network
    assert steps["remove"] == (
        f"unit stopped, disabled, deleted; taps tap62 deleted; {files} network file(s) deleted; "
        "owner record deleted"
    )
    assert steps["bridge"].startswith("kept: br16 is used by unikernel-")
    gone = on_target(
        f"systemctl cat {mb.unit}; ls /etc/systemd/network/10-workbench-tap62.* "
        "/etc/network/interfaces.d/workbench-br16-tap62 "
        "/etc/workbench/owners/unikernel-m6b.json; ip link show tap62"
    )
    assert gone.stdout == "", gone.stdout
    assert (sums(ma), state([ma.unit])[:3]) == keep_a and (sums(s), state([s.unit])[:3]) == keep_s
    assert on_target("ls /var/lib/workbench/m6b/releases").stdout.strip()  # kept

    # The other profile's, then the last: only then does the bridge go.
    code, events, err = run("remove", "--profile", str(s.path), "--yes")
    assert code == 0, err
    assert on_target("ip link show br16").returncode == 0
    assert state([ma.unit])[:3] == keep_a[1]
    code, events, err = run("remove", "--profile", str(m), "--yes")
    assert code == 0, err
    done = {e["unikernel"]: e["summary"] for e in events if e["event"] == "host_done"}
    assert (
        done["m6b"] == "unikernel-m6b.service was not on target; releases kept in "
        "/var/lib/workbench/m6b (--purge deletes them)"
    )
    assert done["m6a"].startswith("removed unikernel-m6a.service")
    left = on_target(
        "ip link show br16; ls /etc/systemd/network/ /etc/network/interfaces.d/ "
        "| grep -e 'workbench-.*6' ; ls /etc/workbench/owners/; nft list table ip workbench_br16"
    )
    assert "br16" not in left.stdout and "m6" not in left.stdout, left.stdout
    code, events, err = run("remove", "--profile", str(m), "--purge", "--yes")
    assert code == 0, err
    assert on_target("ls -d /var/lib/workbench/m6a /var/lib/workbench/m6b").stdout == ""
