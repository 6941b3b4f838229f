"""The slow tier: the arm64 VM (QEMU TCG) standing in for a Raspberry Pi 3B.

Real aarch64 kernel, userland, systemd and /dev/kvm: arch detection and arch mismatch are
checked against them, and a full deploy runs there with the aarch64 build of the tender double.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.lab.deploykit import (
    HEALTHY,
    ROOT,
    artifact,
    deploy_args,
    json_events,
    on_vm,
    tender_on_vm,
    workbench,
)
from tests.reference import LOCK_PERSONALITY_ASSERTION
from workbench.examples import HELLO
from workbench.lab import tender_double, testguest, vm

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def wb(*args: str) -> subprocess.CompletedProcess[str]:
    return workbench(*args, timeout=600)  # everything on the emulated VM is slow


def on_pi(command: str) -> str:
    return on_vm(command, timeout=120, spec=vm.PI).stdout


def test_check_sees_an_arm64_host_with_kvm(pi):
    result = wb("check", "--profile", "lab-pi", "--json")
    facts = {e["name"]: e for e in json_events(result.stdout) if e["event"] == "fact"}
    assert facts["arch"]["value"].startswith("aarch64")
    assert facts["64-bit"]["ok"] and "userland arm64" in facts["64-bit"]["value"]
    assert facts["kvm"]["ok"] is True and "/dev/kvm" in facts["kvm"]["value"]
    assert facts["systemd"]["ok"]


def test_x86_artifact_is_refused_before_copying(pi, tmp_path):
    listing = "ls -A /var/lib/workbench/hello/releases 2>/dev/null"
    before = on_pi(listing)
    x86 = artifact(tmp_path, "x86", HEALTHY, arch="x86_64")
    result = wb(*deploy_args("lab-pi", x86, tender_double.build("aarch64")))
    assert result.returncode == 7
    failed = [e for e in json_events(result.stdout) if e["event"] == "step_failed"]
    # The device-tree model follows the arch: "linux,dummy-virt" here, "Raspberry Pi 3 Model B
    # Rev 1.2" on the desk.
    assert failed[0]["message"].startswith("preflight: arch: host aarch64 (")
    assert failed[0]["message"].endswith("), unikernel x86_64")
    assert "build the unikernel on an aarch64 builder" in failed[0]["hint"]
    assert on_pi(listing) == before  # nothing was copied


def test_virtio_is_refused_on_arm64_saying_why_before_copying(pi, tmp_path):
    listing = "ls -A /var/lib/workbench/hello/releases 2>/dev/null"
    before = on_pi(listing)
    kernel = testguest.build([("service", "NET_BASIC")], tmp_path / "hello.virtio")
    result = wb("deploy", "--profile", "lab-pi", "--artifact", str(kernel), "--json")
    assert result.returncode == 7
    failed = [e for e in json_events(result.stdout) if e["event"] == "step_failed"]
    assert failed[0]["message"] == (
        "preflight: virtio: this host is aarch64: Solo5 builds virtio for x86_64 only"
    )
    assert "solo5-hvt (KVM: `mirage configure -t hvt`)" in failed[0]["hint"]
    assert on_pi(listing) == before  # nothing was copied


def test_x86_tender_is_refused(pi, tmp_path):
    arm = artifact(tmp_path, "arm", HEALTHY, arch="aarch64")
    result = wb(*deploy_args("lab-pi", arm, tender_double.build("x86_64")))
    assert result.returncode == 7
    failed = [e for e in json_events(result.stdout) if e["event"] == "step_failed"]
    assert "is an x86_64 program but the host is aarch64" in failed[0]["message"]


def test_arm64_deploy_end_to_end(pi, tmp_path):
    arm = artifact(tmp_path, "arm", HEALTHY, arch="aarch64")
    result = wb(*deploy_args("lab-pi", arm, tender_double.build("aarch64"), "--quiet"))
    evs = json_events(result.stdout)
    assert result.returncode == 0, [e for e in evs if e["event"] == "step_failed"]
    assert [e for e in evs if e["event"] == "health_result"][-1]["ok"]
    assert on_pi("systemctl is-active unikernel-hello; uname -m").split() == ["active", "aarch64"]

    # The sampling script on a real arm64 Debian (cgroup v2, its own thermal zones, if any).
    result = wb("metrics", "--profile", "lab-pi", "--count", "2", "--interval", "1", "--json")
    assert result.returncode == 0, result.stderr
    evs = json_events(result.stdout)
    host = [e["fields"] for e in evs if e["event"] == "host_metrics"]
    uk = [e["fields"] for e in evs if e["event"] == "unikernel_metrics"]
    assert len(host) == 2 and host[-1]["gaps"] == [] and host[-1]["cpus"], host
    assert len(uk) == 2 and uk[-1]["state"] == "active/running", uk
    assert uk[-1]["cpu_seconds"] > 0 and uk[-1]["memory_bytes"] > 0 and uk[-1]["gaps"] == [], uk
    assert uk[-1]["cpu_percent"] is not None and "tap100" in uk[-1]["taps"]


def test_x86_builder_for_an_arm64_target_is_refused_naming_the_host_to_use(pi, tmp_path):
    text = (ROOT / "profiles" / "lab-pi.yaml").read_text()
    lab = (ROOT / "profiles" / "lab.yaml").read_text()
    builder = lab[lab.index("  builder:\n") : lab.index("\ntargets:")]
    text = text.replace("\ntargets: [pi]", f"{builder}\ntargets: [pi]")
    text = text.replace(
        "\nunikernel:",
        "\nbuild:\n  host: builder\n  image: workbench-lab/opam-double:latest\n\nunikernel:",
    )
    text = text.replace("source: ../workbench/examples/hello", f"source: {HELLO}")
    path = tmp_path / "cross.yaml"
    path.write_text(text)
    result = wb("build", "--profile", str(path), "--json")
    assert result.returncode == 2, result.stderr
    failed = [e for e in json_events(result.stdout) if e["event"] == "step_failed"]
    assert failed[0]["step"] == "arch"
    assert (
        "build host 'builder' is x86_64 but target 'pi' is aarch64: an aarch64 unikernel needs "
        "an aarch64 builder" in failed[0]["message"]
    )
    assert "build.host: pi" in failed[0]["hint"]
    # Nothing was built: the refusal comes before any container.
    assert not any(e["event"] == "build_line" for e in json_events(result.stdout))


def test_lock_personality_kills_the_arm64_tender_as_on_x86(pi):
    """Reference section 13: the aarch64 build of v0.12.1 asserts the same way."""
    locked = tender_on_vm(vm.PI, ["LockPersonality=yes"])
    assert LOCK_PERSONALITY_ASSERTION in locked, locked
    assert any(line.endswith("code=killed, status=6/ABRT") for line in locked), locked
    hardened = tender_on_vm(vm.PI, ["MemoryDenyWriteExecute=yes", "NoNewPrivileges=yes"])
    assert "Solo5: solo5_exit(0) called" in hardened, hardened
