"""Two unikernels of two profiles on one bridge (issue: many unikernels per host). Deploying,
redeploying or restarting one never writes, re-applies or restarts anything of the other: the
bridge's files read the same whoever writes them, and each tap's files are its own."""

from __future__ import annotations

import pytest

from tests.lab.deploykit import HEALTHY, Variant, artifact, deploy, on_target, remove, variant

pytestmark = pytest.mark.lab


def sharing(tmp_path, backend: str) -> tuple[Variant, Variant]:
    """A on tap13 and B on tap14, both on br13 (10.0.3.0/24: A .2, B .3); numbers no other
    lab test uses."""
    a, b = variant(tmp_path, 3), variant(tmp_path, 4)
    for v in (a, b):
        text = v.path.read_text().replace("backend: systemd-networkd", f"backend: {backend}")
        v.path.write_text(text)
    text = b.path.read_text().replace("br14", "br13").replace("10.0.4.", "10.0.3.")
    b.path.write_text(text.replace("--ipv4=10.0.3.2/24", "--ipv4=10.0.3.3/24"))
    b.bridge, b.net = "br13", 3
    return a, b


def state(v: Variant) -> list[str]:
    """The unit's main PID and restart count, and the mtimes of every network file on the
    host that names its tap or its bridge: what must not move when the other is deployed."""
    return on_target(
        f"systemctl show -P MainPID {v.unit}; systemctl show -P NRestarts {v.unit}; "
        f"stat -c '%n %Y' /etc/systemd/network/*workbench* /etc/network/interfaces.d/workbench* "
        f"/etc/workbench/* 2>/dev/null | grep -E -e '-({v.tap}|{v.bridge})[. ]' | sort"
    ).stdout.splitlines()


def changed(events: list[dict]) -> list[str]:
    return [e["step"] for e in events if e["event"] == "step_finished" and e["changed"]]


@pytest.mark.parametrize("backend", ["systemd-networkd", "ifupdown"])
def test_one_unikernel_never_disturbs_another_on_the_same_bridge(tmp_path, lab, backend):
    a, b = sharing(tmp_path, backend)
    for v in (a, b):
        remove(v)
    try:
        code, events, err = deploy(a, artifact(tmp_path, "a", HEALTHY))
        assert code == 0, err
        a_running = state(a)
        files = a_running[2:]  # not vacuous: A's tap files and the bridge's are there
        assert any(a.tap in f for f in files) and any("br13" in f for f in files), a_running
        code, events, err = deploy(b, artifact(tmp_path, "b", HEALTHY))
        assert code == 0, err
        assert "network" in changed(events)  # B's own tap
        assert state(a) == a_running  # ...and nothing of A's: not its unit, not the bridge
        links = on_target("bridge link show").stdout
        assert "tap13" in links and "tap14" in links and links.count("master br13") == 2

        # Redeploying either with nothing changed changes nothing, on either side.
        b_running = state(b)
        for v, name in ((a, "a"), (b, "b")):
            code, events, err = deploy(v, artifact(tmp_path, name, HEALTHY))
            assert code == 0, err
            assert changed(events) == [], (name, changed(events))
        assert (state(a), state(b)) == (a_running, b_running)

        # A new release of B restarts B only.
        code, events, err = deploy(b, artifact(tmp_path, "b2", {**HEALTHY, "logs": [{"msg": "2"}]}))
        assert code == 0, err
        assert changed(events) == ["upload", "switch", "restart"]
        assert state(a) == a_running
        assert on_target(f"systemctl is-active {a.unit} {b.unit}").stdout.split() == ["active"] * 2

        # The bridge's own settings change (both profiles): A's deploy re-applies the bridge,
        # and B's tap goes back on it: B still answers through the bridge, not restarted.
        b_pid = state(b)[0]
        for v in (a, b):
            v.path.write_text(
                v.path.read_text().replace("address: 10.0.3.1/24", "address: 10.0.3.254/24")
            )
        code, events, err = deploy(a, artifact(tmp_path, "a", HEALTHY))
        assert code == 0, err
        assert "network" in changed(events)
        links = on_target("bridge link show").stdout
        assert links.count("master br13") == 2, links
        assert on_target("ping -c 1 -W 3 10.0.3.3").returncode == 0
        assert state(b)[0] == b_pid
        code, events, err = deploy(b, artifact(tmp_path, "b2", {**HEALTHY, "logs": [{"msg": "2"}]}))
        assert code == 0, err
        assert changed(events) == [], changed(events)  # the shared files are already right
    finally:
        if backend == "ifupdown":
            on_target(
                "ifdown --force tap13 tap14 br13 2>/dev/null; rm -f "
                "/etc/network/interfaces.d/workbench-br13-tap1[34] "
                "/etc/network/interfaces.d/workbench-br13 /etc/workbench/nat-br13.nft"
            )
        remove(b)
        remove(a)
