"""QEMU as the runner of a Solo5 virtio unikernel: its command line, stable MACs, its version.

The command line follows Solo5's own runner (scripts/virtio-run/solo5-virtio-run.sh, v0.12.1;
reference section 14): no default devices, no ACPI, the console on stdio, per manifest device a
virtio-net on a tap or a virtio-blk on a raw image, PCI slots from 2 in manifest order, the
isa-debug-exit port the bindings write at exit, `-kernel` and `-append`. Where workbench departs
from it, and why:
- each virtio-net gets a MAC derived from the host, the unikernel and the device: QEMU gives
  every instance 52:54:00:12:34:56, so two unikernels on one bridge would collide;
- KVM or TCG is decided when deploy renders the unit (KVM when the service user can open
  /dev/kvm, or as `unikernel.accel` says), so the unit says which it runs;
- `-append` gets the boot arguments as they are: QEMU 7.2 passes commas through (measured:
  tests/lab/test_virtio.py boots the lab's guest with one), where the Solo5 script's doubling
  would pass ",,";
- QEMU's own seccomp sandbox is on (`-sandbox on,...`): no exec, no set*id, no obsolete calls.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from workbench.artifacts.elf import ArtifactInfo
from workbench.artifacts.tender import mapped_devices
from workbench.errors import ArtifactError, ConfigError

QEMU = "qemu-system-x86_64"
QEMU_PATH = f"/usr/bin/{QEMU}"  # Debian's qemu-system-x86; the host's own when facts name it
QEMU_PACKAGE = "qemu-system-x86"
# Every guest exit: the virtio bindings write 41 to isa-debug-exit, QEMU exits 41 << 1 | 1 = 83;
# the guest's own status is only on the console (`Solo5: solo5_exit(N) called`).
GUEST_EXIT = 83
# What a virtio release is keyed on in place of a tender's hash: the host's QEMU runs it, so no
# tender is part of the release (a QEMU upgrade is a host change, not a new release).
RUNNER_KEY = hashlib.sha256(b"workbench virtio: the host's qemu-system-x86_64").hexdigest()
# The same for `runtime: qemu` (a generic guest), so the same file is another release there.
RUNNER_KEYS = {
    "virtio": RUNNER_KEY,
    "qemu": hashlib.sha256(b"workbench qemu: the host's qemu-system-x86_64").hexdigest(),
}
SANDBOX = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
FIRST_SLOT, LAST_SLOT = 2, 31  # slots 0 and 1: host bridge and ISA bridge
TESTED_SINCE = (7, 0, 0)  # -append passes commas through (7.2 measured)
_VERSION = re.compile(r"QEMU emulator version (\d{1,4})\.(\d{1,4})\.(\d{1,4})")


@dataclass(frozen=True)
class VirtioHost:
    """What of the host the unit's QEMU command line depends on."""

    qemu: str = QEMU_PATH
    kvm: bool = True  # KVM (`-accel kvm -cpu host`), else TCG (`-accel tcg -cpu Westmere`)
    host_id: str = ""  # /etc/machine-id: makes MACs differ between hosts


def stable_mac(host_id: str, unikernel: str, device: str) -> str:
    """A locally administered unicast MAC (02:xx:...) that stays the same across deploys,
    restarts and reboots, and differs between hosts, unikernels and devices."""
    digest = hashlib.sha256(f"{host_id}\0{unikernel}\0{device}".encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))


def parse_qemu_version(text: str) -> tuple[int, int, int] | None:
    """`qemu-system-x86_64 --version`: 'QEMU emulator version 7.2.22 (Debian ...)'."""
    m = _VERSION.search(text)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def _opt(value: str) -> str:
    """A value inside a QEMU option list, where ',' separates options (',,' is a comma)."""
    return value.replace(",", ",,")


def _machine(host: VirtioHost, memory: int, machine: str, *, tcg_cpu: str) -> list[str]:
    """What every QEMU unit starts with: KVM or TCG, memory, no default devices, the console on
    stdio, QEMU's own sandbox."""
    accel = ["-accel", "kvm", "-cpu", "host"] if host.kvm else ["-accel", "tcg", "-cpu", tcg_cpu]
    argv = [host.qemu, *accel, "-m", f"{memory}M", "-nodefaults", "-no-user-config"]
    argv += ["-machine", machine, "-display", "none", "-serial", "stdio", "-sandbox", SANDBOX]
    return argv


