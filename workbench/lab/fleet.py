"""`lab up --fleet N`: N more booted Debian targets (fleet01..), each like `target` in its own
namespace, and a profile deploying to all of them (STATE_DIR/lab-fleet.yaml). For fleet
deploys and their benchmark; each costs ~30 MB and a second or two to boot."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from workbench.errors import LabError
from workbench.examples import HELLO
from workbench.lab import config, network, target

PROFILE = config.STATE_DIR / "lab-fleet.yaml"


def existing() -> list[config.LabHost]:
    hosts = []
    for i in range(1, config.FLEET_MAX + 1):
        host = config.fleet_host(i)
        if host.state.exists() or network.netns_exists(host.netns):
            hosts.append(host)
    return hosts


def up(n: int, rootfs: Path, tender: Path, progress=print) -> list[config.LabHost]:  # type: ignore[no-untyped-def]
    if not 1 <= n <= config.FLEET_MAX:
        raise LabError(f"--fleet {n}: between 1 and {config.FLEET_MAX} hosts", None)
    wanted = [config.fleet_host(i) for i in range(1, n + 1)]
    for host in existing():
        if host not in wanted:
            host_down(host)
    _raise_inotify_limits(n)
    progress(f"booting {n} fleet host(s) (systemd-nspawn)")
    for host in wanted:
        host.state.mkdir(parents=True, exist_ok=True)
        network.host_up(host)
    # A few at a time: each boot is mostly waiting for systemd, but 2 cores are 2 cores.
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda h: target.up(rootfs, tender, host=h), wanted))
    PROFILE.write_text(profile_text(wanted))
    return wanted


def _raise_inotify_limits(n: int) -> None:
    """Each booted systemd takes several inotify instances; the default 128 per user runs out
    at about 20 hosts ("Failed to allocate manager object: Too many open files")."""
    for name, wanted in (("max_user_instances", 128 + 32 * n), ("max_user_watches", 65536)):
        path = Path("/proc/sys/fs/inotify") / name
        if int(path.read_text()) < wanted:
            path.write_text(f"{wanted}\n")


def profile_text(hosts: list[config.LabHost]) -> str:
    lines = [
        "# Written by `workbench lab up --fleet N`: every fleet host of the lab as a target.",
        "description: Lab fleet - booted Debian targets (systemd-nspawn), lab tender double",
        "hosts:",
    ]
    for h in hosts:
        lines += [
            f"  {h.name}:",
            f"    address: {h.address}",
            "    user: root",
            f"    identity_file: {config.KEY}",
            "    agent: false",
            f"    known_hosts: {config.KNOWN_HOSTS}",
        ]
    b = config.BUILDER
    lines += [
        f"  {b.name}:",
        f"    address: {b.address}",
        "    user: root",
        f"    identity_file: {config.KEY}",
        "    agent: false",
        f"    known_hosts: {config.KNOWN_HOSTS}",
        f"targets: [{', '.join(h.name for h in hosts)}]",
        "build:",
        f"  host: {b.name}",
        "  image: workbench-lab/opam-double:latest",
        "unikernel:",
        "  name: hello",
        f"  source: {HELLO}",  # inside the package: an installed wheel has it too
        "  memory: 64",
        '  args: ["--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.0.1"]',
        "  networks:",
        "    service: tap100",
        "network:",
        "  mode: nat",
        "  bridge: br100",
        "  address: 10.0.0.1/24",
        "  backend: systemd-networkd",
        "health:",
        "  kind: http",
        "  port: 8080",
        "  path: /health",
        "  timeout: 60",
    ]
    return "\n".join(lines) + "\n"


def host_down(host: config.LabHost) -> None:
    """One such extra host gone: its target, namespace and state (if it was there at all)."""
    if not host.state.exists() and not network.netns_exists(host.netns):
        return
    target.down(host)
    network.host_down(host)
    if host.state.exists() and not (host.state / "root").is_mount():
        shutil.rmtree(host.state)


def down() -> None:
    for host in existing():
        host_down(host)
    PROFILE.unlink(missing_ok=True)
