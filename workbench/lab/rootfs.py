"""The Debian root filesystem the lab's hosts are made from, built once and cached.

debootstrap (minbase plus what a Pi running unikernels has: systemd, sshd, iproute2, ifupdown,
bridge-utils, nftables), python3 + make for the two test doubles, and QEMU for virtio. The
cache key is a hash of the recipe, so a changed package list builds a new rootfs and never
reuses a stale one.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from workbench.errors import LabError
from workbench.lab import config
from workbench.lab.sysrun import run

RECIPE_VERSION = 1
PACKAGES = (
    "systemd-sysv",
    "dbus",
    "udev",
    "openssh-server",
    "iproute2",
    "ifupdown",
    "bridge-utils",
    "nftables",
    "iputils-ping",
    "procps",
    "netbase",
    "kmod",
    "python3",
    "make",
    "less",
    "sudo",
    # Solo5 virtio unikernels run under the host's QEMU (real, TCG in the lab): deploy's tests
    # boot the lab's own multiboot test guest with it.
    "qemu-system-x86",
)


def recipe_key(arch: str = "amd64") -> str:
    text = f"{RECIPE_VERSION}|{config.SUITE}|minbase|{arch}|{','.join(PACKAGES)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def rootfs_dir(arch: str = "amd64") -> Path:
    return config.CACHE_DIR / f"rootfs-{config.SUITE}-{arch}-{recipe_key(arch)}"


def debian_mirror(sources: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt uses (never hard-coded into the repository)."""
    texts = []
    for path in [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*"))]:
        if path.is_file():
            texts.append(path.read_text(errors="replace"))
    for text in texts:
        # deb822 stanzas: URIs + Suites naming the release itself (not -security/-updates)
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and config.SUITE in suites.group(1).split():
                return uris.group(1)
        for match in re.finditer(rf"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+{config.SUITE}\s", text, re.M):
            return match.group(1)
    raise LabError(
        f"no Debian {config.SUITE} mirror found in /etc/apt/sources.list(.d)",
        "the lab builds its hosts with debootstrap from the mirror apt uses; configure one",
    )


def ensure(progress: Callable[[str], None] = print, arch: str = "amd64") -> Path:
    target = rootfs_dir(arch)
    if (target / ".workbench-complete").is_file():
        return target
    if shutil.which("debootstrap") is None:
        raise LabError("debootstrap is not installed", "run `workbench lab up --install-deps`")
    free = shutil.disk_usage(
        config.CACHE_DIR.parent if not config.CACHE_DIR.exists() else config.CACHE_DIR
    ).free
    if free < 3 * 1024**3:
        raise LabError(
            f"only {free // 1024**2} MiB free for the lab cache ({config.CACHE_DIR})",
            "free at least 3 GiB there",
        )
    config.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    mirror = debian_mirror()
    progress(f"building the lab rootfs (debootstrap {config.SUITE}, first time only, ~2 min)")
    start = time.monotonic()
    run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--arch={arch}",
            f"--include={','.join(PACKAGES)}",
            config.SUITE,
            str(partial),
            mirror,
        ],
        timeout=1200,
        what="debootstrap",
        hint="check that this machine reaches its Debian mirror (`apt-get update` works)",
    )
    _customise(partial)
    (partial / ".workbench-complete").write_text(f"{time.monotonic() - start:.0f}s\n")
    partial.rename(target)
    progress(f"lab rootfs ready in {time.monotonic() - start:.0f} s: {target}")
    return target


def _customise(root: Path) -> None:
    """Make the shared base neutral; per-host identity (keys, hostname) is added at `up`."""
    for key in (root / "etc" / "ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc" / "machine-id").write_text("")
    (root / "etc" / "hostname").write_text("lab\n")
    # Containers have no consoles to log in on, and no hardware clock.
    wants = root / "etc" / "systemd" / "system"
    for unit in (
        "getty@.service",
        "serial-getty@.service",
        "console-getty.service",
        "systemd-timesyncd.service",
    ):
        link = wants / unit
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to("/dev/null")
    apt_clean = root / "var" / "cache" / "apt" / "archives"
    for deb in apt_clean.glob("*.deb"):
        deb.unlink()
