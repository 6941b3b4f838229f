"""solo5-spt on a host without /dev/kvm (the lab's `nokvm`, as a cloud VM without nested
virtualisation is): the artifact's target picks the tender, preflight asks for seccomp filters
instead of KVM, and deploy, health, logs and rollback hold as for hvt. On a host with both, a
rollback across runtimes is refused, since the unit runs one tender."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.lab.deploykit import (
    CRASHES,
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
from workbench.lab import config, hostkeys, manager, solo5elf

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def nokvm(lab):
    manager.up(progress=lambda _m: None, nokvm=True)


def on_nokvm(command: str) -> subprocess.CompletedProcess[str]:
    argv = [*hostkeys.ssh_argv(config.NOKVM.address), command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def spt_artifact(tmp_path: Path, name: str, spec: dict) -> Path:
    path = tmp_path / f"{name}.spt"
    path.write_bytes(
        solo5elf.build(
            target="spt",
            devices=[("service", "NET_BASIC")],
            extra_sections={".workbench.lab.guest": json.dumps(spec).encode()},
        )
    )
    return path


@pytest.fixture
def spt_host(nokvm, tmp_path):
    v = variant(tmp_path, 1)  # a number no other lab test uses
    v.path.write_text(v.path.read_text().replace(config.TARGET.address, config.NOKVM.address))
    remove(v, on_nokvm)
    yield v
    remove(v, on_nokvm)


def test_spt_deploys_checks_and_rolls_back_where_there_is_no_kvm(spt_host, tmp_path):
    v = spt_host
    assert on_nokvm("test -e /dev/kvm || echo none").stdout.strip() == "none"

    # hvt cannot run here: refused before anything is written, pointing at spt.
    code, events, err = deploy(v, artifact(tmp_path, "hvt_app", HEALTHY))
    assert code != 0
    assert "/dev/kvm missing" in err and "under solo5-spt: `build.target: spt`" in err, err
    assert on_nokvm(f"test -e {v.release_dir} || echo clean").stdout.strip() == "clean"

    # The same profile (build.target: hvt) with an .spt artifact runs it under solo5-spt.
    code, events, err = deploy(v, spt_artifact(tmp_path, "app", HEALTHY))
    assert code == 0, err
    good = events[-1]["release"]
    checks = {e["name"]: e for e in events if e["event"] == "fact"}
    assert checks["seccomp"]["ok"] is True and "kvm" not in checks
    unit = on_nokvm(f"cat /etc/systemd/system/{v.unit}").stdout
    assert f"ExecStart={v.release_dir}/current/solo5-spt --mem=64 --net:service={v.tap} " in unit
    lines = unit.splitlines()
    assert "MemoryDenyWriteExecute=yes" not in lines and "DeviceAllow=/dev/kvm rw" not in lines
    # The double's spt start-up ran under the unit: its own seccomp filter is on the process.
    pid = on_nokvm(f"systemctl show -p MainPID --value {v.unit}").stdout.strip()
    status = on_nokvm(f"grep -E '^(Seccomp|NoNewPrivs):' /proc/{pid}/status").stdout.split()
    assert status == ["NoNewPrivs:", "1", "Seccomp:", "2"], status
    assert "Serving" not in err
    logs = wb("logs", "--profile", str(v.path), "--lines", "50", "--json")
    lines = [e.get("text", "") for e in json_events(logs.stdout) if e["event"] == "log_line"]
    assert "Solo5: Bindings version v0.12.1" in lines, lines

    # A release that crashes is rolled back to the healthy one; spt dies of the crash itself.
    code, events, err = deploy(v, spt_artifact(tmp_path, "bad", CRASHES))
    assert code != 0
    rolled = [e for e in events if e["event"] == "rolled_back"]
    assert rolled and rolled[0]["to_release"] == good, err
    assert on_nokvm(f"readlink {v.release_dir}/current").stdout.strip().endswith(good)
    assert on_nokvm(f"systemctl is-active {v.unit}").stdout.strip() == "active"


@pytest.fixture
def both(lab, tmp_path):
    v = variant(tmp_path, 2)  # a number no other lab test uses
    remove(v)
    yield v
    remove(v)


def test_a_rollback_across_runtimes_is_refused_saying_why(both, tmp_path):
    v = both
    code, events, err = deploy(v, artifact(tmp_path, "hvt_app", HEALTHY))
    assert code == 0, err
    hvt_release = events[-1]["release"]
    code, events, err = deploy(v, spt_artifact(tmp_path, "spt_app", HEALTHY))
    assert code == 0, err
    spt_release = events[-1]["release"]
    assert "current/solo5-spt" in on_target(f"cat /etc/systemd/system/{v.unit}").stdout

    result = wb("rollback", "--profile", str(v.path), "--json")
    assert result.returncode != 0
    said = failures(json_events(result.stdout))
    assert (
        f"not rolling back: {hvt_release} runs under solo5-hvt and {spt_release} under "
        "solo5-spt; the unit runs one tender" in said
    ), said
    assert on_target(f"readlink {v.release_dir}/current").stdout.strip().endswith(spt_release)
    assert on_target(f"systemctl is-active {v.unit}").stdout.strip() == "active"
