"""QEMU's own lines in a virtio unikernel's journal (its stderr), classified with fix hints.

The texts are QEMU 7.2's (Debian 12), measured by hand with the real binary (a missing and a
busy tap, /dev/net/tun closed, a missing drive and kernel, KVM denied, too much memory) and
kept in tests/unit/test_virtio.py; the lab's tests boot real QEMU but provoke none of these.
Pure: no I/O.
"""

from __future__ import annotations

import re

_PREFIX = re.compile(r"(?P<prog>qemu-system-[a-z0-9_]+|qemu): (?P<msg>.*)")
_TAP = re.compile(
    r"-netdev tap,[^:]*ifname=(?P<tap>[^,:]+)[^:]*: could not configure /dev/net/tun "
    r"\([^)]*\): (?P<err>.*)"
)
_DRIVE = re.compile(r"-drive [^:]*: Could not open '(?P<file>[^']*)': (?P<err>.*)")
_KERNEL = re.compile(r"could not (?:open|load) kernel file '(?P<file>[^']*)'")
_SIGNAL = re.compile(r"terminating on signal (?P<sig>\d{1,3})")


def is_qemu(line: str) -> bool:
    return line.startswith(("qemu-system-", "qemu: ", "Could not access KVM kernel module"))


def classify(line: str) -> tuple[str, str, str | None, dict[str, object]]:
    """(level, message, hint, fields) of one QEMU line."""
    if line.startswith("Could not access KVM kernel module"):
        return "error", line, KVM_HINT, {}
    m = _PREFIX.match(line)
    msg = m["msg"] if m else line
    if s := _SIGNAL.match(msg):
        return (
            "info",
            msg,
            "stopped by a signal (systemctl stop/restart): exit status 0",
            {"signal": int(s["sig"])},
        )
    if msg.startswith("warning: "):
        return "warning", msg, None, {}
    return "error", msg, hint(msg), {}


KVM_HINT = (
    "QEMU could not use KVM: add the service user to group kvm (usermod -aG kvm USER) on a "
    "host with KVM, or set unikernel.accel: tcg (emulated, much slower) and deploy again"
)


def hint(msg: str) -> str | None:
    if m := _TAP.search(msg):
        tap, err = m["tap"], m["err"]
        if err == "Device or resource busy":
            return (
                f"tap '{tap}' is already attached to another process (a second QEMU or "
                "tender?): stop it, or give this unikernel its own tap"
            )
        if err == "Operation not permitted":
            return (
                f"tap '{tap}' is missing or not the service user's (QEMU then tries to create "
                f"it, which needs root): `workbench deploy` installs it; check `ip link show {tap}`"
            )
        return f"QEMU could not attach tap '{tap}' ({err}): check `ip link show {tap}`"
    if "could not open /dev/net/tun" in msg:
        return (
            "the service user cannot open /dev/net/tun: Debian makes it 0666 "
            "(`chmod 0666 /dev/net/tun`), and the unit allows it (DeviceAllow=)"
        )
    if m := _DRIVE.search(msg):
        return (
            f"block image {m['file']} cannot be opened ({m['err']}): create it or fix "
            "unikernel.block"
        )
    if "failed to initialize kvm" in msg or "-accel kvm" in msg:
        return KVM_HINT
    if "cannot set up guest memory" in msg:
        return "the host has not that much memory free: lower unikernel.memory or free memory"
    if m := _KERNEL.search(msg):
        return f"the kernel file {m['file']} is missing from the release: redeploy"
    if "seccomp" in msg:
        return "QEMU's -sandbox needs seccomp filters in the host kernel (CONFIG_SECCOMP_FILTER)"
    return None