def virtio_argv(
    *,
    host: VirtioHost,
    kernel: str,
    info: ArtifactInfo,
    unikernel: str,
    memory: int,
    networks: Mapping[str, str],
    block: Mapping[str, str],
    args: Sequence[str],
    profile: str = "the profile",
) -> list[str]:
    """QEMU's command line for this virtio unikernel and profile mapping."""
    if info.devices is None:
        raise ArtifactError(
            f"{info.path} has no Solo5 manifest, so it was built for a Solo5 older than 0.6.0",
            "rebuild it with a current MirageOS/Solo5",
        )
    argv = _machine(host, memory, "acpi=off", tcg_cpu="Westmere")
    devices = mapped_devices(info, networks, block, profile)
    if len(devices) > LAST_SLOT - FIRST_SLOT + 1:
        raise ConfigError(
            f"the unikernel declares {len(devices)} devices; QEMU's PCI bus has room for "
            f"{LAST_SLOT - FIRST_SLOT + 1}",
            "run it under solo5-hvt, or declare fewer devices",
        )
    for slot, (device, backing) in enumerate(devices, start=FIRST_SLOT):
        where = f"addr={slot:#x},bus=pci.0"
        if device.type == "NET_BASIC":
            mac = stable_mac(host.host_id, unikernel, device.name)
            argv += ["-netdev", f"tap,id=n{slot},ifname={backing},script=no,downscript=no"]
            argv += ["-device", f"virtio-net-pci,netdev=n{slot},{where},mac={mac}"]
        else:
            argv += ["-drive", f"id=d{slot},file={_opt(backing)},if=none,format=raw"]
            argv += ["-device", f"virtio-blk-pci,drive=d{slot},{where}"]
    argv += ["-device", "isa-debug-exit", "-kernel", kernel]
    if args:
        argv += ["-append", " ".join(args)]
    return argv


@dataclass(frozen=True)
class GuestImage:
    """What `unikernel.qemu` says about booting a generic guest (profiles.models.QemuImage)."""

    from_kernel: bool  # -kernel; else a disk image
    disk_format: str = "raw"
    disk_interface: str = "virtio-blk"
    machine: str = "pc"
    nic: str = "virtio-net-pci"
    devices: tuple[str, ...] = ()  # kinds: "rng"


_BOOT_DISK = {
    "virtio-blk": [["-device", "virtio-blk-pci,drive=boot,bootindex=0"]],
    "virtio-scsi": [
        ["-device", "virtio-scsi-pci,id=scsi0"],
        ["-device", "scsi-hd,drive=boot,bus=scsi0.0,bootindex=0"],
    ],
    "ide": [["-device", "ide-hd,drive=boot,bus=ide.0,bootindex=0"]],
}


def guest_argv(
    *,
    host: VirtioHost,
    image: GuestImage,
    boot: str,
    unikernel: str,
    memory: int,
    networks: Mapping[str, str],
    block: Mapping[str, str],
    args: Sequence[str],
) -> list[str]:
    """QEMU's command line for `runtime: qemu`: a guest booted from a disk image (with
    `snapshot=on`: the release's file is never written) or a kernel (`-kernel`, `args` as
    `-append`); then each `networks` device as a NIC of `qemu.nic` on its tap with a stable
    MAC, each `block` device as a virtio-blk, then `qemu.devices`. Pure."""
    argv = _machine(host, memory, image.machine, tcg_cpu="max")
    if image.from_kernel:
        argv += ["-kernel", boot, *(["-append", " ".join(args)] if args else [])]
    else:
        fmt = image.disk_format
        argv += ["-drive", f"id=boot,file={_opt(boot)},format={fmt},if=none,snapshot=on"]
        for words in _BOOT_DISK[image.disk_interface]:
            argv += words
    for i, (name, tap) in enumerate(networks.items()):
        mac = stable_mac(host.host_id, unikernel, name)
        argv += ["-netdev", f"tap,id=net{i},ifname={tap},script=no,downscript=no"]
        argv += ["-device", f"{image.nic},netdev=net{i},mac={mac}"]
    for i, path in enumerate(block.values()):
        argv += ["-drive", f"id=blk{i},file={_opt(path)},format=raw,if=none"]
        argv += ["-device", f"virtio-blk-pci,drive=blk{i}"]
    for i, kind in enumerate(image.devices):
        if kind == "rng":
            argv += ["-object", f"rng-random,id=rng{i},filename=/dev/urandom"]
            argv += ["-device", f"virtio-rng-pci,rng=rng{i}"]
    return argv
