"""`workbench lab up | down | status`: bring the lab's hosts up (idempotent, cached), report on
them, and remove everything the lab made, also after a crash or a half-finished `up`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from workbench.errors import LabError
from workbench.lab import (
    builder,
    config,
    deps,
    fleet,
    hostkeys,
    network,
    procs,
    rootfs,
    target,
    tender_double,
    vm,
)
from workbench.lab.sysrun import run

Progress = Callable[[str], None]


def missing_packages() -> list[str]:
    pkgs = {pkg for cmd, pkg in deps.LAB_COMMANDS.items() if shutil.which(cmd) is None}
    if not Path("/usr/lib/x86_64-linux-gnu/libc.a").exists() and os.uname().machine == "x86_64":
        pkgs.add("libc6-dev")
    return sorted(pkgs)


def preflight() -> None:
    if os.geteuid() != 0:
        raise LabError(
            "the lab needs root (network namespaces, mounts, systemd-nspawn)",
            "run it as root: sudo workbench lab up",
        )
    missing = missing_packages()
    if missing:
        raise LabError(
            f"missing Debian packages: {' '.join(missing)}",
            f"apt-get install -y {' '.join(missing)}   (or: workbench lab up --install-deps)",
        )


def install_deps(progress: Progress = print) -> None:
    """Install the lab's Debian packages without letting their postinst start host daemons."""
    if os.geteuid() != 0:
        raise LabError("installing packages needs root", "sudo workbench lab up --install-deps")
    packages = sorted({*deps.LAB_PACKAGES, *deps.VM_PACKAGES})
    progress(f"installing Debian packages: {' '.join(packages)}")
    policy = Path("/usr/sbin/policy-rc.d")
    had_policy = policy.exists()
    if not had_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")  # no service starts during the install
        policy.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-qq"], timeout=600, env=env)
        run(["apt-get", "install", "-y", "-qq", *packages], timeout=1800, env=env)
    finally:
        if not had_policy:
            policy.unlink(missing_ok=True)


def up(
    progress: Progress = print,
    install: bool = False,
    tiers: tuple[str, ...] = (),
    fleet_size: int = 0,
    nokvm: bool = False,
) -> dict[str, object]:
    if install:
        install_deps(progress)
    preflight()
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    config.STATE_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    base = rootfs.ensure(progress)
    tender = tender_double.build("x86_64")
    timings["rootfs+tender"] = time.monotonic() - t0
    hostkeys.ensure_client_key()
    network.bridge_up()
    for host in config.HOSTS.values():
        network.host_up(host)
    t = time.monotonic()
    progress("booting the target (systemd-nspawn)")
    target.up(base, tender)
    timings["target"] = time.monotonic() - t
    t = time.monotonic()
    progress("starting the builder (sshd + dockerd) and its build image")
    builder.up(tender)
    timings["builder"] = time.monotonic() - t
    if nokvm:
        t = time.monotonic()
        progress("booting nokvm, a target without /dev/kvm (systemd-nspawn)")
        network.host_up(config.NOKVM)
        target.up(base, tender, host=config.NOKVM, kvm=False)
        timings["nokvm"] = time.monotonic() - t
    if fleet_size:
        t = time.monotonic()
        fleet.up(fleet_size, base, tender, progress)
        timings["fleet"] = time.monotonic() - t
    for name in tiers:
        spec = vm.SPECS[name]
        t = time.monotonic()
        tender_double.build(spec.machine)
        vm.up(spec, progress)
        timings[name] = time.monotonic() - t
    timings["total"] = time.monotonic() - t0
    state = {"up_at": time.time(), "timings": {k: round(v, 2) for k, v in timings.items()}}
    (config.STATE_DIR / "state.json").write_text(json.dumps(state, indent=1) + "\n")
    return state


def down(progress: Progress = print) -> None:
    """Remove what the lab made: processes, mounts, namespaces, links, state files. Keeps the
    cache (rootfs, docker data), which only makes the next `up` faster."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root to tear down", "sudo workbench lab down")
    for spec in vm.SPECS.values():
        vm.down(spec)
    fleet.down()
    fleet.host_down(config.NOKVM)
    target.down()
    builder.down()
    for host in config.HOSTS.values():
        network.host_down(host)
    network.bridge_down()
    _unmount_under(config.STATE_DIR)
    if config.STATE_DIR.exists():
        shutil.rmtree(config.STATE_DIR)
    progress("lab is down")


def _unmount_under(path: Path) -> None:
    prefix = str(path) + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        if point.startswith(prefix):
            points.append(point)
    for point in sorted(points, key=len, reverse=True):
        run(["umount", "-l", point], check=False)


def status() -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    nokvm = [config.NOKVM] if config.NOKVM.state.exists() else []
    for host in [*config.HOSTS.values(), *nokvm, *fleet.existing()]:
        alive = target.running(host) if host.kind == "nspawn" else builder.running()
        info: dict[str, object] = {
            "address": host.address,
            "kind": host.kind,
            "netns": network.netns_exists(host.netns),
            "running": alive,
            "ssh": alive and procs.ssh_banner(host.address),
        }
        if info["ssh"]:
            info.update(_probe(host))
        out[host.name] = info
    for spec in vm.SPECS.values():
        if vm.running(spec):
            out[spec.name] = {
                "address": f"{vm.ADDRESS}:{spec.port}",
                "kind": "qemu",
                "running": True,
                "ssh": procs.ssh_banner(vm.ADDRESS, spec.port),
                "arch": spec.machine,
            }
    return out


def _probe(host: config.LabHost) -> dict[str, object]:
    if host.kind == "nspawn":
        cmd = "systemctl is-system-running; uname -m"
    else:
        cmd = (
            "docker version --format '{{.Server.Version}}'; uname -m; "
            f"docker images -q {builder.IMAGE}"
        )
    result = subprocess.run(
        [*hostkeys.ssh_argv(host.address), cmd],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    lines = result.stdout.split("\n")
    if host.kind == "nspawn":
        return {"systemd": lines[0] if lines else "?", "arch": lines[1] if len(lines) > 1 else "?"}
    return {
        "docker": lines[0] if lines else "?",
        "arch": lines[1] if len(lines) > 1 else "?",
        "image": builder.IMAGE if len(lines) > 2 and lines[2].strip() else None,
    }


def ssh_command(name: str, command: list[str]) -> list[str]:
    if name in vm.SPECS:
        return [*vm.ssh_argv(vm.SPECS[name]), *command]
    hosts = {**config.HOSTS, config.NOKVM.name: config.NOKVM}
    if name not in hosts:
        raise LabError(f"no lab host named '{name}'", f"hosts: {', '.join(hosts)}")
    return [*hostkeys.ssh_argv(hosts[name].address), *command]
