"""Preflight for a virtio unikernel under the host's QEMU, and the KVM-or-TCG decision.

Pure: facts in, checks out (engine/preflight.py puts them in its list).
"""

from __future__ import annotations

from workbench.artifacts import qemu
from workbench.engine.verdict import Check
from workbench.profiles.models import Profile
from workbench.remote.facts import HostFacts

# QEMU's TCG translates every guest instruction: no figure holds for every unikernel, so the
# warning gives the order of magnitude QEMU's own documentation and our boots show.
TCG_COST = (
    "every guest instruction is translated: expect CPU-bound work to run several to tens of "
    "times slower than under KVM"
)
QEMU_OVERHEAD_MIB = 64  # QEMU's own memory beside the guest's (TCG's code cache included)


def use_kvm(profile: Profile, facts: HostFacts) -> bool:
    """KVM when `unikernel.accel` says so, or (auto) when the service user can open /dev/kvm
    (as deploy will create it, when it does not exist yet)."""
    accel = profile.unikernel.accel
    if accel != "auto":
        return accel == "kvm"
    return user_can_kvm(profile, facts)


def user_can_kvm(profile: Profile, facts: HostFacts) -> bool:
    if not facts.kvm:
        return False
    if facts.user_groups is not None:
        return bool(facts.user_kvm)
    _owner, group, mode = [*facts.kvm.split(":"), "", "", ""][:3]
    try:
        bits = int(mode, 8)
    except ValueError:
        return False
    # deploy creates the user in service.group and in group kvm (remote/release.py)
    in_group = group in (profile.service.group, "kvm")
    return (in_group and bits & 0o060 == 0o060) or bits & 0o006 == 0o006


def summary(profile: Profile, facts: HostFacts) -> str:
    """The deploy's tender step for virtio: which QEMU runs it, and how."""
    version = qemu.parse_qemu_version(facts.qemu_version)
    text = f"QEMU {'.'.join(map(str, version))}" if version else "QEMU"
    how = "KVM" if use_kvm(profile, facts) else f"TCG, emulated: {TCG_COST}"
    return f"{text} ({facts.installed_tender or qemu.QEMU_PATH}), {how}"


def checks(profile: Profile, facts: HostFacts) -> list[Check]:
    out = [_runs_here(profile, facts), _qemu(facts), _accel(profile, facts), _sandbox(facts)]
    if profile.unikernel.networks and not facts.machine_id:
        out.append(
            Check(
                "machine-id",
                None,
                "/etc/machine-id is empty: the unikernel's MACs are derived from it, and would "
                "be the same on every host without one",
                "systemd-machine-id-setup (a cloned image wants its own: remove the file first)",
            )
        )
    return out


def _runs_here(profile: Profile, facts: HostFacts) -> Check:
    what = "Solo5 virtio" if profile.runtime == "virtio" else "a QEMU guest (x86_64)"
    if facts.arch == "x86_64":
        return Check(profile.runtime, True, f"x86_64: {what} runs here under QEMU")
    if profile.runtime == "virtio":
        return Check(
            "virtio",
            False,
            f"this host is {facts.arch}: Solo5 builds virtio for x86_64 only",
            "on this host run it under solo5-hvt (KVM: `mirage configure -t hvt`) or solo5-spt "
            "(no KVM: `-t spt`), and deploy that build",
        )
    return Check(
        "qemu",
        False,
        f"this host is {facts.arch}: runtime qemu runs x86_64 guests under qemu-system-x86_64, "
        "emulated on any other host",
        "run it on an x86_64 host",
    )


def _qemu(facts: HostFacts) -> Check:
    if not facts.installed_tender:
        return Check(
            "qemu",
            False,
            f"{qemu.QEMU} is not installed",
            f"apt-get install {qemu.QEMU_PACKAGE} (the unit runs the host's {qemu.QEMU})",
        )
    version = qemu.parse_qemu_version(facts.qemu_version)
    if version is None:
        return Check(
            "qemu",
            None,
            f"{facts.installed_tender}: version not known "
            f"({facts.qemu_version[:60] or 'no answer'})",
        )
    text = ".".join(map(str, version))
    if version < qemu.TESTED_SINCE:
        return Check(
            "qemu",
            None,
            f"{facts.installed_tender}: QEMU {text}, older than workbench has run (7.0)",
            "boot arguments with commas may reach the unikernel changed; a newer QEMU is safer",
        )
    return Check("qemu", True, f"{facts.installed_tender}: QEMU {text}")


def _accel(profile: Profile, facts: HostFacts) -> Check:
    user, accel = profile.service.user, profile.unikernel.accel
    can = user_can_kvm(profile, facts)
    if accel == "kvm" and not can:
        where = f"/dev/kvm {facts.kvm}" if facts.kvm else "no /dev/kvm"
        return Check(
            "accel",
            False,
            f"unikernel.accel is kvm but {user} cannot use KVM ({where})",
            f"add {user} to group kvm (usermod -aG kvm {user}) on a host with KVM, or set "
            "unikernel.accel: auto to fall back to TCG",
        )
    if use_kvm(profile, facts):
        return Check("accel", True, f"KVM (/dev/kvm {facts.kvm}, usable by {user})")
    why = (
        "unikernel.accel is tcg"
        if accel == "tcg"
        else (f"{user} cannot use /dev/kvm {facts.kvm}" if facts.kvm else "no /dev/kvm")
    )
    return Check(
        "accel",
        None,
        f"TCG, emulated ({why}): {TCG_COST}",
        None if accel == "tcg" else f"for KVM: enable it on the host and add {user} to group kvm",
    )


def _sandbox(facts: HostFacts) -> Check:
    """The unit runs QEMU with `-sandbox on`, a seccomp filter: the kernel needs filter mode."""
    if facts.seccomp == "filter" or not facts.seccomp:
        return Check("seccomp", None if not facts.seccomp else True, "for QEMU's -sandbox")
    return Check(
        "seccomp",
        False,
        f"kernel {facts.kernel}: no seccomp filters, which QEMU's -sandbox needs",
        "use a kernel with CONFIG_SECCOMP_FILTER (Debian's has it)",
    )
