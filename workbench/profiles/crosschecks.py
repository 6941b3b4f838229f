"""Checks that span a profile's sections (hosts and jumps, taps, addresses, `after:`), made on
the raw YAML data so that they are reported together with the field errors, each at the
location of the value at fault."""

from __future__ import annotations

import ipaddress
from typing import Any

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

    problems.extend(_unikernel_checks(data))
    return problems


def _unikernel_items(data: dict[str, Any]) -> list[tuple[Loc, dict[str, Any]]]:
    """Each unikernel's raw mapping with its location: `unikernel` or `unikernels[i]`."""
    if isinstance(data.get("unikernel"), dict):
        return [(("unikernel",), data["unikernel"])]
    items = data.get("unikernels")
    if not isinstance(items, list):
        return []
    return [(("unikernels", i), uk) for i, uk in enumerate(items) if isinstance(uk, dict)]


def _unikernel_checks(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    net = _section(data, "network")
    bridge = net.get("bridge", "br100")
    items = _unikernel_items(data)
    taps: dict[object, str] = {}  # tap -> who has it, as the message names it
    addresses: dict[str, object] = {}  # --ipv4 address -> the unikernel's name
    names: dict[object, int] = {}
    for loc, uk in items:
        name = uk.get("name")
        label = f"unikernel '{name}'" if len(items) > 1 else None
        if isinstance(name, str):
            if name in names:
                problems.append(((*loc, "name"), f"'{name}' is already the name of another"))
            names.setdefault(name, len(names))
        # Unset, it is the model's default (service: tap100): two such items clash too.
        networks = uk.get("networks", {"service": "tap100"})
        for device, tap in networks.items() if isinstance(networks, dict) else ():
            if not isinstance(tap, str):
                continue
            where = (*loc, "networks", device)
            if tap in taps:
                problems.append((where, f"tap '{tap}' is already used by {taps[tap]}"))
            taps.setdefault(tap, f"{label} (device '{device}')" if label else f"'{device}'")
            if tap == bridge:
                problems.append((where, f"'{tap}' is the bridge (network.bridge)"))
        problems.extend(_ipv4_in_subnet(loc, uk, net))
        args = uk.get("args")
        for i, arg in enumerate(args if isinstance(args, list) else ()):
            if isinstance(arg, str) and arg.startswith("--ipv4="):
                ip = arg.removeprefix("--ipv4=").split("/")[0]
                owner = addresses.setdefault(ip, name)
                if owner != name:
                    problems.append(
                        ((*loc, "args", i), f"{ip} is already the address of unikernel '{owner}'")
                    )
        if uk.get("source") is None and uk.get("artifact") is None and uk.get("runtime") != "qemu":
            problems.append(
                (loc, "set `source` (a MirageOS directory) or `artifact` (a built .hvt)")
            )
        if uk.get("tender") is not None and uk.get("artifact") is None:
            problems.append(
                (
                    (*loc, "tender"),
                    "a prebuilt tender goes with a prebuilt `artifact`; "
                    "a source build brings its own tender",
                )
            )
    problems.extend(_after_checks(items, names))
    problems.extend(_shared_images(items))
    if len(items) > 1 and net.get("mode") == "tap-only":
        problems.append(
            (
                ("network", "mode"),
                "'tap-only' gives the one tap the host address, so it is for one unikernel; "
                "several need a bridge: use mode 'nat'",
            )
        )
    if len(items) > 1 and _section(data, "service").get("unit") is not None:
        problems.append(
            (
                ("service", "unit"),
                "one unit name cannot name several unikernels: each runs as "
                "unikernel-NAME.service (drop `unit`)",
            )
        )
    return problems


def _after_checks(
    items: list[tuple[Loc, dict[str, Any]]], names: dict[object, int]
) -> list[tuple[Loc, str]]:
    """`after:` names other unikernels of the profile, and never goes round."""
    problems: list[tuple[Loc, str]] = []
    graph: dict[str, list[str]] = {}
    for loc, uk in items:
        after = uk.get("after")
        if not isinstance(after, list):
            continue
        for i, other in enumerate(after):
            if not isinstance(other, str):
                continue
            if other == uk.get("name"):
                problems.append(((*loc, "after", i), "a unikernel cannot start after itself"))
            elif other not in names:
                known = ", ".join(str(n) for n in names)
                problems.append(
                    ((*loc, "after", i), f"'{other}' is not a unikernel here (have: {known})")
                )
            elif isinstance(uk.get("name"), str):
                graph.setdefault(uk["name"], []).append(other)
    for loc, uk in items:
        if isinstance(uk.get("name"), str) and (cycle := _after_cycle(graph, uk["name"])):
            problems.append(((*loc, "after"), f"`after` goes round: {cycle}"))
    return problems


def _after_cycle(graph: dict[str, list[str]], start: str) -> str | None:
    """'a -> b -> a' when following `after` from `start` leads back to it."""
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        for nxt in graph.get(name, ()):
            if nxt == start:
                return " -> ".join([*path, nxt])
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


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


def _ipv4_in_subnet(loc: Loc, uk: dict[str, Any], net: dict[str, Any]) -> list[tuple[Loc, str]]:
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
                    (*loc, "args", i),
                    f"--ipv4={ip} is outside network.address {host_if} ({host_if.network}); "
                    "the unikernel would be unreachable from the host",
                )
            ]
        if ip.ip == host_if.ip:
            return [((*loc, "args", i), f"--ipv4={ip} is the host's own address")]
    return []


def _shared_images(items: list[tuple[Loc, dict[str, Any]]]) -> list[tuple[Loc, str]]:
    """No two block devices (of one unikernel or of two) on one image file: two writers would
    corrupt it. Default paths are per unikernel and device, so only given paths can clash."""
    problems: list[tuple[Loc, str]] = []
    seen: dict[str, str] = {}
    for loc, uk in items:
        block = uk.get("block")
        for device, image in block.items() if isinstance(block, dict) else ():
            path = image.get("path") if isinstance(image, dict) else image
            if not isinstance(path, str):
                continue
            who = f"device '{device}' of unikernel '{uk.get('name')}'"
            if path in seen:
                problems.append(
                    ((*loc, "block", device), f"{path} is already the image of {seen[path]}")
                )
            seen.setdefault(path, who)
    return problems
