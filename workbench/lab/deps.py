"""Debian packages the project needs, in one place: read by `workbench lab` (preflight and
--install-deps) and by scripts/install-deps.sh (`python3 -m workbench.lab.deps`), so the two
cannot drift apart. Standard library only: it runs before the virtualenv exists."""

from __future__ import annotations

import sys

# command -> package, for the preflight's "missing: ..." message
LAB_COMMANDS = {
    "ip": "iproute2",
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "sshd": "openssh-server",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "dockerd": "docker.io",
    "gcc": "gcc",
    "unshare": "util-linux",
    "nsenter": "util-linux",
    "tar": "tar",
    "iptables": "iptables",
}
# libc6-dev: libc.a for the static tender double
LAB_PACKAGES = sorted({*LAB_COMMANDS.values(), "libc6-dev"})
# The slow tiers: arm64 and x86_64 VMs under QEMU TCG, rootfs built by mmdebstrap (under
# qemu-user for arm64), and the aarch64 build of the tender double.
VM_PACKAGES = [
    "qemu-system-arm",
    "qemu-system-x86",
    "qemu-user-static",
    "binfmt-support",
    "mmdebstrap",
    "arch-test",
    "qemu-utils",
    "e2fsprogs",
    "gcc-aarch64-linux-gnu",
    "libc6-dev-arm64-cross",
]
# `workbench image` / `inspect IMAGE` (workbench/diskimage.py, which checks it has them; its
# PACKAGES must equal this list: tests/unit/test_diskimage.py)
IMAGE_PACKAGES = ["dosfstools", "fdisk", "mtools", "qemu-utils", "syslinux", "syslinux-common"]
# systemd-analyze verifies rendered units; nft loads the NAT rules; ping in the double's tests
TEST_PACKAGES = ["systemd", "nftables", "iputils-ping", "python3-venv"]


def all_packages() -> list[str]:
    return sorted({*LAB_PACKAGES, *VM_PACKAGES, *TEST_PACKAGES, *IMAGE_PACKAGES})


if __name__ == "__main__":
    print(" ".join(all_packages() if sys.argv[1:] != ["--lab"] else LAB_PACKAGES))
