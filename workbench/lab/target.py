"""The lab `target`: a booted Debian with systemd as PID 1 (systemd-nspawn) in its own network
namespace, with sshd, journald, iproute2, ifupdown, bridge-utils and systemd-networkd, and
/dev/kvm and /dev/net/tun as a Pi would have them (root:kvm 0660, 0666).

The root is an overlay on the cached rootfs, so every `up` starts from a clean host and the
cache is never written to.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from workbench.errors import LabError
from workbench.lab import config, hostkeys, procs
from workbench.lab.sysrun import run

HOST = config.TARGET
# Bump when _personalise changes, so `lab up` replaces a target made the old way.
SETUP_VERSION = 2
ROOT = HOST.state / "root"
PIDFILE = HOST.state / "nspawn.pid"
LOG = HOST.state / "nspawn.log"


def pid() -> int | None:
    try:
        return int(PIDFILE.read_text())
    except (FileNotFoundError, ValueError):
        return None


def running() -> bool:
    return procs.alive(pid())


def up(rootfs: Path, tender: Path, boot_timeout: float = 90) -> None:
    stamp = HOST.state / "made-from"
    made_from = f"{rootfs.name} {tender.name} setup-{SETUP_VERSION}"
    current = stamp.read_text().strip() if stamp.exists() else ""
    if running() and procs.ssh_banner(HOST.address) and current == made_from:
        return
    down()  # leftovers of a crashed or half-finished `up`
    for sub in ("upper", "work"):  # a clean host every time: nothing left from the last lab
        shutil.rmtree(HOST.state / sub, ignore_errors=True)
    for sub in ("upper", "work", "root", "dev"):
        (HOST.state / sub).mkdir(parents=True, exist_ok=True)
    run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={rootfs},upperdir={HOST.state / 'upper'},workdir={HOST.state / 'work'}",
            str(ROOT),
        ],
        what="mounting the target's root",
    )
    _personalise(tender)
    stamp.write_text(made_from + "\n")
    binds = _device_binds()
    argv = [
        "systemd-nspawn",
        "-D",
        str(ROOT),
        "-b",
        "--register=no",
        "--keep-unit",
        f"--network-namespace-path=/run/netns/{HOST.netns}",
        "--capability=all",
        "--console=passive",
        f"--machine={HOST.netns}",
        "--hostname=target",
        *binds,
    ]
    # Measured recipe (shared/reference/lab-hosts.md): `network` keeps /proc/sys/net writable
    # for bridges and forwarding; `--keep-unit` because there is no systemd on the outside.
    child = procs.spawn(argv, LOG, env={"SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"})
    PIDFILE.write_text(f"{child}\n")
    hint = f"see {LOG}"
    procs.wait_for(
        lambda: procs.ssh_banner(HOST.address) or not procs.alive(child),
        boot_timeout,
        "the lab target (systemd-nspawn) booting",
        hint,
    )
    if not procs.alive(child):
        tail = LOG.read_text(errors="replace").strip().splitlines()[-3:]
        raise LabError(f"the lab target stopped while booting: {' / '.join(tail)}", hint)
    procs.wait_for(_system_running, 60, "the lab target's systemd", hint, interval=0.5)


def _system_running() -> bool:
    result = run(
        [*hostkeys.ssh_argv(HOST.address), "systemctl", "is-system-running"],
        check=False,
        timeout=15,
    )
    return result.stdout.strip() in (b"running", b"degraded")


def _personalise(tender: Path) -> None:
    public = hostkeys.generate_host_key(HOST.state / "ssh_host_ed25519_key")
    ssh_dir = ROOT / "etc" / "ssh"
    for key in ssh_dir.glob("ssh_host_*"):
        key.unlink()
    shutil.copy(HOST.state / "ssh_host_ed25519_key", ssh_dir / "ssh_host_ed25519_key")
    shutil.copy(HOST.state / "ssh_host_ed25519_key.pub", ssh_dir / "ssh_host_ed25519_key.pub")
    (ssh_dir / "ssh_host_ed25519_key").chmod(0o600)
    (ssh_dir / "sshd_config.d").mkdir(exist_ok=True)
    (ssh_dir / "sshd_config.d" / "workbench-lab.conf").write_text(
        "HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
    )
    root_ssh = ROOT / "root" / ".ssh"
    root_ssh.mkdir(mode=0o700, exist_ok=True)
    shutil.copy(config.KEY.with_suffix(".pub"), root_ssh / "authorized_keys")
    (root_ssh / "authorized_keys").chmod(0o600)
    (ROOT / "etc" / "hostname").write_text("target\n")
    # As the Debian installer does: the host name resolves without DNS (sudo looks it up, and
    # the lab has no DNS, so without this every sudo waits for a resolver timeout).
    (ROOT / "etc" / "hosts").write_text(
        "127.0.0.1\tlocalhost\n127.0.1.1\ttarget\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
    # A solo5-hvt "installed on the host" (the lab double), for deploys of prebuilt artifacts.
    local_bin = ROOT / "usr" / "local" / "bin"
    local_bin.mkdir(parents=True, exist_ok=True)
    shutil.copy(tender, local_bin / "solo5-hvt")
    (local_bin / "solo5-hvt").chmod(0o755)
    hostkeys.record(HOST.address, public)


def _kvm_gid() -> int:
    for line in (ROOT / "etc" / "group").read_text().splitlines():
        name, _x, gid, *_ = line.split(":")
        if name == "kvm":
            return int(gid)
    raise LabError("the lab rootfs has no kvm group", "rebuild it: rm -r the rootfs cache")


def _device_binds() -> list[str]:
    """Own device nodes (same majors/minors) with the owners a Pi has, bound into the target.

    Binding the machine's nodes would make a chown inside the target change them for the whole
    machine; separate nodes keep the machine untouched.
    """
    binds = []
    dev = HOST.state / "dev"
    if not Path("/dev/net/tun").exists():
        raise LabError("this machine has no /dev/net/tun", "modprobe tun")
    for name, source, mode, gid in (
        ("tun", "/dev/net/tun", 0o666, 0),
        ("kvm", "/dev/kvm", 0o660, None),
    ):
        if not Path(source).exists():
            continue  # no KVM here: the tender reports it, as on a Pi without a 64-bit kernel
        node = dev / name
        node.unlink(missing_ok=True)
        rdev = Path(source).stat().st_rdev
        os.mknod(node, mode | stat.S_IFCHR, rdev)
        node.chmod(mode)
        os.chown(node, 0, _kvm_gid() if gid is None else gid)
        binds.append(f"--bind={node}:{source}")
    return binds


def down() -> None:
    procs.stop(pid(), timeout=20)
    for leftover in procs.netns_pids(HOST.netns):
        procs.stop(leftover, timeout=5)
    if ROOT.is_mount():
        run(["umount", "-R", str(ROOT)], check=False)
        if ROOT.is_mount():
            run(["umount", "-l", str(ROOT)])
    PIDFILE.unlink(missing_ok=True)
