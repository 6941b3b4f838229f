"""Render every file deploy installs, as text: the systemd unit and the host network config.

Pure functions of (profile, artifact facts, tender version): no I/O beyond reading the bundled
templates, so the output can be diffed against what a host has and golden-tested.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

from workbench.artifacts.elf import ArtifactInfo, Device
from workbench.artifacts.tender import TenderVersion, tender_argv
from workbench.errors import ConfigError
from workbench.profiles.models import Profile

BACKENDS = ("ifupdown", "systemd-networkd")
SYSTEMD_DIR = "/etc/systemd/system"
IFUPDOWN_DIR = "/etc/network/interfaces.d"
NETWORKD_DIR = "/etc/systemd/network"
WORKBENCH_ETC = "/etc/workbench"


@dataclass(frozen=True)
class RenderedFile:
    path: str
    content: str
    purpose: str
    mode: int = 0o644


@cache
def _template(name: str) -> Template:
    return Template(resources.files("workbench.templates").joinpath(name).read_text("utf-8"))


def kernel_name(profile: Profile) -> str:
    return f"{profile.unikernel.name}.{profile.build.target}"


def assumed_devices(profile: Profile) -> tuple[Device, ...]:
    """The devices a profile expects, for rendering before an artifact is at hand."""
    uk = profile.unikernel
    return tuple(Device(n, "NET_BASIC") for n in uk.networks) + tuple(
        Device(n, "BLOCK_BASIC") for n in uk.block
    )


def exec_argv(
    profile: Profile,
    info: ArtifactInfo | None,
    tender: TenderVersion | None = None,
    profile_label: str = "the profile",
) -> list[str]:
    current = f"{profile.release_dir}/current"
    facts = info or ArtifactInfo(  # a placeholder: only its devices are read
        path=kernel_name(profile),
        size=0,
        sha256="",
        machine="",
        elf_class=64,
        abi=None,
        devices=assumed_devices(profile),
    )
    uk = profile.unikernel
    return tender_argv(
        tender=f"{current}/{profile.tender_name}",
        kernel=f"{current}/{kernel_name(profile)}",
        info=facts,
        memory=uk.memory,
        networks=uk.networks,
        block=uk.block,
        args=uk.args,
        version=tender,
        profile=f"profile '{profile_label}'" if profile_label != "the profile" else profile_label,
    )


def render_unit(
    profile: Profile,
    info: ArtifactInfo | None = None,
    tender: TenderVersion | None = None,
    profile_label: str = "the profile",
) -> RenderedFile:
    argv = exec_argv(profile, info, tender, profile_label)
    block_paths = sorted(set(profile.unikernel.block.values()))
    rw = "".join(f"ReadWritePaths={p}\n" for p in block_paths)
    svc = profile.service
    text = _template("unikernel.service").substitute(
        profile=profile_label,
        name=profile.unikernel.name,
        target=profile.build.target,
        release_dir=profile.release_dir,
        user=svc.user,
        group=svc.group,
        exec_start=" ".join(_systemd_quote(a) for a in argv),
        wait_for_taps=_wait_for_taps(sorted(set(profile.unikernel.networks.values()))),
        kvm_first=_KVM_FIRST if profile.build.target == "hvt" else "",
        # hvt maps guest memory RW and never exec on the host; spt runs the unikernel as host
        # code, and its loader mprotect()s the text PROT_EXEC, which this directive refuses.
        memory_deny_write_execute=(
            "MemoryDenyWriteExecute=yes\n" if profile.build.target == "hvt" else ""
        ),
        restart=svc.restart,
        restart_sec=svc.restart_sec,
        read_write_paths=rw,
    )
    return RenderedFile(unit_path(profile), text, "systemd unit")


def unit_path(profile: Profile) -> str:
    return f"{SYSTEMD_DIR}/{profile.unit_name}"


# At boot a tap can exist and still be down when the unit starts (networkd brings it up a
# moment later); the tender refuses a tap that is down and exits 1, which the unit counts as a
# clean stop, so the unikernel would stay down after every reboot. Wait for each tap to be up,
# 30 s at most, then let the tender say what is wrong. ('$$' is a '$' for the shell.)
_WAIT_FOR_TAPS = (
    'ExecStartPre=/bin/sh -c \'for t in "$$@"; do n=0; '
    'until ip -o link show dev "$$t" up 2>/dev/null | grep -q .; do '
    "n=$$((n+1)); [ $$n -ge 300 ] && break; sleep 0.1; done; done' workbench-wait-for-taps"
)


# On x86 /dev/kvm appears when udev loads kvm_intel/kvm_amd during boot, possibly after this
# unit starts; systemd builds the DeviceAllow= list when the unit starts ("Couldn't stat device
# /dev/kvm"), so the tender then gets EPERM. Load the module first: systemd's modprobe@ units
# ignore a module that is missing or built in (a Pi), and udev does not tag /dev/kvm for an
# ordering on the device itself.
_KVM_FIRST = (
    "# Load KVM before the tender: at boot /dev/kvm can appear after this unit starts, and a\n"
    "# device missing when the unit starts stays denied by DeviceAllow= (EPERM).\n"
    "Wants=modprobe@kvm_intel.service modprobe@kvm_amd.service\n"
    "After=modprobe@kvm_intel.service modprobe@kvm_amd.service\n"
)


def _wait_for_taps(taps: list[str]) -> str:
    """The ExecStartPre line that waits for `taps` (validated interface names) to be up."""
    if not taps:
        return ""
    comment = "# Wait (30 s at most) for the taps to be up: at boot they come up after this unit.\n"
    return comment + _WAIT_FOR_TAPS + " " + " ".join(taps) + "\n"


_PLAIN_WORD = re.compile(r"[A-Za-z0-9_./:=,+@-]+")


def _systemd_quote(arg: str) -> str:
    """One ExecStart word that systemd reads back as exactly `arg`: '%' and '$' doubled (unit
    specifiers, environment expansion), and anything but a plain word double-quoted with '\\'
    and '"' escaped, so that whitespace, quotes and a lone ';' (systemd's command separator)
    stay inside the word."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if _PLAIN_WORD.fullmatch(arg):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


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


def _summary(profile: Profile) -> str:
    net = profile.network
    taps = ", ".join(profile.unikernel.networks.values())
    if net.mode == "nat":
        return f"{taps} on host-only bridge {net.bridge} ({net.address}) with NAT"
    if net.mode == "bridge-uplink":
        return f"{taps} and uplink {net.uplink} on bridge {net.bridge} ({net.address})"
    return f"{taps} with host address {net.address}, no bridge"


def _nat_file(profile: Profile, label: str) -> RenderedFile:
    net = profile.network
    subnet = ipaddress.ip_interface(net.address).network
    egress = f'oifname "{net.uplink}"' if net.uplink else f'oifname != "{net.bridge}"'
    text = _template("nat.nft").substitute(
        profile=label, bridge=net.bridge, table=_nat_table(profile), subnet=subnet, egress=egress
    )
    return RenderedFile(f"{WORKBENCH_ETC}/nat-{net.bridge}.nft", text, "NAT rules (nftables)")


def _nat_table(profile: Profile) -> str:
    return "workbench_" + profile.network.bridge.replace("-", "_").replace(".", "_")


def _ifupdown(profile: Profile, label: str) -> list[RenderedFile]:
    net = profile.network
    user = profile.service.user
    taps = list(profile.unikernel.networks.values())
    stanzas: list[str] = []
    for tap in taps:
        lines = [f"auto {tap}"]
        if net.mode == "tap-only":
            lines += [f"iface {tap} inet static", f"    address {net.address}"]
        else:
            lines += [f"iface {tap} inet manual"]
        lines += [
            f"    pre-up ip tuntap add dev {tap} mode tap user {user}",
            f"    up ip link set dev {tap} up",
            f"    post-down ip tuntap del dev {tap} mode tap",
        ]
        stanzas.append("\n".join(lines))
    files: list[RenderedFile] = []
    if net.mode != "tap-only":
        ports = [*([net.uplink] if net.mode == "bridge-uplink" and net.uplink else []), *taps]
        if net.mode == "bridge-uplink":
            stanzas.append(f"iface {net.uplink} inet manual")
        method = "dhcp" if net.address == "dhcp" else "static"
        lines = [f"auto {net.bridge}", f"iface {net.bridge} inet {method}"]
        if method == "static":
            lines.append(f"    address {net.address}")
            if net.gateway:
                lines.append(f"    gateway {net.gateway}")
        lines += [
            f"    bridge_ports {' '.join(ports)}",
            "    bridge_stp off",
            "    bridge_fd 0",
            "    bridge_maxwait 0",
        ]
        if net.mode == "nat":
            nat = _nat_file(profile, label)
            lines += [
                "    post-up sysctl -q -w net.ipv4.ip_forward=1",
                f"    post-up nft -f {nat.path}",
                f"    pre-down nft delete table ip {_nat_table(profile)} || true",
            ]
            files.append(nat)
        stanzas.append("\n".join(lines))
    text = _template("ifupdown.interfaces").substitute(
        profile=label, summary=_summary(profile), stanzas="\n\n".join(stanzas)
    )
    name = f"workbench-{net.bridge if net.mode != 'tap-only' else taps[0]}"
    files.insert(0, RenderedFile(f"{IFUPDOWN_DIR}/{name}", text, "ifupdown interfaces"))
    return files


def _ini(label: str, summary: str, sections: list[tuple[str, list[tuple[str, str]]]]) -> str:
    out = [
        f"# Managed by workbench (profile {label}): {summary}",
        "# `workbench deploy` rewrites this file; local edits are replaced.",
    ]
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
    summary = _summary(profile)
    files: list[RenderedFile] = []

    def add(name: str, purpose: str, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        files.append(
            RenderedFile(f"{NETWORKD_DIR}/{name}", _ini(label, summary, sections), purpose)
        )

    quiet = [("RequiredForOnline", "no")]
    for tap in profile.unikernel.networks.values():
        add(
            f"10-workbench-{tap}.netdev",
            "tap device (networkd)",
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
            [
                ("Match", [("Name", tap)]),
                ("Network", network),
                ("Link", quiet),
            ],
        )
    if net.mode == "tap-only":
        return files
    add(
        f"10-workbench-{net.bridge}.netdev",
        "bridge device (networkd)",
        [
            ("NetDev", [("Name", net.bridge), ("Kind", "bridge")]),
        ],
    )
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
    add(
        f"10-workbench-{net.bridge}.network",
        "bridge network (networkd)",
        [
            ("Match", [("Name", net.bridge)]),
            ("Network", bridge_net),
            ("Link", [] if net.mode == "bridge-uplink" else quiet),
        ],
    )
    if net.mode == "bridge-uplink" and net.uplink:
        add(
            # 00-: sorts before the host's own file for the uplink, which networkd would
            # otherwise use (first match wins); removing ours on revert brings theirs back.
            f"00-workbench-{net.uplink}.network",
            "uplink as bridge port (networkd)",
            [
                ("Match", [("Name", net.uplink)]),
                ("Network", [("Bridge", net.bridge)]),
            ],
        )
    return files


def render_all(
    profile: Profile,
    backend: str,
    info: ArtifactInfo | None = None,
    tender: TenderVersion | None = None,
    profile_label: str = "the profile",
) -> list[RenderedFile]:
    return [
        render_unit(profile, info, tender, profile_label),
        *render_network(profile, backend, profile_label),
    ]
