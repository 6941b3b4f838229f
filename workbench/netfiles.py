"""Render the host network files deploy installs, as text: systemd-networkd or ifupdown.

Pure functions of the profile. Shared files (a bridge, its NAT) read the same whichever
profile writes them, so one unikernel's deploy never rewrites, and so never re-applies, what
another one on the same bridge uses: they name no profile and no tap. Each tap's files belong
to the unikernel that uses it, and a tap attaches itself to its bridge.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

from workbench.errors import ConfigError
from workbench.profiles.models import Profile

BACKENDS = ("ifupdown", "systemd-networkd")
IFUPDOWN_DIR = "/etc/network/interfaces.d"
NETWORKD_DIR = "/etc/systemd/network"
WORKBENCH_ETC = "/etc/workbench"
SHARED = "shared by every workbench unikernel on it"


@dataclass(frozen=True)
class RenderedFile:
    path: str
    content: str
    purpose: str
    mode: int = 0o644


@cache
def template(name: str) -> Template:
    return Template(resources.files("workbench.templates").joinpath(name).read_text("utf-8"))


def render_network(
    profile: Profile, backend: str, profile_label: str = "the profile"
) -> list[RenderedFile]:
    if backend not in BACKENDS:
        raise ConfigError(
            f"network backend '{backend}' cannot be rendered without a host to ask",
            "pass --backend ifupdown or --backend systemd-networkd (deploy detects it)",
        )
    net = profile.network
    if net.mode == "tap-only" and len(profile.unikernel.networks) != 1:
        raise ConfigError(
            "network.mode 'tap-only' gives one tap the host address, so it needs exactly one "
            f"network device; unikernel.networks has {len(profile.unikernel.networks)}",
            "use mode 'nat' (a bridge) for several network devices",
        )
    if backend == "ifupdown":
        return _ifupdown(profile, profile_label)
    return _networkd(profile, profile_label)


def _bridge_summary(profile: Profile) -> str:
    net = profile.network
    if net.mode == "nat":
        return f"host-only bridge {net.bridge} ({net.address}) with NAT, {SHARED}"
    return f"bridge {net.bridge} ({net.address}) with uplink {net.uplink}, {SHARED}"


def _tap_summary(profile: Profile, tap: str) -> str:
    net = profile.network
    where = f"on bridge {net.bridge}" if net.mode != "tap-only" else f"host address {net.address}"
    return f"tap {tap} of unikernel '{profile.unikernel.name}', {where}"


def _nat_file(profile: Profile) -> RenderedFile:
    net = profile.network
    subnet = ipaddress.ip_interface(net.address).network
    egress = f'oifname "{net.uplink}"' if net.uplink else f'oifname != "{net.bridge}"'
    text = template("nat.nft").substitute(
        bridge=net.bridge, table=_nat_table(profile), subnet=subnet, egress=egress
    )
    return RenderedFile(f"{WORKBENCH_ETC}/nat-{net.bridge}.nft", text, "NAT rules (nftables)")


def _nat_table(profile: Profile) -> str:
    return "workbench_" + profile.network.bridge.replace("-", "_").replace(".", "_")


def _header(owner: str | None, summary: str) -> str:
    who = f" (profile {owner})" if owner else ""
    return (
        f"# Managed by workbench{who}: {summary}\n"
        "# `workbench deploy` rewrites this file; local edits are replaced.\n"
    )


def _ifupdown(profile: Profile, label: str) -> list[RenderedFile]:
    """One file per tap (its unikernel's) and one per bridge (shared). A tap attaches itself
    to the bridge when it comes up: the bridge lists no ports, so adding or removing one
    unikernel never rewrites the bridge."""
    net = profile.network
    user = profile.service.user
    files: list[RenderedFile] = []
    if net.mode != "tap-only":
        files += _ifupdown_bridge(profile)
    for tap in profile.unikernel.networks.values():
        lines = [f"auto {tap}"]
        if net.mode == "tap-only":
            lines += [f"iface {tap} inet static", f"    address {net.address}"]
        else:
            lines += [f"iface {tap} inet manual"]
        lines.append(f"    pre-up ip tuntap add dev {tap} mode tap user {user}")
        if net.mode != "tap-only":
            lines.append(f"    up ip link set dev {tap} master {net.bridge}")
        lines += [
            f"    up ip link set dev {tap} up",
            f"    post-down ip tuntap del dev {tap} mode tap",
        ]
        text = _header(label, _tap_summary(profile, tap)) + "\n".join(lines) + "\n"
        files.append(RenderedFile(ifupdown_tap_path(profile, tap), text, "ifupdown tap"))
    return files


def tap_paths(profile: Profile, taps: Iterable[str] | None = None) -> set[str]:
    """The network files of the unikernel's taps (or of `taps`), on either backend; the rest
    of what `render_network` gives (bridge, NAT, uplink) is shared."""
    out: set[str] = set()
    for tap in profile.unikernel.networks.values() if taps is None else taps:
        out |= {
            f"{NETWORKD_DIR}/10-workbench-{tap}.netdev",
            f"{NETWORKD_DIR}/10-workbench-{tap}.network",
            ifupdown_tap_path(profile, tap),
        }
    return out


def nat_table(profile: Profile) -> str:
    return _nat_table(profile)


def ifupdown_tap_path(profile: Profile, tap: str) -> str:
    """`workbench-BRIDGE-TAP` on a bridge: at boot ifupdown reads interfaces.d in name order
    and a tap's `up ... master BRIDGE` needs the bridge, whose file is `workbench-BRIDGE`."""
    net = profile.network
    name = tap if net.mode == "tap-only" else f"{net.bridge}-{tap}"
    return f"{IFUPDOWN_DIR}/workbench-{name}"


def _ifupdown_bridge(profile: Profile) -> list[RenderedFile]:
    net = profile.network
    stanzas: list[str] = []
    if net.mode == "bridge-uplink":
        stanzas.append(f"iface {net.uplink} inet manual")
    method = "dhcp" if net.address == "dhcp" else "static"
    lines = [f"auto {net.bridge}", f"iface {net.bridge} inet {method}"]
    if method == "static":
        lines.append(f"    address {net.address}")
        if net.gateway:
            lines.append(f"    gateway {net.gateway}")
    ports = net.uplink if net.mode == "bridge-uplink" and net.uplink else "none"
    lines += [
        f"    bridge_ports {ports}",
        "    bridge_stp off",
        "    bridge_fd 0",
        "    bridge_maxwait 0",
    ]
    files: list[RenderedFile] = []
    if net.mode == "nat":
        nat = _nat_file(profile)
        lines += [
            "    post-up sysctl -q -w net.ipv4.ip_forward=1",
            f"    post-up nft -f {nat.path}",
            f"    pre-down nft delete table ip {_nat_table(profile)} || true",
        ]
        files.append(nat)
    stanzas.append("\n".join(lines))
    text = _header(None, _bridge_summary(profile)) + "\n\n".join(stanzas) + "\n"
    path = f"{IFUPDOWN_DIR}/workbench-{net.bridge}"
    return [RenderedFile(path, text, "ifupdown bridge"), *files]


def _ini(owner: str | None, summary: str, sections: list[tuple[str, list[tuple[str, str]]]]) -> str:
    out = [_header(owner, summary).rstrip("\n")]
    for title, pairs in sections:
        if not pairs:
            continue
        out.append("")
        out.append(f"[{title}]")
        out.extend(f"{k}={v}" for k, v in pairs)
    return "\n".join(out) + "\n"


def _networkd(profile: Profile, label: str) -> list[RenderedFile]:
    net = profile.network
    svc = profile.service
    files: list[RenderedFile] = []

    def add(
        name: str,
        purpose: str,
        owner: str | None,
        summary: str,
        sections: list[tuple[str, list[tuple[str, str]]]],
    ) -> None:
        files.append(
            RenderedFile(f"{NETWORKD_DIR}/{name}", _ini(owner, summary, sections), purpose)
        )

    quiet = [("RequiredForOnline", "no")]
    for tap in profile.unikernel.networks.values():
        summary = _tap_summary(profile, tap)
        add(
            f"10-workbench-{tap}.netdev",
            "tap device (networkd)",
            label,
            summary,
            [
                ("NetDev", [("Name", tap), ("Kind", "tap")]),
                ("Tap", [("User", svc.user), ("Group", svc.group)]),
            ],
        )
        network: list[tuple[str, str]] = [("ConfigureWithoutCarrier", "yes")]
        if net.mode == "tap-only":
            network += [
                ("Address", net.address),
                ("LinkLocalAddressing", "no"),
                ("IPv6AcceptRA", "no"),
            ]
        else:
            network.append(("Bridge", net.bridge))
        add(
            f"10-workbench-{tap}.network",
            "tap network (networkd)",
            label,
            summary,
            [
                ("Match", [("Name", tap)]),
                ("Network", network),
                ("Link", quiet),
            ],
        )
    if net.mode != "tap-only":
        files += _networkd_bridge(profile)
    return files


def _networkd_bridge(profile: Profile) -> list[RenderedFile]:
    net = profile.network
    summary = _bridge_summary(profile)
    bridge_net: list[tuple[str, str]] = [("ConfigureWithoutCarrier", "yes")]
    if net.address == "dhcp":
        bridge_net.append(("DHCP", "ipv4"))
    else:
        bridge_net.append(("Address", net.address))
        if net.gateway:
            bridge_net.append(("Gateway", net.gateway))
    bridge_net += [("LinkLocalAddressing", "no"), ("IPv6AcceptRA", "no")]
    if net.mode == "nat":
        bridge_net.append(("IPMasquerade", "ipv4"))  # also turns on IPv4 forwarding
    quiet = [("RequiredForOnline", "no")]
    files = [
        RenderedFile(
            f"{NETWORKD_DIR}/10-workbench-{net.bridge}.netdev",
            _ini(None, summary, [("NetDev", [("Name", net.bridge), ("Kind", "bridge")])]),
            "bridge device (networkd)",
        ),
        RenderedFile(
            f"{NETWORKD_DIR}/10-workbench-{net.bridge}.network",
            _ini(
                None,
                summary,
                [
                    ("Match", [("Name", net.bridge)]),
                    ("Network", bridge_net),
                    ("Link", [] if net.mode == "bridge-uplink" else quiet),
                ],
            ),
            "bridge network (networkd)",
        ),
    ]
    if net.mode == "bridge-uplink" and net.uplink:
        files.append(
            RenderedFile(
                # 00-: sorts before the host's own file for the uplink, which networkd would
                # otherwise use (first match wins); removing ours on revert brings theirs back.
                f"{NETWORKD_DIR}/00-workbench-{net.uplink}.network",
                _ini(
                    None,
                    summary,
                    [("Match", [("Name", net.uplink)]), ("Network", [("Bridge", net.bridge)])],
                ),
                "uplink as bridge port (networkd)",
            )
        )
    return files
