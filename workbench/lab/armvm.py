"""The lab's slow tier `pi`: an arm64 Debian VM under QEMU TCG (`-M virt -cpu cortex-a53`), the
stand-in for profiles/rpi3b.yaml, so arch detection and arch mismatches meet a real aarch64
kernel and userland. `virtualization=on` gives the guest a working /dev/kvm. Never -enable-kvm
on these machines (it hangs): TCG, with a hard timeout on every boot and wait.

The rootfs is built once with mmdebstrap under qemu-user (binfmt), with an initramfs of only the
virtio and ext4 modules (3 min instead of 20, measured), made into a raw ext4 image and cached.
Every `up` boots a qcow2 overlay of it, so the cached image is never written.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from workbench.errors import LabError
from workbench.lab import config, hostkeys, procs, rootfs
from workbench.lab.sysrun import run

NAME = "pi"
ADDRESS = "127.0.0.1"
PORT = 2222
STATE = config.STATE_DIR / NAME
PIDFILE = STATE / "qemu.pid"
LOG = STATE / "console.log"
RECIPE_VERSION = 1
PACKAGES = (
    "systemd-sysv",
    "udev",
    "dbus",
    "openssh-server",
    "iproute2",
    "linux-image-arm64",
    "kmod",
    "procps",
    "netbase",
    "ifupdown",
    "bridge-utils",
    "nftables",
    "python3",
    "iputils-ping",
    "sudo",
)
INITRAMFS_HOOK = (
    'mkdir -p "$1/etc/initramfs-tools/conf.d"; '
    'echo MODULES=list > "$1/etc/initramfs-tools/conf.d/workbench-lab.conf"; '
    "printf 'virtio_pci\\nvirtio_mmio\\nvirtio_blk\\nvirtio_net\\next4\\n' "
    '>> "$1/etc/initramfs-tools/modules"'
)
REQUIRED = {
    "mmdebstrap": "mmdebstrap",
    "qemu-system-aarch64": "qemu-system-arm",
    "qemu-img": "qemu-utils",
    "mkfs.ext4": "e2fsprogs",
}


def _key() -> str:
    text = f"{RECIPE_VERSION}|{config.SUITE}|arm64|{','.join(PACKAGES)}|{INITRAMFS_HOOK}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def image_path() -> Path:
    return config.CACHE_DIR / f"pi-arm64-{_key()}.raw"


def pid() -> int | None:
    try:
        return int(PIDFILE.read_text())
    except (FileNotFoundError, ValueError):
        return None


def running() -> bool:
    return procs.alive(pid())


def _binfmt() -> None:
    if not Path("/proc/sys/fs/binfmt_misc/register").exists():
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"])
    if not Path("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists():
        run(
            ["update-binfmts", "--enable", "qemu-aarch64"],
            hint="apt-get install qemu-user-static binfmt-support",
        )


def ensure_image(progress: Callable[[str], None] = print) -> Path:
    image = image_path()
    if image.exists():
        return image
    missing = sorted({pkg for cmd, pkg in REQUIRED.items() if shutil.which(cmd) is None})
    if missing:
        raise LabError(
            f"the pi tier needs {' '.join(missing)}",
            f"apt-get install -y {' '.join(missing)} qemu-user-static binfmt-support",
        )
    _binfmt()
    config.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    work = config.CACHE_DIR / f"pi-arm64-{_key()}.partial"
    root = work / "root"
    done = work / "mmdebstrap-done"  # a finished mmdebstrap (minutes) is not redone
    start = time.monotonic()
    if not done.exists():
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        progress("building the arm64 rootfs (mmdebstrap under qemu-user, first time only, ~5 min)")
        run(
            [
                "mmdebstrap",
                "--arch=arm64",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                f"--essential-hook={INITRAMFS_HOOK}",
                "--dpkgopt=path-exclude=/usr/share/doc/*",
                "--dpkgopt=path-exclude=/usr/share/man/*",
                "--dpkgopt=path-exclude=/usr/share/locale/*",
                config.SUITE,
                str(root),
                rootfs.debian_mirror(),
            ],
            timeout=1800,
            what="mmdebstrap (arm64)",
        )
        done.write_text("ok\n")
    _customise(root)
    raw = work / "disk.raw"
    raw.unlink(missing_ok=True)
    run(["truncate", "-s", "3G", str(raw)])
    run(
        ["mkfs.ext4", "-q", "-L", "root", "-d", str(root), str(raw)],
        timeout=600,
        what="making the VM disk",
    )
    for name in ("vmlinuz", "initrd.img"):
        found = sorted((root / "boot").glob(f"{name}-*"))
        if not found:
            raise LabError(f"the arm64 rootfs has no /boot/{name}-*", f"rebuild it: rm -r {work}")
        shutil.copy(found[-1], image.with_suffix(f".{name}"))
    raw.rename(image)
    shutil.rmtree(work, ignore_errors=True)
    progress(f"arm64 VM image ready in {time.monotonic() - start:.0f} s")
    return image


def _customise(root: Path) -> None:
    (root / "etc" / "hostname").write_text("pi\n")
    (root / "etc" / "hosts").write_text(
        "127.0.0.1\tlocalhost\n127.0.1.1\tpi\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
    (root / "etc" / "fstab").write_text("/dev/vda / ext4 defaults,noatime 0 1\n")
    (root / "etc" / "machine-id").write_text("")
    # QEMU's user network: a fixed address and no DHCP client needed; restrict=on keeps the
    # guest off every other network.
    net = root / "etc" / "systemd" / "network"
    net.mkdir(parents=True, exist_ok=True)
    (net / "05-uplink.network").write_text(
        "[Match]\nName=en* eth*\n\n[Network]\nAddress=10.0.2.15/24\nGateway=10.0.2.2\n"
        "IPv6AcceptRA=no\nLinkLocalAddressing=no\n"
    )
    wants = root / "etc" / "systemd" / "system" / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / "systemd-networkd.service"
    if not link.exists():
        link.symlink_to("/lib/systemd/system/systemd-networkd.service")
    for unit in ("systemd-networkd-wait-online.service", "systemd-timesyncd.service"):
        masked = root / "etc" / "systemd" / "system" / unit
        masked.unlink(missing_ok=True)
        masked.symlink_to("/dev/null")
    for key in (root / "etc" / "ssh").glob("ssh_host_*"):
        key.unlink()
    ssh = root / "etc" / "ssh"
    public = hostkeys.generate_host_key(config.CACHE_DIR / f"pi-arm64-{_key()}.hostkey")
    shutil.copy(config.CACHE_DIR / f"pi-arm64-{_key()}.hostkey", ssh / "ssh_host_ed25519_key")
    shutil.copy(
        config.CACHE_DIR / f"pi-arm64-{_key()}.hostkey.pub", ssh / "ssh_host_ed25519_key.pub"
    )
    (ssh / "ssh_host_ed25519_key").chmod(0o600)
    (ssh / "sshd_config.d").mkdir(exist_ok=True)
    (ssh / "sshd_config.d" / "workbench-lab.conf").write_text(
        "HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\n"
        "PermitRootLogin prohibit-password\nUseDNS no\n"
    )
    root_ssh = root / "root" / ".ssh"
    root_ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copy(hostkeys.ensure_client_key().with_suffix(".pub"), root_ssh / "authorized_keys")
    (root_ssh / "authorized_keys").chmod(0o600)
    (config.CACHE_DIR / f"pi-arm64-{_key()}.known").write_text(public + "\n")


def up(progress: Callable[[str], None] = print, boot_timeout: float = 240) -> None:
    image = ensure_image(progress)
    host_key = (config.CACHE_DIR / f"pi-arm64-{_key()}.known").read_text().strip()
    hostkeys.record(f"[{ADDRESS}]:{PORT}", host_key)
    if running() and procs.ssh_banner(ADDRESS, PORT):
        return
    down()
    STATE.mkdir(parents=True, exist_ok=True)
    overlay = STATE / "overlay.qcow2"
    overlay.unlink(missing_ok=True)
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image), "-F", "raw", str(overlay)])
    argv = [
        "qemu-system-aarch64",
        "-M",
        "virt,virtualization=on",
        "-cpu",
        "cortex-a53",
        "-smp",
        "2",
        "-m",
        "2048",
        "-accel",
        "tcg,thread=multi",
        "-kernel",
        str(image.with_suffix(".vmlinuz")),
        "-initrd",
        str(image.with_suffix(".initrd.img")),
        "-append",
        "root=/dev/vda rw console=ttyAMA0 quiet",
        "-drive",
        f"file={overlay},if=none,id=d0,format=qcow2,cache=unsafe",
        "-device",
        "virtio-blk-pci,drive=d0",
        "-netdev",
        f"user,id=n0,restrict=on,hostfwd=tcp:{ADDRESS}:{PORT}-:22",
        "-device",
        "virtio-net-pci,netdev=n0",
        "-serial",
        f"file:{LOG}",
        "-display",
        "none",
        "-monitor",
        "none",
    ]
    progress("booting the arm64 VM (QEMU TCG, about 30-60 s)")
    child = procs.spawn(argv, STATE / "qemu.log")
    PIDFILE.write_text(f"{child}\n")
    procs.wait_for(
        lambda: procs.ssh_banner(ADDRESS, PORT) or not procs.alive(child),
        boot_timeout,
        "the arm64 VM booting",
        f"see {LOG}",
        interval=1,
    )
    if not procs.alive(child):
        raise LabError("the arm64 VM stopped while booting", f"see {LOG} and {STATE}/qemu.log")


def down() -> None:
    procs.stop(pid(), timeout=10)
    PIDFILE.unlink(missing_ok=True)
    if STATE.exists():
        shutil.rmtree(STATE, ignore_errors=True)
