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


def with_network(**update):
    p = LOADED.profile
    return p.model_copy(update={"network": p.network.model_copy(update=update)})


NETWORK_CASES = {
    "networkd running": (
        {},
        {},
        [preflight.Check("network backend", True, "systemd-networkd")],
    ),
    "networkd not running yet": (
        {},
        {"networkd": "inactive"},
        [
            preflight.Check(
                "network backend", None, "systemd-networkd (not running yet: deploy enables it)"
            )
        ],
    ),
    "NetworkManager beside it": (
        {},
        {"networkmanager": "active"},
        [
            preflight.Check(
                "network backend",
                True,
                "systemd-networkd (NetworkManager also runs: it leaves interfaces it does not "
                "manage alone)",
            )
        ],
    ),
    "ifupdown asked, not installed": (
        {"backend": "ifupdown"},
        {"ifupdown": False},
        [
            preflight.Check(
                "network backend",
                False,
                "ifupdown is not installed",
                "apt-get install ifupdown bridge-utils, or set network.backend",
            )
        ],
    ),
    "ifupdown NAT without nft": (
        {"backend": "ifupdown"},
        {"nft": False},
        [
            preflight.Check("network backend", True, "ifupdown"),
            preflight.Check(
                "nftables",
                False,
                "nft missing (NAT mode loads an nftables rule set)",
                "apt-get install nftables",
            ),
        ],
    ),
    "ifupdown tap-only without nft": (
        {"backend": "ifupdown", "mode": "tap-only"},
        {"nft": False},
        [preflight.Check("network backend", True, "ifupdown")],
    ),
    "auto picks networkd when it runs": (
        {"backend": "auto"},
        {},
        [preflight.Check("network backend", True, "systemd-networkd")],
    ),
    "auto falls back to ifupdown": (
        {"backend": "auto"},
        {"networkd": "inactive"},
        [preflight.Check("network backend", True, "ifupdown")],
    ),
    "auto with neither": (
        {"backend": "auto"},
        {"networkd": "inactive", "ifupdown": False},
        [
            preflight.Check(
                "network backend",
                False,
                "neither ifupdown nor systemd-networkd",
                "install ifupdown (apt-get install ifupdown bridge-utils) or enable "
                "systemd-networkd, or set network.backend",
            )
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(NETWORK_CASES))
def test_the_network_backend_checks_say_exactly_this(case):
    profile_change, facts_change, want = NETWORK_CASES[case]
    profile = with_network(**profile_change)
    facts = dataclasses.replace(DEPLOYED.facts, **facts_change)
    got = [
        c
        for c in preflight.checks(profile, facts, None, 0)
        if c.name in ("network backend", "nftables")
    ]
    assert got == want


def test_every_check_of_a_failing_host_in_full():
    facts = dataclasses.replace(
        DEPLOYED.facts,
        arch="aarch64",
        model="Raspberry Pi 3 Model B Rev 1.2",
        dpkg_arch="armhf",
        kvm="",
        tun="",
        pid1="init",
        systemd="offline",
        disk_free_kb=1024,
        mem_available_kb=10 * 1024,
    )
    got = preflight.checks(LOADED.profile, facts, FRESH.artifact, 8 << 20)
    assert got == [
        preflight.Check(
            "arch",
            False,
            "host aarch64 (Raspberry Pi 3 Model B Rev 1.2), unikernel x86_64",
            "this host runs aarch64: build the unikernel on an aarch64 builder (build.host) and "
            "deploy that",
        ),
        preflight.Check(
            "64-bit",
            False,
            "kernel aarch64, userland armhf",
            "a 32-bit userland on a 64-bit kernel: install a 64-bit OS (the tender is a 64-bit "
            "program)",
        ),
        preflight.Check(
            "kvm",
            False,
            "/dev/kvm missing",
            "no /dev/kvm: on a Pi this needs the 64-bit kernel (arm_64bit=1); on x86 enable "
            "VT-x/AMD-V in the firmware and load kvm_intel or kvm_amd",
        ),
        preflight.Check("tun", False, "/dev/net/tun missing", "load the tun module: modprobe tun"),
        preflight.Check(
            "systemd",
            False,
            "init as PID 1, offline",
            "workbench supervises the unikernel with systemd; this host does not run it as PID 1",
        ),
        preflight.Check("network backend", True, "systemd-networkd"),
        preflight.Check(
            "disk",
            False,
            "1 MiB free under /var/lib/workbench",
            "free at least 32 MiB there, or lower releases.keep",
        ),
        preflight.Check(
            "memory",
            False,
            "10 MiB available, unikernel needs 64 MiB",
            "lower unikernel.memory or free memory on the host",
        ),
    ]


def spt(profile):
    return profile.model_copy(update={"build": profile.build.model_copy(update={"target": "spt"})})


def test_spt_asks_for_seccomp_filters_not_kvm():
    # A cloud VM without nested virtualisation: no /dev/kvm, a stock kernel.
    facts = dataclasses.replace(DEPLOYED.facts, kvm="", user_kvm=None, seccomp="filter")
    checks = {c.name: c for c in preflight.checks(spt(LOADED.profile), facts)}
    assert "kvm" not in checks
    assert checks["seccomp"].ok is True
    assert all(c.ok is not False for c in checks.values()), checks


@pytest.mark.parametrize("mode, said", [("strict", "strict mode only"), ("no", "no seccomp")])
def test_spt_on_a_kernel_without_filter_mode_says_what_to_do(mode, said):
    facts = dataclasses.replace(DEPLOYED.facts, seccomp=mode)
    check = {c.name: c for c in preflight.checks(spt(LOADED.profile), facts)}["seccomp"]
    assert check.ok is False and said in check.value
    assert check.hint is not None and "CONFIG_SECCOMP_FILTER" in check.hint


def test_no_kvm_points_to_spt_where_the_kernel_can_run_it():
    facts = dataclasses.replace(DEPLOYED.facts, kvm="", user_kvm=None, seccomp="filter")
    hint = verdicts(facts)["kvm"].hint
    assert hint is not None and "solo5-spt: `build.target: spt` (mirage configure -t spt)" in hint
    facts = dataclasses.replace(facts, seccomp="no")
    assert "spt" not in (verdicts(facts)["kvm"].hint or "")


def test_a_kernel_before_4_14_cannot_say_whether_it_filters():
    facts = dataclasses.replace(DEPLOYED.facts, seccomp="strict", kernel="4.9.0-19-arm64")
    check = {c.name: c for c in preflight.checks(spt(LOADED.profile), facts)}["seccomp"]
    assert check.ok is None and "before 4.14" in check.value
    facts = dataclasses.replace(facts, kernel="4.14.0")
    assert {c.name: c for c in preflight.checks(spt(LOADED.profile), facts)}["seccomp"].ok is False
