"""Typed, frozen profile models (pydantic v2, unknown keys refused).

A profile describes the hosts (targets and builder), the unikernel, how it is built, the host
network it plugs into, the systemd service that supervises it, its health check and how many
releases to keep. Defaults are chosen for the common case: one Pi or server, a `nat` bridge
that cannot cut the operator off, a unit named after the unikernel.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workbench.profiles.fields import (
    BootArg,
    DeviceName,
    HostName,
    InterfaceCIDR,
    InterfaceName,
    IPAddress,
    IPv4Gateway,
    MemoryMiB,
    RemotePath,
    UnitName,
    UserName,
    VirtualInterfaceName,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Host(_Model):
    """An SSH-reachable machine. `address` may also be an alias from ~/.ssh/config."""

    address: HostName
    port: int = Field(22, ge=1, le=65535)
    user: UserName = "root"
    identity_file: Path | None = None
    agent: bool = True
    passphrase_env: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="env var holding the key passphrase"
    )
    jump: str | None = Field(None, description="name of another host in `hosts` to jump through")
    known_hosts: Path | None = None
    sudo: bool | None = Field(None, description="use `sudo -n`; default: when user is not root")
    connect_timeout: float = Field(10.0, gt=0, le=300)

    @property
    def use_sudo(self) -> bool:
        return self.user != "root" if self.sudo is None else self.sudo


class Build(_Model):
    host: str | None = Field(None, description="host in `hosts` that runs the build container")
    image: str = Field(
        "ocaml/opam:debian-12-ocaml-5.3",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$",
        description="OPAM image; OCaml 5.3 works with ocaml-solo5 >= 1.1.0",
    )
    target: Literal["hvt", "spt"] = "hvt"
    configure_flags: tuple[Annotated[str, Field(pattern=r"^[^\n\r\x00]*$")], ...] = ()
    volume: str = Field("workbench-opam", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Unikernel(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
    source: Path | None = Field(None, description="MirageOS source directory (has config.ml)")
    artifact: Path | None = Field(None, description="prebuilt .hvt/.spt to deploy instead")
    tender: Path | None = Field(None, description="prebuilt solo5-hvt/solo5-spt to deploy with it")
    memory: MemoryMiB = Field(64, ge=2, le=4096, description="guest memory, MiB")
    args: tuple[BootArg, ...] = ()
    networks: dict[DeviceName, VirtualInterfaceName] = Field(
        default_factory=lambda: {"service": "tap100"},
        description="manifest NET_BASIC device -> tap interface",
    )
    block: dict[DeviceName, RemotePath] = Field(
        default_factory=dict, description="manifest BLOCK_BASIC device -> image file on the host"
    )

    @property
    def ipv4(self) -> ipaddress.IPv4Interface | None:
        for arg in self.args:
            if arg.startswith("--ipv4="):
                return ipaddress.IPv4Interface(arg.removeprefix("--ipv4="))
        return None


class Network(_Model):
    mode: Literal["nat", "bridge-uplink", "tap-only"] = "nat"
    backend: Literal["auto", "ifupdown", "systemd-networkd"] = "auto"
    bridge: VirtualInterfaceName = "br100"
    address: InterfaceCIDR | Literal["dhcp"] = "10.0.0.1/24"
    uplink: InterfaceName | None = Field(
        None, description="bridge-uplink: the port to enslave; nat: egress (default: any)"
    )
    gateway: IPv4Gateway | None = Field(
        None, description="bridge-uplink with a static address: the default gateway"
    )
    confirm_timeout: int = Field(
        60, ge=10, le=600, description="bridge-uplink: seconds before an unconfirmed change reverts"
    )

    @model_validator(mode="after")
    def _mode_rules(self) -> Network:
        if self.uplink is not None and self.uplink == self.bridge:
            raise ValueError(f"`uplink` and `bridge` are both '{self.bridge}': name two interfaces")
        if self.address != "dhcp" and ipaddress.ip_interface(self.address).version == 6:
            raise ValueError(
                f"'{self.address}': the bridge address must be IPv4 (the unikernels' --ipv4 "
                "subnet); IPv6 bridges, NAT and forwarding are not supported yet"
            )
        if self.mode == "bridge-uplink" and self.uplink is None:
            raise ValueError(
                "mode 'bridge-uplink' needs `uplink` (the interface to bridge, e.g. eth0)"
            )
        if self.gateway is not None and self.mode != "bridge-uplink":
            raise ValueError("`gateway` is for mode 'bridge-uplink' (the host's own default route)")
        if self.address == "dhcp" and self.mode != "bridge-uplink":
            raise ValueError(
                f"address 'dhcp' only makes sense with mode 'bridge-uplink'; mode '{self.mode}' "
                "needs a static address such as 10.0.0.1/24"
            )
        return self


class Service(_Model):
    unit: UnitName | None = Field(None, description="default: unikernel-NAME.service")
    user: UserName = "unikernel"
    group: UserName = "kvm"
    restart: Literal["no", "on-failure", "always"] = "on-failure"
    restart_sec: int = Field(2, ge=0, le=3600)


class TcpCheck(_Model):
    kind: Literal["tcp"]
    port: int = Field(ge=1, le=65535)
    address: IPAddress | None = None
    timeout: float = Field(30.0, gt=0, le=600)


class HttpCheck(_Model):
    kind: Literal["http"]
    port: int = Field(80, ge=1, le=65535)
    path: str = Field("/", pattern=r"^/[\x21-\x7e]*$")
    expect_status: int = Field(200, ge=100, le=599)
    address: IPAddress | None = None
    timeout: float = Field(30.0, gt=0, le=600)


class PingCheck(_Model):
    kind: Literal["ping"]
    address: IPAddress | None = None
    timeout: float = Field(30.0, gt=0, le=600)


class LogCheck(_Model):
    kind: Literal["log"]
    pattern: str = Field(min_length=1, description="regular expression matched against app lines")
    timeout: float = Field(30.0, gt=0, le=600)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


HealthCheck = Annotated[TcpCheck | HttpCheck | PingCheck | LogCheck, Field(discriminator="kind")]


class Releases(_Model):
    root: RemotePath = Field("/var/lib/workbench", description="releases live in ROOT/NAME/")
    keep: int = Field(3, ge=1, le=100)


class Profile(_Model):
    description: str = ""
    hosts: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")], Host]
    targets: tuple[str, ...] = Field(min_length=1)
    build: Build = Build()
    unikernel: Unikernel
    network: Network = Network()
    service: Service = Service()
    health: HealthCheck | None = None
    releases: Releases = Releases()

    @property
    def unit_name(self) -> str:
        return self.service.unit or f"unikernel-{self.unikernel.name}.service"

    @property
    def tender_name(self) -> str:
        return f"solo5-{self.build.target}"

    @property
    def release_dir(self) -> str:
        return f"{self.releases.root}/{self.unikernel.name}"

    @property
    def build_host(self) -> str:
        return self.build.host or self.targets[0]


Loc = tuple[str | int, ...]


def cross_checks(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    """Checks that span sections, each with the location of the value at fault.

    They read the raw YAML data (guarding every type) rather than the validated model, so that
    they are reported together with field errors instead of only once those are fixed.
    """
    problems: list[tuple[Loc, str]] = []
    raw_hosts = data.get("hosts")
    hosts: dict[Any, Any] = raw_hosts if isinstance(raw_hosts, dict) else {}
    names = sorted(str(n) for n in hosts)

    def unknown(ref: object) -> str:
        return f"'{ref}' is not a host in `hosts` (have: {', '.join(names) or 'none'})"

    targets = data.get("targets")
    if isinstance(targets, list):
        for i, ref in enumerate(targets):
            if not isinstance(ref, str):
                continue  # the field check says what type it should be
            if ref not in hosts:
                problems.append((("targets", i), unknown(ref)))
            elif ref in targets[:i]:
                problems.append((("targets", i), f"'{ref}' is listed twice"))
    build = _section(data, "build")
    if isinstance(build.get("host"), str) and build["host"] not in hosts:
        problems.append((("build", "host"), unknown(build["host"])))
    for name, host in hosts.items():
        jump = host.get("jump") if isinstance(host, dict) else None
        if not isinstance(jump, str):
            continue
        if jump == name:
            problems.append((("hosts", name, "jump"), "a host cannot jump through itself"))
        elif jump not in hosts:
            problems.append((("hosts", name, "jump"), unknown(jump)))
        elif cycle := _jump_cycle(hosts, name):
            problems.append((("hosts", name, "jump"), f"jump hosts go round: {cycle}"))

    uk = _section(data, "unikernel")
    net = _section(data, "network")
    bridge = net.get("bridge", "br100")
    networks = uk.get("networks")
    if isinstance(networks, dict):
        seen: dict[object, object] = {}
        for device, tap in networks.items():
            if not isinstance(tap, str):
                continue
            if tap in seen:
                problems.append(
                    (
                        ("unikernel", "networks", device),
                        f"tap '{tap}' is already used by '{seen[tap]}'",
                    )
                )
            seen[tap] = device
            if tap == bridge:
                problems.append(
                    (("unikernel", "networks", device), f"'{tap}' is the bridge (network.bridge)")
                )

    problems.extend(_ipv4_in_subnet(uk, net))
    if uk and uk.get("source") is None and uk.get("artifact") is None:
        problems.append(
            (("unikernel",), "set `source` (a MirageOS directory) or `artifact` (a built .hvt)")
        )
    if uk.get("tender") is not None and uk.get("artifact") is None:
        problems.append(
            (
                ("unikernel", "tender"),
                "a prebuilt tender goes with a prebuilt `artifact`; "
                "a source build brings its own tender",
            )
        )
    return problems


def _jump_cycle(hosts: dict[Any, Any], start: str) -> str | None:
    """'a -> b -> a' when following `jump` from `start` comes back to it."""
    chain, name = [start], start
    while True:
        host = hosts.get(name)
        jump = host.get("jump") if isinstance(host, dict) else None
        if not isinstance(jump, str) or jump not in hosts:
            return None
        if jump in chain:
            return " -> ".join([*chain, jump]) if jump == start else None
        chain.append(jump)
        name = jump


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _ipv4_in_subnet(uk: dict[str, Any], net: dict[str, Any]) -> list[tuple[Loc, str]]:
    args = uk.get("args")
    address = net.get("address", "10.0.0.1/24")
    if not isinstance(args, list) or address == "dhcp":
        return []
    try:
        host_if = ipaddress.ip_interface(str(address))
    except ValueError:
        return []  # reported by the field check
    for i, arg in enumerate(args):
        if not (isinstance(arg, str) and arg.startswith("--ipv4=")):
            continue
        try:
            ip = ipaddress.ip_interface(arg.removeprefix("--ipv4="))
        except ValueError:
            return []
        if ip.ip not in host_if.network:
            return [
                (
                    ("unikernel", "args", i),
                    f"--ipv4={ip} is outside network.address {host_if} ({host_if.network}); "
                    "the unikernel would be unreachable from the host",
                )
            ]
        if ip.ip == host_if.ip:
            return [(("unikernel", "args", i), f"--ipv4={ip} is the host's own address")]
    return []
