"""The Solo5 tender (solo5-hvt / solo5-spt): its version, and the command line to run a unikernel.

The argv follows the v0.12.1 grammar: `--mem=N`, one `--net:NAME=TAP` per NET_BASIC device of the
manifest, `--block:NAME=PATH` per BLOCK_BASIC, `--`, the kernel, then boot arguments. Tenders
before 0.6.0 had no manifest and took a single legacy `--net=TAP` (`--disk=PATH` for storage);
v0.12.1 rejects that form with "Invalid option", so it is only ever used for such old tenders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from workbench.artifacts.elf import ArtifactInfo, Device
from workbench.errors import ArtifactError, ConfigError

_VERSION = re.compile(
    r"^(?P<name>solo5-[a-z0-9-]+) tender, version "
    r"v?(?P<ver>\d{1,9}\.\d{1,9}\.\d{1,9})(?P<extra>\S*)\s*$"
)
_ABI = re.compile(r"^ABI version (?P<abi>\d{1,9})\s*$")  # bounded: the text is a binary's
MANIFEST_SINCE = (0, 6, 0)


@dataclass(frozen=True)
class TenderVersion:
    name: str  # solo5-hvt, solo5-spt, solo5-hvt-debug
    version: tuple[int, int, int]
    extra: str  # e.g. "-7-g469c1a8" for a build from git
    abi: int | None

    @property
    def target(self) -> str:
        return self.name.removeprefix("solo5-").removesuffix("-debug")

    @property
    def text(self) -> str:
        return "v" + ".".join(map(str, self.version)) + self.extra

    @property
    def legacy_net(self) -> bool:
        return self.version < MANIFEST_SINCE


def parse_tender_version(output: str) -> TenderVersion:
    """Parse `solo5-hvt --version` (stderr and stdout together)."""
    name = ver = extra = None
    abi = None
    for line in output.splitlines():
        if m := _VERSION.match(line.strip()):
            name, ver, extra = m["name"], m["ver"], m["extra"]
        elif m := _ABI.match(line.strip()):
            abi = int(m["abi"])
    if name is None or ver is None:
        shown = output.strip().splitlines()[0][:120] if output.strip() else "(nothing)"
        raise ArtifactError(
            f"could not read a Solo5 tender version from `--version` output: {shown!r}",
            "is this a solo5-hvt/solo5-spt binary? `solo5-hvt --version` should print "
            "'solo5-hvt tender, version vX.Y.Z'",
        )
    major, minor, patch = (int(x) for x in ver.split("."))
    return TenderVersion(name=name, version=(major, minor, patch), extra=extra or "", abi=abi)


def check_compatible(tender: TenderVersion, info: ArtifactInfo) -> None:
    """The tender must be for the artifact's target and speak its ABI version."""
    if info.abi is None:
        raise ArtifactError(f"{info.path} has no Solo5 ABI note")
    if tender.target != info.abi.target:
        raise ArtifactError(
            f"{tender.name} cannot run {info.path}: it is built for solo5-{info.abi.target}",
            f"use solo5-{info.abi.target}, or rebuild with `mirage configure -t {tender.target}`",
        )
    if tender.abi is not None and tender.abi != info.abi.version:
        raise ArtifactError(
            f"{tender.name} {tender.text} speaks Solo5 ABI {tender.abi}, but {info.path} needs "
            f"ABI {info.abi.version}",
            "deploy the tender that was built with the unikernel (from the same `make depend`)",
        )
    if tender.legacy_net and info.devices is not None:
        raise ArtifactError(
            f"{tender.name} {tender.text} predates Solo5 manifests (0.6.0) but {info.path} has one",
            "deploy the tender that was built with the unikernel",
        )


def tender_argv(
    *,
    tender: str,
    kernel: str,
    info: ArtifactInfo,
    memory: int,
    networks: Mapping[str, str],
    block: Mapping[str, str],
    args: Sequence[str],
    version: TenderVersion | None = None,
    profile: str = "the profile",
) -> list[str]:
    """Build the tender command line for this artifact and profile mapping."""
    if version is not None and version.legacy_net:
        return _legacy_argv(tender, kernel, memory, networks, block, args, profile)
    if info.devices is None:
        raise ArtifactError(
            f"{info.path} has no Solo5 manifest, so it was built for a Solo5 older than 0.6.0",
            "rebuild it with a current MirageOS/Solo5, or deploy it with the old tender it needs",
        )
    argv = [tender, f"--mem={memory}"]
    for device, backing in mapped_devices(info, networks, block, profile):
        flag = "--net" if device.type == "NET_BASIC" else "--block"
        argv.append(f"{flag}:{device.name}={backing}")
    argv.append("--")
    argv.append(kernel)
    argv.extend(args)
    return argv


def mapped_devices(
    info: ArtifactInfo,
    networks: Mapping[str, str],
    block: Mapping[str, str],
    profile: str = "the profile",
) -> list[tuple[Device, str]]:
    """Each manifest device (in manifest order) with the tap or image the profile maps it to.
    Every declared device needs a mapping and every mapping a declared device: Solo5 refuses
    both (and so, for virtio, would the unikernel's own device probe)."""
    assert info.devices is not None
    declared = {d.name: d.type for d in info.devices}
    out = []
    for device in info.devices:
        table = networks if device.type == "NET_BASIC" else block
        key = "networks" if device.type == "NET_BASIC" else "block"
        example = "tap100" if device.type == "NET_BASIC" else "/var/lib/workbench/NAME/disk.img"
        if device.name not in table:
            raise ConfigError(
                f"the unikernel declares {device.type} device '{device.name}' but {profile} "
                f"does not map it (all declared devices must be attached)",
                f"set unikernel.{key}.{device.name} (e.g. {device.name}: {example}) in {profile}",
            )
        out.append((device, table[device.name]))
    for key, table in (("networks", networks), ("block", block)):
        for name in table:
            if name not in declared:
                have = ", ".join(f"{n} ({t})" for n, t in declared.items()) or "no devices"
                raise ConfigError(
                    f"{profile} maps unikernel.{key}.{name}, but the unikernel declares no such "
                    f"device (it declares: {have}); the tender would refuse it",
                    f"remove unikernel.{key}.{name} or rename it to a declared device",
                )
    return out


def _legacy_argv(
    tender: str,
    kernel: str,
    memory: int,
    networks: Mapping[str, str],
    block: Mapping[str, str],
    args: Sequence[str],
    profile: str,
) -> list[str]:
    if len(networks) > 1 or len(block) > 1:
        raise ConfigError(
            "tenders before Solo5 0.6.0 attach at most one network and one block device",
            f"map a single device in {profile}, or use a current tender",
        )
    argv = [tender, f"--mem={memory}"]
    argv += [f"--net={tap}" for tap in networks.values()]
    argv += [f"--disk={path}" for path in block.values()]
    return [*argv, "--", kernel, *args]
