"""The lab network: bridge `wblab0` in the root namespace, one network namespace per host joined
to it by a veth pair. Every step checks first, so `up` can be re-run and `down` can clean up
after a crash or a half-finished `up`."""

from __future__ import annotations

from pathlib import Path

from workbench.lab import config
from workbench.lab.config import LabHost
from workbench.lab.sysrun import run


def _link_exists(name: str, netns: str | None = None) -> bool:
    argv = ["ip", *(["-n", netns] if netns else []), "link", "show", "dev", name]
    return run(argv, check=False).returncode == 0


def netns_exists(name: str) -> bool:
    return Path(f"/run/netns/{name}").exists()


def bridge_up() -> None:
    if not _link_exists(config.BRIDGE):
        run(["ip", "link", "add", config.BRIDGE, "type", "bridge"])
    addr = f"{config.GATEWAY}/{config.PREFIX}"
    if addr not in run(["ip", "-br", "addr", "show", "dev", config.BRIDGE]).stdout.decode():
        run(["ip", "addr", "add", addr, "dev", config.BRIDGE])
    run(["ip", "link", "set", config.BRIDGE, "up"])


def bridge_down() -> None:
    if _link_exists(config.BRIDGE):
        run(["ip", "link", "del", config.BRIDGE])


def host_up(host: LabHost) -> None:
    if not netns_exists(host.netns):
        run(["ip", "netns", "add", host.netns])
    if _link_exists("eth0", host.netns) and not _link_exists(host.veth):
        # A pair made under an older veth name: remake it with today's.
        run(["ip", "-n", host.netns, "link", "del", "eth0"])
    if not _link_exists("eth0", host.netns):
        if _link_exists(host.veth):  # half-made pair from an interrupted `up`
            run(["ip", "link", "del", host.veth])
        run(
            [
                "ip",
                "link",
                "add",
                host.veth,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                host.netns,
            ]
        )
    run(["ip", "link", "set", host.veth, "master", config.BRIDGE, "up"])
    ns = ["ip", "-n", host.netns]
    addr = f"{host.address}/{config.PREFIX}"
    if addr not in run([*ns, "-br", "addr", "show", "dev", "eth0"]).stdout.decode():
        run([*ns, "addr", "add", addr, "dev", "eth0"])
    run([*ns, "link", "set", "eth0", "up"])
    run([*ns, "link", "set", "lo", "up"])
    if "default" not in run([*ns, "route", "show"]).stdout.decode():
        run([*ns, "route", "add", "default", "via", config.GATEWAY])


def host_down(host: LabHost) -> None:
    if netns_exists(host.netns):
        run(["ip", "netns", "del", host.netns])  # takes the veth pair with it, asynchronously
    if _link_exists(host.veth):
        run(["ip", "link", "del", host.veth], check=False)  # may vanish meanwhile: fine
