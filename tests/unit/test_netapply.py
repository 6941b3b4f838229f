"""Which interfaces an ifupdown change takes down and up, and which bridge-uplink changes need
the dead man's switch: pure decisions over the files a deploy writes."""

from __future__ import annotations

from pathlib import Path

from workbench import profiles, render
from workbench.examples import HELLO
from workbench.remote.netapply import NetworkChange, ifupdown_order, touches_shared

ROOT = Path(__file__).resolve().parents[2]
IF = "/etc/network/interfaces.d"


def change(*paths: str, taps=("tap100",), bridge="br100", replaces=True) -> NetworkChange:  # type: ignore[no-untyped-def]
    return NetworkChange(
        backend="ifupdown",
        taps=tuple(taps),
        bridge=bridge,
        writes=tuple((p, "") for p in paths),
        replaces=replaces,
        networkd_active=False,
        stop_unit=None,
    )


UP = {"br100": True, "tap100": True, "tap101": True}


def test_only_what_changed_or_is_down_is_reapplied_bridge_first():
    assert ifupdown_order(change(f"{IF}/workbench-br100-tap100"), UP) == ["tap100"]
    # The bridge's own settings, or its NAT rules alone: the bridge (its taps are put back).
    assert ifupdown_order(change(f"{IF}/workbench-br100"), UP) == ["br100"]
    assert ifupdown_order(change("/etc/workbench/nat-br100.nft"), UP) == ["br100"]
    # A host deployed before files were split: the bridge file is replaced and the tap's is new.
    both = change(f"{IF}/workbench-br100", f"{IF}/workbench-br100-tap100")
    assert ifupdown_order(both, UP) == ["br100", "tap100"]
    # Nothing written, but the links are gone (a reboot without networking, a hand `ip link del`).
    assert ifupdown_order(change(), {}) == ["br100", "tap100"]
    assert ifupdown_order(change(), UP) == []
    # Another unikernel's tap on the bridge is never ours to take down.
    assert ifupdown_order(change(f"{IF}/workbench-br100-tap101"), UP) == []
    # tap-only: no bridge, the tap's file is workbench-TAP.
    alone = change(f"{IF}/workbench-tap100", bridge=None)
    assert ifupdown_order(alone, UP) == ["tap100"]


def test_only_a_change_to_shared_files_needs_the_uplink_switch():
    assert not touches_shared(change(f"{IF}/workbench-br100-tap100"))
    nd = "/etc/systemd/network"
    assert not touches_shared(
        change(f"{nd}/10-workbench-tap100.netdev", f"{nd}/10-workbench-tap100.network")
    )
    assert touches_shared(change(f"{IF}/workbench-br100"))
    assert touches_shared(change(f"{nd}/00-workbench-eth0.network"))
    assert touches_shared(
        change(f"{nd}/10-workbench-br100.network", f"{nd}/10-workbench-tap100.netdev")
    )


def test_a_taps_ifupdown_file_sorts_after_its_bridges(tmp_path):
    """ifupdown brings interfaces.d up in name order at boot; a tap's `master BRIDGE` needs
    the bridge up first, whatever the two are called."""
    base = (ROOT / "profiles" / "lab.yaml").read_text()
    base = base.replace("source: ../workbench/examples/hello", f"source: {HELLO}")
    for bridge, tap in (("br100", "tap100"), ("wbr0", "tap0"), ("zz", "aa")):
        text = base.replace("bridge: br100", f"bridge: {bridge}")
        (tmp_path / "p.yaml").write_text(text.replace("service: tap100", f"service: {tap}"))
        profile = profiles.load_file(tmp_path / "p.yaml").profile
        names = [
            f.path for f in render.render_network(profile, "ifupdown") if f.path.startswith(IF)
        ]
        assert names == [f"{IF}/workbench-{bridge}", f"{IF}/workbench-{bridge}-{tap}"]
        assert names == sorted(names)
