"""bridge-uplink on the x86_64 VM, whose uplink we may cut without harming the other lab hosts:
a working change is confirmed over a fresh SSH connection; a change that cuts the host off is
reverted by the host itself, and deploy says so."""

from __future__ import annotations

import pytest

from tests.lab.deploykit import (
    HEALTHY,
    ROOT,
    artifact,
    deploy_args,
    json_events,
    on_vm,
    workbench,
)
from workbench.lab import tender_double, vm

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def uplink() -> str:
    return on_vm("ip -br link | awk '$1 ~ /^en/ {print $1}'").stdout.split()[0]


def profile(tmp_path, name: str, net: int, confirm: int) -> tuple[str, str]:
    up = uplink()
    text = (ROOT / "profiles" / "lab-vm.yaml").read_text()
    start, end = text.index("network:\n"), text.index("\nhealth:")
    text = (
        text[:start]
        + (
            "network:\n  mode: bridge-uplink\n  backend: systemd-networkd\n  bridge: br100\n"
            f"  uplink: {up}\n  address: 10.0.{net}.15/24\n  gateway: 10.0.{net}.2\n"
            f"  confirm_timeout: {confirm}\n"
        )
        + text[end:]
    )
    text = text.replace("--ipv4=10.0.0.2/24", f"--ipv4=10.0.{net}.20/24")
    text = text.replace("--ipv4-gateway=10.0.0.1", f"--ipv4-gateway=10.0.{net}.2")
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return str(path), up


def deploy(path: str, art) -> tuple[int, list[dict]]:
    result = workbench(
        *deploy_args(path, art, tender_double.build("x86_64"), "--quiet"), timeout=600
    )
    return result.returncode, json_events(result.stdout)


def restore() -> None:
    """A clean VM again: every `up` boots a fresh overlay of the cached image."""
    vm.down(vm.VM)
    vm.up(vm.VM, progress=lambda _m: None)


def test_bridge_uplink_confirmed(full_vm, tmp_path):
    path, up = profile(tmp_path, "good", 2, confirm=40)
    try:
        code, events = deploy(path, artifact(tmp_path, "app", HEALTHY))
        assert code == 0, [e for e in events if e["event"] == "step_failed"]
        network = next(
            e for e in events if e["event"] == "step_finished" and e["step"] == "network"
        )
        assert network["changed"]
        assert [e for e in events if e["event"] == "health_result"][-1]["ok"]
        state = on_vm(
            f"ip -br link show {up}; systemctl is-active "
            "workbench-netrevert-hello.timer; ls /var/lib/workbench/hello"
        ).stdout
        assert "master br100" in on_vm(f"ip link show {up}").stdout
        # The revert timer was armed, then stopped by the confirmation before it fired ("inactive"
        # alone would also be true of a timer that was never created).
        timer = on_vm(
            "journalctl -q -o cat -u workbench-netrevert-hello.timer; echo ---; "
            "journalctl -q -o cat -u workbench-netrevert-hello.service"
        ).stdout
        armed, _, revert = timer.partition("---")
        assert "Started" in armed and "Stopped" in armed, timer
        assert "Started" not in revert, timer
        assert ".net-backup-" not in state
    finally:
        restore()


def test_bridge_uplink_that_cuts_the_host_off_is_reverted(full_vm, tmp_path):
    path, up = profile(tmp_path, "bad", 9, confirm=20)
    try:
        code, events = deploy(path, artifact(tmp_path, "app", HEALTHY))
        failed = [e for e in events if e["event"] == "step_failed"]
        assert code == 4, failed
        assert "cut the connection to 127.0.0.1 (no SSH within 20 s)" in failed[0]["message"]
        assert "the host reverted it and is reachable again" in failed[0]["message"]
        # The VM is back on its own uplink config.
        assert on_vm("true").returncode == 0
        assert "master br100" not in on_vm(f"ip link show {up}").stdout
        files = on_vm("ls /etc/systemd/network/").stdout.split()
        assert "05-uplink.network" in files, files
        assert not [f for f in files if f.startswith("00-workbench")], files
    finally:
        restore()
