"""The revert script that undoes an unconfirmed bridge-uplink change (pure text)."""

from __future__ import annotations

import subprocess

from workbench.remote.netrevert import revert_script


def test_networkd_revert_restores_files_and_uplink(tmp_path):
    script = revert_script(
        "/var/lib/workbench/hello/.net-backup-ab12",
        [
            "/etc/systemd/network/00-workbench-eth0.network",
            "/etc/systemd/network/10-workbench-br100.network",
        ],
        "systemd-networkd",
        "eth0",
        "br100",
        bridge_existed=False,
    )
    lines = script.splitlines()
    assert lines[0] == "#!/bin/sh"
    assert (
        "if [ -e /var/lib/workbench/hello/.net-backup-ab12/0 ]; then cp -a "
        "/var/lib/workbench/hello/.net-backup-ab12/0 /etc/systemd/network/00-workbench-eth0"
        ".network; else rm -f /etc/systemd/network/00-workbench-eth0.network; fi"
    ) in lines
    assert "ip link set dev eth0 nomaster 2>/dev/null" in lines
    assert "ip link del br100 2>/dev/null" in lines  # the bridge was ours: it goes
    assert lines[-6:-3] == ["networkctl reload", "networkctl reconfigure eth0", "sleep 2"]
    assert lines[-2] == '[ -n "$gw" ] && ping -c 3 -W 1 "$gw" >/dev/null 2>&1'
    assert lines[-1] == "echo reverted > /var/lib/workbench/hello/.net-backup-ab12/reverted"
    path = tmp_path / "revert.sh"
    path.write_text(script)
    assert subprocess.run(["sh", "-n", str(path)]).returncode == 0  # valid shell


def test_ifupdown_revert_keeps_a_bridge_that_existed():
    script = revert_script(
        "/b",
        ["/etc/network/interfaces.d/workbench-br0"],
        "ifupdown",
        "eth0",
        "br0",
        bridge_existed=True,
    )
    assert "ifdown --force br0 2>/dev/null" in script
    assert "ip link del" not in script
    assert "ifup eth0 2>/dev/null" in script
