"""The lab's slow tiers: full Debian VMs under QEMU TCG (never -enable-kvm here: it hangs),
with a hard timeout on every boot and wait.

- `pi`: arm64, `-M virt,virtualization=on -cpu cortex-a53`, the stand-in for
  profiles/rpi3b.yaml, so arch detection and arch mismatches meet a real aarch64 kernel and
  userland; the guest has a working /dev/kvm.
- `vm`: x86_64, `-M q35 -cpu max`, a full Debian with dockerd inside (apparmor=0, or dockerd
  fails loading its AppArmor profile).

Each rootfs is built once with mmdebstrap (under qemu-user for arm64) with an initramfs of only
the virtio and ext4 modules (measured: minutes instead of 20 for arm64), made into a raw ext4
image and cached. Every `up` boots a qcow2 overlay of it, so the cached image is never written.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import LabError
from workbench.lab import config, hostkeys, procs, rootfs
from workbench.lab.sysrun import run

ADDRESS = "127.0.0.1"
RECIPE_VERSION = 1
INITRAMFS_HOOK = (
    'mkdir -p "$1/etc/initramfs-tools/conf.d"; '
    'echo MODULES=list > "$1/etc/initramfs-tools/conf.d/workbench-lab.conf"; '
    "printf 'virtio_pci\\nvirtio_mmio\\nvirtio_blk\\nvirtio_net\\next4\\n' "
    '>> "$1/etc/initramfs-tools/modules"'
)
BASE = ("systemd-sysv", "udev", "dbus", "openssh-server", "iproute2")
TOOLS = (
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


@dataclass(frozen=True)
class Spec:
    name: str
    arch: str  # Debian's
    machine: str  # the kernel's (uname -m)
    port: int  # forwarded to the guest's sshd on 127.0.0.1
    packages: tuple[str, ...]
    qemu: tuple[str, ...]
    console: str
    append: str = ""

    @property
    def state(self) -> Path:
        return config.STATE_DIR / self.name

    @property
    def key(self) -> str:
        text = (
            f"{RECIPE_VERSION}|{config.SUITE}|{self.arch}|{','.join(self.packages)}|"
            f"{INITRAMFS_HOOK}"
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def stem(self) -> Path:
        return config.CACHE_DIR / f"{self.name}-{self.arch}-{self.key}"


PI = Spec(
    name="pi",
    arch="arm64",
    machine="aarch64",
    port=2222,
    packages=(*BASE, "linux-image-arm64", *TOOLS),
    qemu=("qemu-system-aarch64", "-M", "virt,virtualization=on", "-cpu", "cortex-a53"),
    console="ttyAMA0",
)
VM = Spec(
    name="vm",
    arch="amd64",
    machine="x86_64",
    port=2223,
    packages=(*BASE, "linux-image-amd64", *TOOLS, "docker.io", "iptables"),
    qemu=("qemu-system-x86_64", "-M", "q35", "-cpu", "max"),
    console="ttyS0",
    append=" apparmor=0",
)
SPECS = {s.name: s for s in (PI, VM)}
REQUIRED = {
    "mmdebstrap": "mmdebstrap",
    "qemu-img": "qemu-utils",
    "mkfs.ext4": "e2fsprogs",
    "qemu-system-aarch64": "qemu-system-arm",
    "qemu-system-x86_64": "qemu-system-x86",
}


def pid(spec: Spec) -> int | None:
    try:
        return int((spec.state / "qemu.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None


def running(spec: Spec) -> bool:
    return procs.alive(pid(spec))


def ssh_argv(spec: Spec) -> list[str]:
    argv = hostkeys.ssh_argv(ADDRESS)
    return [*argv[:-1], "-p", str(spec.port), argv[-1]]


def _binfmt() -> None:
    if not Path("/proc/sys/fs/binfmt_misc/register").exists():
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"])
    if not Path("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists():
        run(
            ["update-binfmts", "--enable", "qemu-aarch64"],
            hint="apt-get install qemu-user-static binfmt-support",
        )


def ensure_image(spec: Spec, progress: Callable[[str], None] = print) -> Path:
    image = spec.stem.with_suffix(".raw")
    if image.exists():
        return image
    missing = sorted({pkg for cmd, pkg in REQUIRED.items() if shutil.which(cmd) is None})
    if missing:
        raise LabError(
            f"the {spec.name} tier needs {' '.join(missing)}",
            f"apt-get install -y {' '.join(missing)} qemu-user-static binfmt-support",
        )
    if spec.machine == "aarch64":
        _binfmt()
    config.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    work = spec.stem.with_suffix(".partial")
    root = work / "root"
    done = work / "mmdebstrap-done"  # a finished mmdebstrap (minutes) is not redone
    start = time.monotonic()
    if not done.exists():
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        progress(
            f"building the {spec.arch} rootfs for the {spec.name} VM (mmdebstrap, first "
            "time only, a few minutes)"
        )
        run(
            [
                "mmdebstrap",
                f"--arch={spec.arch}",
                "--variant=minbase",
                f"--include={','.join(spec.packages)}",
                f"--essential-hook={INITRAMFS_HOOK}",
                "--dpkgopt=path-exclude=/usr/share/doc/*",
                "--dpkgopt=path-exclude=/usr/share/man/*",
                "--dpkgopt=path-exclude=/usr/share/locale/*",
                config.SUITE,
                str(root),
                rootfs.debian_mirror(),
            ],
            timeout=1800,
            what=f"mmdebstrap ({spec.arch})",
        )
        done.write_text("ok\n")
    _customise(spec, root)
    raw = work / "disk.raw"
    raw.unlink(missing_ok=True)
    run(["truncate", "-s", "4G", str(raw)])
    run(
        ["mkfs.ext4", "-q", "-L", "root", "-d", str(root), str(raw)],
        timeout=600,
        what="making the VM disk",
    )
    for name in ("vmlinuz", "initrd.img"):
        found = sorted((root / "boot").glob(f"{name}-*"))
        if not found:
            raise LabError(
                f"the {spec.name} rootfs has no /boot/{name}-*", f"rebuild it: rm -r {work}"
            )
        shutil.copy(found[-1], spec.stem.with_suffix(f".{name}"))
    raw.rename(image)
    shutil.rmtree(work, ignore_errors=True)
    progress(f"{spec.name} VM image ready in {time.monotonic() - start:.0f} s")
    return image


def _customise(spec: Spec, root: Path) -> None:
    (root / "etc" / "hostname").write_text(f"{spec.name}\n")
    (root / "etc" / "hosts").write_text(
        f"127.0.0.1\tlocalhost\n127.0.1.1\t{spec.name}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
    (root / "etc" / "fstab").write_text("/dev/vda / ext4 defaults,noatime 0 1\n")
    (root / "etc" / "machine-id").write_text("")
    # QEMU's user network: a fixed address, no DHCP client needed; restrict=on keeps the guest
    # off every other network.
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
    ssh = root / "etc" / "ssh"
    for key in ssh.glob("ssh_host_*"):
        key.unlink()
    hostkey = spec.stem.with_suffix(".hostkey")
    public = hostkeys.generate_host_key(hostkey)
    shutil.copy(hostkey, ssh / "ssh_host_ed25519_key")
    shutil.copy(f"{hostkey}.pub", ssh / "ssh_host_ed25519_key.pub")
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
    spec.stem.with_suffix(".known").write_text(public + "\n")


def up(spec: Spec, progress: Callable[[str], None] = print, boot_timeout: float = 300) -> None:
    image = ensure_image(spec, progress)
    hostkeys.record(f"[{ADDRESS}]:{spec.port}", spec.stem.with_suffix(".known").read_text().strip())
    if running(spec) and procs.ssh_banner(ADDRESS, spec.port):
        _settle(spec, boot_timeout)
        return
    down(spec)
    state = spec.state
    state.mkdir(parents=True, exist_ok=True)
    overlay = state / "overlay.qcow2"
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image), "-F", "raw", str(overlay)])
    argv = [
        *spec.qemu,
        "-smp",
        "2",
        "-m",
        "2048",
        "-accel",
        "tcg,thread=multi",
        "-kernel",
        str(spec.stem.with_suffix(".vmlinuz")),
        "-initrd",
        str(spec.stem.with_suffix(".initrd.img")),
        "-append",
        f"root=/dev/vda rw console={spec.console} quiet{spec.append}",
        "-drive",
        f"file={overlay},if=none,id=d0,format=qcow2,cache=unsafe",
        "-device",
        "virtio-blk-pci,drive=d0",
        "-netdev",
        f"user,id=n0,restrict=on,hostfwd=tcp:{ADDRESS}:{spec.port}-:22",
        "-device",
        "virtio-net-pci,netdev=n0",
        "-serial",
        f"file:{state / 'console.log'}",
        "-display",
        "none",
        "-monitor",
        "none",
    ]
    progress(f"booting the {spec.name} VM ({spec.machine}, QEMU TCG, under a minute)")
    child = procs.spawn(argv, state / "qemu.log")
    (state / "qemu.pid").write_text(f"{child}\n")
    procs.wait_for(
        lambda: procs.ssh_banner(ADDRESS, spec.port) or not procs.alive(child),
        boot_timeout,
        f"the {spec.name} VM booting",
        f"see {state}/console.log",
        interval=1,
    )
    if not procs.alive(child):
        raise LabError(
            f"the {spec.name} VM stopped while booting",
            f"see {state}/console.log and {state}/qemu.log",
        )
    _settle(spec, boot_timeout)


def _settle(spec: Spec, timeout: float) -> None:
    """sshd answers long before boot is over under TCG: wait for systemd's start-up jobs and
    udev's queue, or /dev/kvm (a module udev loads) can still be missing when a test starts."""
    command = f"systemctl is-system-running --wait; udevadm settle --timeout={int(timeout)}"
    result = run(
        [*ssh_argv(spec), command],
        check=False,
        timeout=timeout,
        what=f"waiting for the {spec.name} VM to finish booting",
        hint=f"see {spec.state}/console.log",
    )
    state = result.stdout.decode(errors="replace").split()[:1]
    if state not in (["running"], ["degraded"]):
        raise LabError(
            f"the {spec.name} VM did not finish booting "
            f"(systemd says {' '.join(state) or 'nothing'})",
            f"see {spec.state}/console.log, or ssh in: {' '.join(ssh_argv(spec))}",
        )


def down(spec: Spec) -> None:
    procs.stop(pid(spec), timeout=10)
    shutil.rmtree(spec.state, ignore_errors=True)
