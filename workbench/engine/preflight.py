"""Preflight: what a host must offer to run this unikernel, as verdicts with fix hints.

Pure: facts in, checks out. `workbench check` shows them all; deploy stops at the first
failing one, before anything is written to the host.
"""

from __future__ import annotations

import re

from workbench.artifacts.elf import ArtifactInfo
from workbench.engine import qemucheck
from workbench.engine.verdict import Check
from workbench.profiles.models import Profile
from workbench.remote.facts import HostFacts

DPKG_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


__all__ = ["Check", "backend_for", "checks"]


def backend_for(profile: Profile, facts: HostFacts) -> str | None:
    if profile.network.backend != "auto":
        return profile.network.backend
    return facts.backend


def checks(
    profile: Profile,
    facts: HostFacts,
    artifact: ArtifactInfo | None = None,
    extra_bytes: int = 0,
) -> list[Check]:
    target = profile.build.target
    if profile.under_qemu:
        runner = qemucheck.checks(profile, facts)
        first, rest = runner[:1], runner[1:]  # "x86_64 only" says more than a wrong arch
    else:
        first, rest = [], [_seccomp(facts) if target == "spt" else _kvm(profile, facts)]
    return [
        *first,
        _arch(facts, artifact),
        _word_size(facts),
        *rest,
        Check(
            "tun",
            bool(facts.tun),
            f"/dev/net/tun {facts.tun or 'missing'}",
            None if facts.tun else "load the tun module: modprobe tun",
        ),
        _systemd(facts),
        *_network(profile, facts),
        *_room(profile, facts, extra_bytes),
    ]


def _arch(facts: HostFacts, artifact: ArtifactInfo | None) -> Check:
    arch = facts.arch
    model = f" ({facts.model})" if facts.model else ""
    if artifact is not None:
        ok = artifact.machine == arch
        return Check(
            "arch",
            ok,
            f"host {arch}{model}, unikernel {artifact.machine}",
            None
            if ok
            else f"this host runs {arch}: build the unikernel on an "
            f"{arch} builder (build.host) and deploy that",
        )
    return Check("arch", None, f"{arch}{model}")


def _word_size(facts: HostFacts) -> Check:
    arch = facts.arch
    if arch in ("armv7l", "armv6l") or facts.long_bit == 32:
        return Check(
            "64-bit",
            False,
            f"kernel {arch}, {facts.long_bit}-bit",
            "KVM needs a 64-bit kernel on the Pi: set arm_64bit=1 in "
            "/boot/firmware/config.txt (and a 64-bit OS), then reboot",
        )
    if facts.dpkg_arch and DPKG_ARCH.get(arch) not in (facts.dpkg_arch, None):
        return Check(
            "64-bit",
            False,
            f"kernel {arch}, userland {facts.dpkg_arch}",
            "a 32-bit userland on a 64-bit kernel: install a 64-bit OS "
            "(the tender is a 64-bit program)",
        )
    return Check("64-bit", True, f"kernel {arch}, userland {facts.dpkg_arch or '?'}")


# Where KVM cannot be had (a cloud VM without nested virtualisation, a board without it).
SPT_WAY = (
    "; or run it without KVM under solo5-spt: `build.target: spt` (mirage configure -t spt), "
    "or deploy an .spt artifact"
)


def _kvm(profile: Profile, facts: HostFacts) -> Check:
    user = profile.service.user
    if not facts.kvm:
        hint = (
            "no /dev/kvm: on a Pi this needs the 64-bit kernel (arm_64bit=1); on x86 enable "
            "VT-x/AMD-V in the firmware and load kvm_intel or kvm_amd"
        )
        if facts.seccomp == "filter":
            hint += SPT_WAY
        return Check("kvm", False, "/dev/kvm missing", hint)
    if facts.user_groups is None:
        in_group = "kvm" in facts.kvm.split(":")[1:2]
        return Check(
            "kvm",
            True if in_group else None,
            f"/dev/kvm {facts.kvm}; user {user} will be created in group {profile.service.group}",
        )
    if facts.user_kvm:
        return Check("kvm", True, f"/dev/kvm {facts.kvm}; {user} can open it")
    return Check(
        "kvm",
        False,
        f"/dev/kvm {facts.kvm}; {user} cannot open it",
        f"add {user} to group kvm: usermod -aG kvm {user}",
    )


