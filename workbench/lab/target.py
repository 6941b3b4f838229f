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
from workbench.lab.config import LabHost
from workbench.lab.sysrun import run

HOST = config.TARGET
# Bump when _personalise changes, so `lab up` replaces a target made the old way.
SETUP_VERSION = 3
# One such host is `target`; `lab up --fleet N` makes more of them (fleet01..) the same way.


def _root(host: LabHost) -> Path:
    return host.state / "root"


def _pidfile(host: LabHost) -> Path:
    return host.state / "nspawn.pid"


def _log(host: LabHost) -> Path:
    return host.state / "nspawn.log"


def pid(host: LabHost = HOST) -> int | None:
    try:
        return int(_pidfile(host).read_text())
    except (FileNotFoundError, ValueError):
        return None


def running(host: LabHost = HOST) -> bool:
    return procs.alive(pid(host))


def up(
    rootfs: Path, tender: Path, boot_timeout: float = 90, host: LabHost = HOST, kvm: bool = True
) -> None:
    """Boot `host` from the rootfs; `kvm=False`: without /dev/kvm, as a cloud VM without
    nested virtualisation is (spt runs there, hvt does not)."""
    root, pidfile, log = _root(host), _pidfile(host), _log(host)
    stamp = host.state / "made-from"
    made_from = f"{rootfs.name} {tender.name} setup-{SETUP_VERSION}{'' if kvm else ' no-kvm'}"
    current = stamp.read_text().strip() if stamp.exists() else ""
    if running(host) and procs.ssh_banner(host.address) and current == made_from:
        return
    down(host)  # leftovers of a crashed or half-finished `up`
    for sub in ("upper", "work"):  # a clean host every time: nothing left from the last lab
        shutil.rmtree(host.state / sub, ignore_errors=True)
    for sub in ("upper", "work", "root", "dev"):
        (host.state / sub).mkdir(parents=True, exist_ok=True)
    run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={rootfs},upperdir={host.state / 'upper'},workdir={host.state / 'work'}",
            str(root),
        ],
        what="mounting the target's root",
    )
    _personalise(tender, host)
    stamp.write_text(made_from + "\n")
    binds = _device_binds(host, kvm)
    argv = [
        "systemd-nspawn",
        "-D",
        str(root),
        "-b",
        "--register=no",
        "--keep-unit",
        f"--network-namespace-path=/run/netns/{host.netns}",
        "--capability=all",
        "--console=passive",
        f"--machine={host.netns}",
        f"--hostname={host.name}",
        *binds,
    ]
    # Measured recipe (shared/reference/lab-hosts.md): `network` keeps /proc/sys/net writable
    # for bridges and forwarding; `--keep-unit` because there is no systemd on the outside.
    child = procs.spawn(argv, log, env={"SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"})
    pidfile.write_text(f"{child}\n")
    hint = f"see {log}"
    procs.wait_for(
        lambda: procs.ssh_banner(host.address) or not procs.alive(child),
        boot_timeout,
        "the lab target (systemd-nspawn) booting",
        hint,
    )
    if not procs.alive(child):
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        raise LabError(f"the lab target stopped while booting: {' / '.join(tail)}", hint)
    procs.wait_for(
        lambda: _system_running(host), 60, f"the lab {host.name}'s systemd", hint, interval=0.5
    )


def _system_running(host: LabHost) -> bool:
    result = run(
        [*hostkeys.ssh_argv(host.address), "systemctl", "is-system-running"],
        check=False,
        timeout=15,
    )
    return result.stdout.strip() in (b"running", b"degraded")


def _personalise(tender: Path, host: LabHost) -> None:
    root = _root(host)
    public = hostkeys.generate_host_key(host.state / "ssh_host_ed25519_key")
    ssh_dir = root / "etc" / "ssh"
    for key in ssh_dir.glob("ssh_host_*"):
        key.unlink()
    shutil.copy(host.state / "ssh_host_ed25519_key", ssh_dir / "ssh_host_ed25519_key")
    shutil.copy(host.state / "ssh_host_ed25519_key.pub", ssh_dir / "ssh_host_ed25519_key.pub")
    (ssh_dir / "ssh_host_ed25519_key").chmod(0o600)
    (ssh_dir / "sshd_config.d").mkdir(exist_ok=True)
    (ssh_dir / "sshd_config.d" / "workbench-lab.conf").write_text(
        "HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
    )
    root_ssh = root / "root" / ".ssh"
    root_ssh.mkdir(mode=0o700, exist_ok=True)
    shutil.copy(config.KEY.with_suffix(".pub"), root_ssh / "authorized_keys")
    (root_ssh / "authorized_keys").chmod(0o600)
    (root / "etc" / "hostname").write_text(f"{host.name}\n")
    # As the Debian installer does: the host name resolves without DNS (sudo looks it up, and
    # the lab has no DNS, so without this every sudo waits for a resolver timeout).
    (root / "etc" / "hosts").write_text(
        f"127.0.0.1\tlocalhost\n127.0.1.1\t{host.name}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
    # solo5-hvt and solo5-spt "installed on the host" (the lab double plays the tender it is
    # named after), as `opam install solo5` installs both, for deploys of prebuilt artifacts.
    local_bin = root / "usr" / "local" / "bin"
    local_bin.mkdir(parents=True, exist_ok=True)
    for name in ("solo5-hvt", "solo5-spt"):
        shutil.copy(tender, local_bin / name)
        (local_bin / name).chmod(0o755)
    hostkeys.record(host.address, public)


def _kvm_gid(host: LabHost) -> int:
    for line in (_root(host) / "etc" / "group").read_text().splitlines():
        name, _x, gid, *_ = line.split(":")
        if name == "kvm":
            return int(gid)
    raise LabError("the lab rootfs has no kvm group", "rebuild it: rm -r the rootfs cache")


def _device_binds(host: LabHost, kvm: bool = True) -> list[str]:
    """Own device nodes (same majors/minors) with the owners a Pi has, bound into the target.

    Binding the machine's nodes would make a chown inside the target change them for the whole
    machine; separate nodes keep the machine untouched.
    """
    binds = []
    dev = host.state / "dev"
    if not Path("/dev/net/tun").exists():
        raise LabError("this machine has no /dev/net/tun", "modprobe tun")
    nodes: list[tuple[str, str, int, int | None]] = [("tun", "/dev/net/tun", 0o666, 0)]
    if kvm:
        nodes.append(("kvm", "/dev/kvm", 0o660, None))
    for name, source, mode, gid in nodes:
        if not Path(source).exists():
            continue  # no KVM here: the tender reports it, as on a Pi without a 64-bit kernel
        node = dev / name
        node.unlink(missing_ok=True)
        rdev = Path(source).stat().st_rdev
        os.mknod(node, mode | stat.S_IFCHR, rdev)
        node.chmod(mode)
        os.chown(node, 0, _kvm_gid(host) if gid is None else gid)
        binds.append(f"--bind={node}:{source}")
    return binds


def down(host: LabHost = HOST) -> None:
    root = _root(host)
    procs.stop(pid(host), timeout=20)
    for leftover in procs.netns_pids(host.netns):
        procs.stop(leftover, timeout=5)
    if root.is_mount():
        run(["umount", "-R", str(root)], check=False)
        if root.is_mount():
            run(["umount", "-l", str(root)])
    _pidfile(host).unlink(missing_ok=True)
