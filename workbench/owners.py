"""Who owns what on a host: a small record per unikernel, written at deploy, read by the next
deploy of any profile (to refuse taking another's unit, tap or address), by `remove` (is the
bridge still used?) and by `ps`.

A record is one line of JSON in /etc/workbench/owners/UNIT.json (UNIT without `.service`). It
names the profile by its name: two machines deploying one profile file are one owner. Pure: no
I/O; the facts script reads every record in the same round trip as the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from workbench.errors import ConfigError
from workbench.netfiles import RenderedFile
from workbench.profiles.loader import LoadedProfile

OWNERS_DIR = "/etc/workbench/owners"
MAX_RECORD = 4096  # bytes the facts script reads of a record: a real one is ~300


@dataclass(frozen=True)
class Owner:
    profile: str
    unikernel: str
    unit: str
    taps: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    bridge: str = ""
    release_dir: str = ""
    block: tuple[str, ...] = ()

    @property
    def who(self) -> str:
        return f"{self.unit} (unikernel '{self.unikernel}' of profile '{self.profile}')"


def record_path(unit: str) -> str:
    return f"{OWNERS_DIR}/{unit.removesuffix('.service')}.json"


def owner_of(loaded: LoadedProfile) -> Owner:
    p = loaded.profile
    uk = p.unikernel
    return Owner(
        profile=loaded.name,
        unikernel=uk.name,
        unit=p.unit_name,
        taps=tuple(dict.fromkeys(uk.networks.values())),
        addresses=(str(uk.ipv4.ip),) if uk.ipv4 else (),
        bridge=p.network.bridge if p.network.mode != "tap-only" else "",
        release_dir=p.release_dir,
        block=tuple(sorted(set(p.block_paths.values()))),
    )


def render_record(loaded: LoadedProfile) -> RenderedFile:
    o = owner_of(loaded)
    data = {
        "profile": o.profile,
        "unikernel": o.unikernel,
        "unit": o.unit,
        "taps": list(o.taps),
        "addresses": list(o.addresses),
        "bridge": o.bridge,
        "release_dir": o.release_dir,
        "block": list(o.block),
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"
    return RenderedFile(record_path(o.unit), text, "owner record")


def parse_record(text: str) -> Owner | None:
    """A record as the host has it; None for anything that is not one (a hostile or broken
    host's file is skipped, never trusted into a crash)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." from a hostile host
        return None
    if not isinstance(data, dict):
        return None
    strings = {k: data.get(k) for k in ("profile", "unikernel", "unit", "bridge", "release_dir")}
    lists = {k: data.get(k, []) for k in ("taps", "addresses", "block")}
    if not all(isinstance(v, str) for v in strings.values()):
        return None
    if not all(isinstance(v, list) and all(isinstance(i, str) for i in v) for v in lists.values()):
        return None
    if not (strings["profile"] and strings["unit"]):
        return None
    return Owner(
        profile=str(strings["profile"]),
        unikernel=str(strings["unikernel"]),
        unit=str(strings["unit"]),
        taps=tuple(lists["taps"]),
        addresses=tuple(lists["addresses"]),
        bridge=str(strings["bridge"]),
        release_dir=str(strings["release_dir"]),
        block=tuple(lists["block"]),
    )


def clash(loaded: LoadedProfile, owners: list[Owner], host: str) -> ConfigError | None:
    """Why this deploy would take what another profile's (or another unikernel's) is: its unit,
    a tap, or an address on the same bridge."""
    me = owner_of(loaded)
    manual = (
        "or, if that unikernel is gone for good, on {host}: systemctl disable --now {unit}; "
        "rm {record}"
    )
    for other in owners:
        if other.unit == me.unit:
            if other.profile == me.profile:
                continue  # ours: a redeploy
            return ConfigError(
                f"{me.unit} on {host} belongs to profile '{other.profile}' (it deployed it there)",
                f"remove it with that profile first (workbench remove --profile {other.profile}"
                f" --unikernel {other.unikernel}), or give this unikernel another name; "
                + manual.format(host=host, unit=other.unit, record=record_path(other.unit)),
            )
        hint = manual.format(host=host, unit=other.unit, record=record_path(other.unit))
        taken = [t for t in me.taps if t in other.taps]
        if taken:
            return ConfigError(
                f"tap {taken[0]} on {host} is used by {other.who}",
                f"map this unikernel's device to another tap (unikernel.networks); {hint}",
            )
        same_net = me.bridge and me.bridge == other.bridge
        taken = [a for a in me.addresses if a in other.addresses] if same_net else []
        if taken:
            return ConfigError(
                f"address {taken[0]} on bridge {me.bridge} of {host} is {other.who}'s",
                f"give this unikernel another --ipv4 in unikernel.args; {hint}",
            )
        shared = [x for x in (me.release_dir, *me.block) if x in (other.release_dir, *other.block)]
        if shared:
            return ConfigError(
                f"{shared[0]} on {host} is {other.who}'s (its releases or a block image)",
                f"give this unikernel another name, or its own block image paths; {hint}",
            )
    return None
