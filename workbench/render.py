"""Render every file deploy installs, as text: the systemd unit and the host network config.

Pure functions of (profile, artifact facts, tender version): no I/O beyond reading the bundled
templates, so the output can be diffed against what a host has and golden-tested.
"""

from __future__ import annotations

import re

from workbench.artifacts.elf import ArtifactInfo, Device
from workbench.artifacts.qemu import GuestImage, VirtioHost, guest_argv, virtio_argv
from workbench.artifacts.tender import TenderVersion, tender_argv
from workbench.netfiles import (
    BACKENDS,
    IFUPDOWN_DIR,
    NETWORKD_DIR,
    WORKBENCH_ETC,
    RenderedFile,
    render_network,
    template,
)
from workbench.profiles.models import Profile

SYSTEMD_DIR = "/etc/systemd/system"
__all__ = [
    "BACKENDS",
    "IFUPDOWN_DIR",
    "NETWORKD_DIR",
    "WORKBENCH_ETC",
    "RenderedFile",
    "render_network",
]


def kernel_name(profile: Profile) -> str:
    """The unikernel's file in a release: NAME.TARGET, or for runtime qemu what it boots."""
    q = profile.unikernel.qemu
    if profile.runtime == "qemu" and q is not None:
        return f"disk.{q.disk_format}" if q.disk is not None else "kernel"
    return f"{profile.unikernel.name}.{profile.build.target}"


def assumed_devices(profile: Profile) -> tuple[Device, ...]:
    """The devices a profile expects, for rendering before an artifact is at hand."""
    uk = profile.unikernel
    return tuple(Device(n, "NET_BASIC") for n in uk.networks) + tuple(
        Device(n, "BLOCK_BASIC") for n in uk.block
    )


def qemu_host(profile: Profile, virtio: VirtioHost | None) -> VirtioHost:
    """The host's QEMU as deploy found it, else (render without a host) as the profile asks."""
    return virtio or VirtioHost(kvm=profile.unikernel.accel != "tcg")


def exec_argv(
    profile: Profile,
    info: ArtifactInfo | None,
    tender: TenderVersion | None = None,
    profile_label: str = "the profile",
    virtio: VirtioHost | None = None,
) -> list[str]:
    current = f"{profile.release_dir}/current"
    facts = info or ArtifactInfo(  # a placeholder: only its devices are read
        path=kernel_name(profile),
        size=0,
        sha256="",
        machine="",
        elf_class=64,
        abi=None,
        devices=assumed_devices(profile),
    )
    uk = profile.unikernel
    label = f"profile '{profile_label}'" if profile_label != "the profile" else profile_label
    if profile.runtime == "qemu":
        q = uk.qemu
        assert q is not None
        image = GuestImage(
            from_kernel=q.kernel is not None,
            disk_format=q.disk_format,
            disk_interface=q.disk_interface,
            machine=q.machine,
            nic=q.nic,
            devices=tuple(d.kind for d in q.devices),
        )
        return guest_argv(
            host=qemu_host(profile, virtio),
            image=image,
            boot=f"{current}/{kernel_name(profile)}",
            unikernel=uk.name,
            memory=uk.memory,
            networks=uk.networks,
            block=profile.block_paths,
            args=uk.args,
        )
    if profile.build.target == "virtio":
        return virtio_argv(
            host=qemu_host(profile, virtio),
            kernel=f"{current}/{kernel_name(profile)}",
            info=facts,
            unikernel=uk.name,
            memory=uk.memory,
            networks=uk.networks,
            block=profile.block_paths,
            args=uk.args,
            profile=label,
        )
    return tender_argv(
        tender=f"{current}/{profile.tender_name}",
        kernel=f"{current}/{kernel_name(profile)}",
        info=facts,
        memory=uk.memory,
        networks=uk.networks,
        block=profile.block_paths,
        args=uk.args,
        version=tender,
        profile=label,
    )


