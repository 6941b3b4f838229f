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
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from workbench.profiles.fields import (
    BlockSize,
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
    target: Literal["hvt", "spt", "virtio"] = "hvt"
    configure_flags: tuple[Annotated[str, Field(pattern=r"^[^\n\r\x00]*$")], ...] = ()
    volume: str = Field("workbench-opam", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


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


def _path_form(value: object) -> object:
    """`DEVICE: /path` is short for `DEVICE: {path: /path}`."""
    return {"path": value} if isinstance(value, str) else value


class BlockImage(_Model):
    path: RemotePath | None = Field(None, description="default: RELEASES_ROOT/NAME/block/DEV.img")
    size: BlockSize | None = Field(
        None, description="created this size on first deploy, grown (never shrunk) after"
    )


UnikernelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")]


class RngDevice(_Model):
    """A virtio-rng fed from the host's /dev/urandom (Nanos and OSv read their entropy there)."""

    kind: Literal["rng"]


QemuDevice = Annotated[RngDevice, Field(discriminator="kind")]


class QemuImage(_Model):
    """`runtime: qemu`: a unikernel QEMU boots from a disk image or a kernel (what Nanos' `ops`
    and OSv's Capstan make). The file goes into each release; a disk is booted with
    `snapshot=on`, so a release never changes (state belongs on a `block` device)."""

    disk: Path | None = Field(None, description="bootable disk image (local file)")
    disk_format: Literal["raw", "qcow2"] = "raw"
    disk_interface: Literal["virtio-blk", "virtio-scsi", "ide"] = "virtio-blk"
    kernel: Path | None = Field(
        None, description="kernel QEMU loads itself (-kernel; `args` become -append)"
    )
    machine: Literal["pc", "q35"] = "pc"
    nic: Literal["virtio-net-pci", "e1000", "rtl8139"] = Field(
        "virtio-net-pci", description="the model of each `networks` device"
    )
    devices: tuple[QemuDevice, ...] = Field((), description="more devices, e.g. {kind: rng}")

    @model_validator(mode="after")
    def _boots(self) -> QemuImage:
        if (self.disk is None) == (self.kernel is None):
            raise ValueError(
                "give `disk` or `kernel` (one): what QEMU boots; a disk's own boot loader "
                "loads its kernel"
            )
        return self


class Unikernel(_Model):
    name: UnikernelName
    source: Path | None = Field(None, description="MirageOS source directory (has config.ml)")
    artifact: Path | None = Field(None, description="prebuilt .hvt/.spt to deploy instead")
    tender: Path | None = Field(None, description="prebuilt solo5-hvt/solo5-spt to deploy with it")
    memory: MemoryMiB = Field(64, ge=2, le=4096, description="guest memory, MiB")
    args: tuple[BootArg, ...] = ()
    networks: dict[DeviceName, VirtualInterfaceName] = Field(
        default_factory=lambda: {"service": "tap100"},
        description="manifest NET_BASIC device -> tap interface",
    )
    block: dict[DeviceName, Annotated[BlockImage, BeforeValidator(_path_form)]] = Field(
        default_factory=dict,
        description="manifest BLOCK_BASIC device -> image file on the host, or {path, size}",
    )
    health: HealthCheck | None = Field(None, description="default: the profile's `health`")
    accel: Literal["auto", "kvm", "tcg"] = Field(
        "auto",
        description="virtio/qemu: KVM when the service user can use it (auto), or forced",
    )
    runtime: Literal["solo5", "qemu"] = Field(
        "solo5", description="solo5: the artifact's target picks the tender; qemu: see `qemu`"
    )
    qemu: QemuImage | None = Field(None, description="runtime qemu: what QEMU boots")
    after: tuple[UnikernelName, ...] = Field(
        (), description="unikernels of this profile to deploy and start before this one"
    )

    @model_validator(mode="after")
    def _runtime(self) -> Unikernel:
        if self.runtime == "qemu":
            if self.qemu is None:
                raise ValueError("runtime qemu needs `qemu:` with a `disk` or a `kernel`")
            if self.artifact is not None or self.tender is not None or self.source is not None:
                raise ValueError(
                    "runtime qemu boots `qemu.disk`/`qemu.kernel`: drop source, artifact and tender"
                )
            if self.args and self.qemu.kernel is None:
                raise ValueError(
                    "`args` are a kernel's command line (-append): a disk image carries its own"
                )
        elif self.qemu is not None:
            raise ValueError("`qemu:` is for runtime qemu (set `runtime: qemu`)")
        return self

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


class Releases(_Model):
    root: RemotePath = Field("/var/lib/workbench", description="releases live in ROOT/NAME/")
    keep: int = Field(3, ge=1, le=100)


class Profile(_Model):
    description: str = ""
    hosts: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")], Host]
    targets: tuple[str, ...] = Field(min_length=1)
    build: Build = Build()
    # `unikernel:` (one) or `unikernels:` (a list); the engine works on one at a time, through
    # `view()`, so everything below `unikernel` reads as in a one-unikernel profile.
    one: Unikernel | None = Field(None, alias="unikernel")
    unikernels: tuple[Unikernel, ...] = ()
    network: Network = Network()
    service: Service = Service()
    health: HealthCheck | None = None
    releases: Releases = Releases()

    @model_validator(mode="after")
    def _one_or_list(self) -> Profile:
        if (self.one is None) == (not self.unikernels):
            raise ValueError("give `unikernel` (one) or `unikernels` (a list), not both or neither")
        return self

    @property
    def all_unikernels(self) -> tuple[Unikernel, ...]:
        return (self.one,) if self.one is not None else self.unikernels

    @property
    def unikernel(self) -> Unikernel:
        """The unikernel of a one-unikernel profile, or of one `view()` of a list."""
        if self.one is None:
            raise ValueError("a profile with `unikernels:` is used one unikernel at a time: view()")
        return self.one

    def view(self, uk: Unikernel) -> Profile:
        """This profile as if `uk` were its only unikernel (its own health check first)."""
        health = uk.health or self.health
        return self.model_copy(update={"one": uk, "unikernels": (), "health": health})

    @property
    def after_units(self) -> tuple[str, ...]:
        return tuple(unit_of(name) for name in self.unikernel.after)

    @property
    def unit_name(self) -> str:
        return self.service.unit or unit_of(self.unikernel.name)

    @property
    def runtime(self) -> str:
        """hvt, spt, virtio (the Solo5 target), or qemu (a generic QEMU guest). Of a profile
        with `unikernels:` (not a view of one), the build target its Solo5 ones share."""
        one = self.one
        return "qemu" if one is not None and one.runtime == "qemu" else self.build.target

    @property
    def under_qemu(self) -> bool:
        return self.runtime in ("virtio", "qemu")

    @property
    def tender_name(self) -> str:
        """The program the unit runs: a Solo5 tender kept in each release, or for virtio and
        qemu the host's QEMU (not part of a release: see artifacts/qemu.py)."""
        return "qemu-system-x86_64" if self.under_qemu else f"solo5-{self.build.target}"

    @property
    def tender_in_release(self) -> bool:
        return not self.under_qemu

    @property
    def block_paths(self) -> dict[str, str]:
        """Each block device's image on the host. Ones given only a size live next to the
        releases (kept across releases and rollbacks, never inside one)."""
        out = {}
        for device, image in self.unikernel.block.items():
            out[device] = image.path or f"{self.release_dir}/block/{device}.img"
        return out

    @property
    def block_sizes(self) -> dict[str, int]:
        """Image path -> the size deploy creates it at (or grows it to)."""
        paths = self.block_paths
        return {
            paths[device]: image.size
            for device, image in self.unikernel.block.items()
            if image.size is not None
        }

    @property
    def release_dir(self) -> str:
        return f"{self.releases.root}/{self.unikernel.name}"

    @property
    def build_host(self) -> str:
        return self.build.host or self.targets[0]


def unit_of(unikernel: str) -> str:
    return f"unikernel-{unikernel}.service"


def deploy_order(unikernels: tuple[Unikernel, ...]) -> list[Unikernel]:
    """`after:` first, else the profile's order (the cross checks refused unknown names and
    cycles)."""
    left, done, out = list(unikernels), set[str](), []
    while left:
        ready = next((u for u in left if set(u.after) <= done), left[0])
        left.remove(ready)
        done.add(ready.name)
        out.append(ready)
    return out
