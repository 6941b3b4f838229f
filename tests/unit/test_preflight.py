"""Preflight as a table: the lab target's recorded facts, changed the way real hosts differ
(a Pi on a 32-bit kernel, no /dev/kvm, a user outside group kvm, ...), give these verdicts."""

from __future__ import annotations

import dataclasses

import pytest

from tests.unit.test_decide import LOADED, recording
from workbench.engine import preflight

FRESH = recording("fresh")
DEPLOYED = recording("deployed")


def verdicts(facts, artifact=FRESH.artifact, extra=0):
    return {c.name: c for c in preflight.checks(LOADED.profile, facts, artifact, extra)}


def test_the_lab_target_passes_every_check():
    checks = verdicts(DEPLOYED.facts)
    assert {n: c.ok for n, c in checks.items()} == {
        "arch": True,
        "64-bit": True,
        "kvm": True,
        "tun": True,
        "systemd": True,
        "network backend": True,
        "disk": True,
        "memory": True,
    }
    assert checks["kvm"].value == "/dev/kvm root:kvm:660; unikernel can open it"


CASES = {
    "32-bit Pi kernel": (
        {"arch": "armv7l", "long_bit": 32},
        "64-bit",
        "KVM needs a 64-bit kernel on the Pi: set arm_64bit=1 in /boot/firmware/config.txt "
        "(and a 64-bit OS), then reboot",
    ),
    "32-bit userland": (
        {"dpkg_arch": "i386"},
        "64-bit",
        "a 32-bit userland on a 64-bit kernel: install a 64-bit OS (the tender is a 64-bit "
        "program)",
    ),
    "no /dev/kvm": ({"kvm": ""}, "kvm", None),
    "user outside group kvm": (
        {"user_kvm": False},
        "kvm",
        "add unikernel to group kvm: usermod -aG kvm unikernel",
    ),
    "no tun": ({"tun": ""}, "tun", "load the tun module: modprobe tun"),
    "not systemd": (
        {"pid1": "init", "systemd": "offline"},
        "systemd",
        "workbench supervises the unikernel with systemd; this host does not run it as PID 1",
    ),
    "disk full": (
        {"disk_free_kb": 1024},
        "disk",
        "free at least 16 MiB there, or lower releases.keep",
    ),
    "memory short": (
        {"mem_available_kb": 32 * 1024},
        "memory",
        "lower unikernel.memory or free memory on the host",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_host_that_differs_fails_the_check_that_says_so(case):
    change, name, hint = CASES[case]
    # Without an artifact the arch is information only: each case fails one check.
    checks = verdicts(dataclasses.replace(DEPLOYED.facts, **change), artifact=None)
    assert checks[name].ok is False
    if hint is not None:
        assert checks[name].hint == hint
    assert [n for n, c in checks.items() if c.ok is False] == [name]


def test_an_arm_host_refuses_an_x86_unikernel_with_the_fix():
    checks = verdicts(dataclasses.replace(DEPLOYED.facts, arch="aarch64", dpkg_arch="arm64"))
    assert checks["arch"].ok is False
    assert checks["arch"].hint == (
        "this host runs aarch64: build the unikernel on an aarch64 builder (build.host) and "
        "deploy that"
    )


def test_a_service_user_to_be_created_is_information_not_failure():
    checks = verdicts(FRESH.facts)
    assert checks["kvm"].ok is True  # /dev/kvm's group is kvm, which the user will be in
    assert "user unikernel will be created in group kvm" in checks["kvm"].value


def test_networkd_not_running_yet_is_said_not_failed():
    checks = verdicts(dataclasses.replace(DEPLOYED.facts, networkd="inactive"))
    assert checks["network backend"].ok is None
    assert "deploy enables it" in checks["network backend"].value


def test_the_disk_check_counts_the_upload_twice():
    need_kb = (100 << 20) * 2 // 1024 + 16 * 1024
    facts = dataclasses.replace(DEPLOYED.facts, disk_free_kb=need_kb - 1)
    assert verdicts(facts, extra=100 << 20)["disk"].ok is False
    facts = dataclasses.replace(DEPLOYED.facts, disk_free_kb=need_kb)
    assert verdicts(facts, extra=100 << 20)["disk"].ok is True