def _seccomp(facts: HostFacts) -> Check:
    """solo5-spt needs no /dev/kvm: it runs the unikernel as a process under a seccomp filter
    it loads itself, so the kernel must have filter mode."""
    if facts.seccomp == "filter":
        return Check("seccomp", True, "seccomp filters available (solo5-spt needs no /dev/kvm)")
    if not facts.seccomp:
        return Check("seccomp", None, "not known (the host did not say)")
    if facts.seccomp == "strict" and _older_than(facts.kernel, (4, 14)):
        # /proc/sys/kernel/seccomp, which says "filter", came with 4.14.
        return Check("seccomp", None, f"kernel {facts.kernel}: too old to say (before 4.14)")
    what = "strict mode only" if facts.seccomp == "strict" else "no seccomp"
    return Check(
        "seccomp",
        False,
        f"kernel {facts.kernel}: {what}",
        "solo5-spt loads its own seccomp filter: it needs a kernel with CONFIG_SECCOMP_FILTER "
        "(Debian's and Raspberry Pi OS's have it); or use hvt on a host with KVM",
    )


def _older_than(kernel: str, version: tuple[int, int]) -> bool:
    numbers = re.match(r"(\d+)\.(\d+)", kernel)
    return bool(numbers) and (int(numbers[1]), int(numbers[2])) < version  # type: ignore[index]


def _systemd(facts: HostFacts) -> Check:
    # "starting"/"initializing": systemd is PID 1 and still booting, which is fine to deploy to.
    ok = facts.pid1 == "systemd" or facts.systemd in ("running", "degraded", "starting")
    return Check(
        "systemd",
        ok,
        f"{facts.pid1 or '?'} as PID 1, {facts.systemd or 'absent'}",
        None
        if ok
        else "workbench supervises the unikernel with systemd; this host does not run it as PID 1",
    )


def _network(profile: Profile, facts: HostFacts) -> list[Check]:
    backend = backend_for(profile, facts)
    if backend is None:
        return [
            Check(
                "network backend",
                False,
                "neither ifupdown nor systemd-networkd",
                "install ifupdown (apt-get install ifupdown bridge-utils) or enable "
                "systemd-networkd, or set network.backend",
            )
        ]
    if backend == "systemd-networkd" and facts.networkd != "active":
        out = [
            Check("network backend", None, "systemd-networkd (not running yet: deploy enables it)")
        ]
    elif backend == "ifupdown" and not facts.ifupdown:
        out = [
            Check(
                "network backend",
                False,
                "ifupdown is not installed",
                "apt-get install ifupdown bridge-utils, or set network.backend",
            )
        ]
    else:
        note = ""
        if facts.networkmanager == "active":
            note = " (NetworkManager also runs: it leaves interfaces it does not manage alone)"
        out = [Check("network backend", True, f"{backend}{note}")]
    if backend == "ifupdown" and profile.network.mode == "nat" and not facts.nft:
        out.append(
            Check(
                "nftables",
                False,
                "nft missing (NAT mode loads an nftables rule set)",
                "apt-get install nftables",
            )
        )
    return out


def _room(profile: Profile, facts: HostFacts, extra_bytes: int) -> list[Check]:
    out = []
    need_kb = (extra_bytes * 2) // 1024 + 16 * 1024
    if facts.disk_free_kb is not None:
        ok = facts.disk_free_kb >= need_kb
        out.append(
            Check(
                "disk",
                ok,
                f"{facts.disk_free_kb // 1024} MiB free under {profile.releases.root}",
                None
                if ok
                else f"free at least {need_kb // 1024} MiB there, or lower releases.keep",
            )
        )
    mem = profile.unikernel.memory
    # QEMU needs room of its own beside the guest's memory; a tender little.
    overhead = qemucheck.QEMU_OVERHEAD_MIB if profile.under_qemu else 0
    if facts.mem_available_kb is not None:
        ok = facts.mem_available_kb >= (mem + overhead + 16) * 1024
        needs = f"{mem} MiB" + (f" + {overhead} MiB for QEMU" if overhead else "")
        out.append(
            Check(
                "memory",
                ok,
                f"{facts.mem_available_kb // 1024} MiB available, unikernel needs {needs}",
                None if ok else "lower unikernel.memory or free memory on the host",
            )
        )
    return out