def render_unit(
    profile: Profile,
    info: ArtifactInfo | None = None,
    tender: TenderVersion | None = None,
    profile_label: str = "the profile",
    virtio: VirtioHost | None = None,
) -> RenderedFile:
    argv = exec_argv(profile, info, tender, profile_label, virtio)
    target = "virtio" if profile.runtime == "qemu" else profile.build.target
    # /dev/kvm: hvt always, virtio and qemu when QEMU runs under KVM, spt never.
    kvm = target == "hvt" or (profile.under_qemu and qemu_host(profile, virtio).kvm)
    block_paths = sorted(set(profile.block_paths.values()))
    rw = "".join(f"ReadWritePaths={p}\n" for p in block_paths)
    svc = profile.service
    text = template("unikernel.service").substitute(
        profile=profile_label,
        name=profile.unikernel.name,
        description=(
            f"Unikernel {profile.unikernel.name} (a QEMU guest, managed by workbench)"
            if profile.runtime == "qemu"
            else f"Solo5 unikernel {profile.unikernel.name} "
            f"({'virtio under QEMU' if target == 'virtio' else target}, managed by workbench)"
        ),
        release_dir=profile.release_dir,
        user=svc.user,
        group=svc.group,
        exec_start=" ".join(_systemd_quote(a) for a in argv),
        wait_for_taps=_wait_for_taps(sorted(set(profile.unikernel.networks.values()))),
        kvm_first=_KVM_FIRST if kvm else "",
        after_unikernels=_after_unikernels(profile.after_units),
        # What each runner needs, and the directives it cannot take (docs/HARDENING.md).
        hardening_why=template(f"hardening-{target}.txt").substitute(user=svc.user),
        exits=template(_EXITS.get(profile.runtime, "exits-solo5.txt")).template,
        device_allow_kvm="DeviceAllow=/dev/kvm rw\n" if kvm else "",
        # hvt maps guest memory RW and never exec on the host; spt runs the unikernel as host
        # code, and its loader mprotect()s the text PROT_EXEC; QEMU's TCG writes the code it
        # translates and runs it: the last two need what this directive refuses.
        memory_deny_write_execute="MemoryDenyWriteExecute=yes\n" if target == "hvt" else "",
        # The Solo5 tenders query personality() and abort when it is refused; QEMU does not.
        lock_personality="LockPersonality=yes\n" if target == "virtio" else "",
        restart=svc.restart,
        restart_sec=svc.restart_sec,
        read_write_paths=rw,
    )
    return RenderedFile(unit_path(profile), text, "systemd unit")


# How the runner ends, per runtime (QEMU's exit statuses are not a Solo5 tender's).
_EXITS = {"virtio": "exits-virtio.txt", "qemu": "exits-qemu.txt"}


def unit_path(profile: Profile) -> str:
    return f"{SYSTEMD_DIR}/{profile.unit_name}"


# At boot a tap can exist and still be down when the unit starts (networkd brings it up a
# moment later); the tender refuses a tap that is down and exits 1, which the unit counts as a
# clean stop, so the unikernel would stay down after every reboot. Wait for each tap to be up,
# 30 s at most, then let the tender say what is wrong. ('$$' is a '$' for the shell.)
_WAIT_FOR_TAPS = (
    'ExecStartPre=/bin/sh -c \'for t in "$$@"; do n=0; '
    'until ip -o link show dev "$$t" up 2>/dev/null | grep -q .; do '
    "n=$$((n+1)); [ $$n -ge 300 ] && break; sleep 0.1; done; done' workbench-wait-for-taps"
)


# On x86 /dev/kvm appears when udev loads kvm_intel/kvm_amd during boot, possibly after this
# unit starts; systemd builds the DeviceAllow= list when the unit starts ("Couldn't stat device
# /dev/kvm"), so the tender then gets EPERM. Load the module first: systemd's modprobe@ units
# ignore a module that is missing or built in (a Pi), and udev does not tag /dev/kvm for an
# ordering on the device itself.
_KVM_FIRST = (
    "# Load KVM before the tender: at boot /dev/kvm can appear after this unit starts, and a\n"
    "# device missing when the unit starts stays denied by DeviceAllow= (EPERM).\n"
    "Wants=modprobe@kvm_intel.service modprobe@kvm_amd.service\n"
    "After=modprobe@kvm_intel.service modprobe@kvm_amd.service\n"
)


def _after_unikernels(units: tuple[str, ...]) -> str:
    """`after:` as an ordering only: at boot this starts once they have, but a stopped one
    (`workbench stop`) is not pulled up by it, as `Wants=` would."""
    if not units:
        return ""
    return "# Started after (never instead of) the unikernels it names in `after:`.\nAfter=" + (
        " ".join(units) + "\n"
    )


def _wait_for_taps(taps: list[str]) -> str:
    """The ExecStartPre line that waits for `taps` (validated interface names) to be up."""
    if not taps:
        return ""
    comment = "# Wait (30 s at most) for the taps to be up: at boot they come up after this unit.\n"
    return comment + _WAIT_FOR_TAPS + " " + " ".join(taps) + "\n"


_PLAIN_WORD = re.compile(r"[A-Za-z0-9_./:=,+@-]+")


def _systemd_quote(arg: str) -> str:
    """One ExecStart word that systemd reads back as exactly `arg`: '%' and '$' doubled (unit
    specifiers, environment expansion), and anything but a plain word double-quoted with '\\'
    and '"' escaped, so that whitespace, quotes and a lone ';' (systemd's command separator)
    stay inside the word."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if _PLAIN_WORD.fullmatch(arg):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_all(
    profile: Profile,
    backend: str,
    info: ArtifactInfo | None = None,
    tender: TenderVersion | None = None,
    profile_label: str = "the profile",
    virtio: VirtioHost | None = None,
) -> list[RenderedFile]:
    return [
        render_unit(profile, info, tender, profile_label, virtio),
        *render_network(profile, backend, profile_label),
    ]
