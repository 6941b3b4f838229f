"""Where the lab lives and what it is made of. Fixed paths: profiles/lab.yaml refers to them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STATE_DIR = Path("/var/lib/workbench-lab")  # keys, known_hosts, per-host state, state.json
CACHE_DIR = Path("/var/cache/workbench-lab")  # rootfs and docker data, kept across `down`
KEY = STATE_DIR / "id_ed25519"
KNOWN_HOSTS = STATE_DIR / "known_hosts"

# The lab network: a bridge in the root namespace and one network namespace per host. These
# private addresses exist only inside namespaces the lab created.
BRIDGE = "wblab0"
GATEWAY = "10.213.0.1"
PREFIX = 24
SUITE = "bookworm"


@dataclass(frozen=True)
class LabHost:
    name: str
    address: str
    kind: str  # "nspawn": booted Debian with systemd; "netns": overlay root with sshd + dockerd

    @property
    def netns(self) -> str:
        return f"wblab-{self.name}"

    @property
    def veth(self) -> str:
        return f"wblab-{self.name[:9]}"  # IFNAMSIZ: 15 characters

    @property
    def state(self) -> Path:
        return STATE_DIR / self.name


TARGET = LabHost("target", "10.213.0.2", "nspawn")
BUILDER = LabHost("builder", "10.213.0.3", "netns")
HOSTS = {h.name: h for h in (TARGET, BUILDER)}

# `lab up --nokvm`: a target like `target` but without /dev/kvm, for solo5-spt.
NOKVM = LabHost("nokvm", "10.213.0.4", "nspawn")

# `lab up --fleet N`: more targets like `target`, for fleet deploys (fleet01 at .101, ...).
FLEET_MAX = 64


def fleet_host(i: int) -> LabHost:
    return LabHost(f"fleet{i:02d}", f"10.213.0.{100 + i}", "nspawn")
