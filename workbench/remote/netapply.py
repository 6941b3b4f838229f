"""Applying a host network change: ifupdown or systemd-networkd, and bridge-uplink behind a
dead man's switch. The engine decides what to write; this runs the ip/ifup/networkctl verbs."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass

from workbench.errors import ConnectError, RemoteCommandError, RemoteTimeout
from workbench.remote import files, netrevert, systemd
from workbench.remote.connection import HostConnection
from workbench.remote.facts import parse_link_flags


@dataclass(frozen=True)
class NetworkChange:
    backend: str  # ifupdown | systemd-networkd
    taps: tuple[str, ...]
    bridge: str | None  # None in tap-only mode
    writes: tuple[tuple[str, str], ...]  # (path, text) of the files that differ
    replaces: bool  # an older definition of these interfaces is on the host
    networkd_active: bool
    stop_unit: str | None  # the unit running on these taps, stopped first


async def link_flags(conn: HostConnection) -> dict[str, bool]:
    out = await conn.run(["ip", "-br", "link", "show"], sudo=False, what="ip link")
    return parse_link_flags(out.stdout)


async def apply(conn: HostConnection, change: NetworkChange) -> None:
    """Write the files and bring the taps (and bridge) up; returns once every tap is up."""
    up = await link_flags(conn)
    if change.stop_unit:
        # New network config takes effect on fresh taps; the unit is restarted anyway.
        await systemd.stop(conn, change.stop_unit, "stopping the unit to change its network")
    if change.backend == "ifupdown":
        await _ifupdown(conn, change, up)
    else:
        await _networkd(conn, change, up)
    await wait_taps(conn, change.taps, change.backend)


def ifupdown_order(change: NetworkChange, up: dict[str, bool]) -> list[str]:
    """The interfaces to take down and bring up again, in `ifup` order: the bridge when its
    own file or its NAT rules changed or it is not up (it is shared: see `_reattach`), then
    each of our taps whose file changed or that is not up. The bridge comes first: a tap
    attaches itself to it when it comes up."""
    changed = {path.rsplit("/", 1)[-1] for path, _ in change.writes}
    out = []
    bridge = change.bridge
    if bridge and ({f"workbench-{bridge}", f"nat-{bridge}.nft"} & changed or not up.get(bridge)):
        out.append(bridge)
    for tap in change.taps:
        names = {f"workbench-{tap}", f"workbench-{bridge}-{tap}"}
        if names & changed or not up.get(tap):
            out.append(tap)
    return out


# After the shared bridge went down and up, every workbench tap whose file puts it on that
# bridge goes back on it: other profiles' unikernels included (ifdown of a bridge detaches all
# its ports, and `bridge_ports none` brings none back).
_REATTACH = (
    'br=$1; for f in /etc/network/interfaces.d/workbench-"$br"-*; do [ -f "$f" ] || continue; '
    't=${f##*/workbench-"$br"-}; ip link show dev "$t" >/dev/null 2>&1 && '
    'ip link set dev "$t" master "$br" && ip link set dev "$t" up; done; true'
)


async def _ifupdown(conn: HostConnection, change: NetworkChange, up: dict[str, bool]) -> None:
    interfaces = ifupdown_order(change, up)
    if change.replaces and interfaces:  # bring the old definition down before replacing it
        await conn.run(
            ["ifdown", "--force", *reversed(interfaces)], check=False, timeout=60, what="ifdown"
        )
    for path, text in change.writes:
        await files.write_text(conn, path, text)
    for iface in interfaces:
        await conn.run(
            ["ifdown", "--force", iface], check=False, timeout=30, what=f"ifdown {iface}"
        )
    if interfaces:
        await conn.run(["ifup", *interfaces], timeout=120, what="ifup")
    if change.bridge and change.bridge in interfaces:
        await conn.run(
            ["sh", "-c", _REATTACH, "workbench-reattach", change.bridge],
            timeout=60,
            what=f"putting the taps back on {change.bridge}",
        )


def touches_shared(change: NetworkChange) -> bool:
    """Whether the change writes anything but our own taps' files: in bridge-uplink mode only
    such a change can cut the host off, and needs the dead man's switch."""
    mine = set(change.taps)
    for path, _ in change.writes:
        name = path.rsplit("/", 1)[-1]
        if not any(name.endswith(f"-{t}") or f"-{t}." in name for t in mine):
            return True
    return False


async def _networkd(conn: HostConnection, change: NetworkChange, up: dict[str, bool]) -> None:
    for path, text in change.writes:
        await files.write_text(conn, path, text)
    netdevs = {path.rsplit("/", 1)[-1] for path, _ in change.writes if path.endswith(".netdev")}
    for tap in change.taps:  # a changed .netdev only applies to a newly created link
        if tap in up and f"10-workbench-{tap}.netdev" in netdevs:
            await conn.run(["ip", "link", "del", tap], check=False, what=f"remove {tap}")
    if not change.networkd_active:
        await systemd.enable_now(conn, "systemd-networkd", "starting systemd-networkd")
    await conn.run(["networkctl", "reload"], timeout=60, what="networkctl reload")
    if not await taps_up(conn, change.taps, within=5):
        # systemd-networkd 252 can leave a tap it re-created on reload in "configuring", down,
        # for good. Do what the .network says by hand (enslave, bring up), then let networkd
        # take the link over again.
        await _taps_by_hand(conn, change.taps, change.bridge, reconfigure=True)


async def _taps_by_hand(
    conn: HostConnection, taps: tuple[str, ...], bridge: str | None, *, reconfigure: bool
) -> None:
    for tap in taps:
        if bridge:
            await conn.run(
                ["ip", "link", "set", "dev", tap, "master", bridge],
                check=False,
                what=f"enslaving {tap}",
            )
        await conn.run(["ip", "link", "set", "dev", tap, "up"], what=f"{tap} up")
        if reconfigure:
            await conn.run(
                ["networkctl", "reconfigure", tap],
                check=False,
                what=f"networkctl reconfigure {tap}",
            )


async def taps_up(conn: HostConnection, taps: tuple[str, ...], within: float) -> bool:
    deadline = time.monotonic() + within
    while True:
        flags = await link_flags(conn)
        if all(flags.get(t) for t in taps):
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.3)


async def wait_taps(conn: HostConnection, taps: tuple[str, ...], backend: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        flags = await link_flags(conn)
        pending = [t for t in taps if not flags.get(t)]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise RemoteCommandError(
                f"tap {', '.join(pending)} did not come up after the network config was applied",
                f"look at `ip link` and the {backend} logs on the host",
                host=conn.name,
            )
        await asyncio.sleep(0.5)


@dataclass(frozen=True)
class Uplink:
    name: str  # the host's uplink interface, moved into the bridge
    release_dir: str  # where the backup of the old config is kept
    unikernel: str  # names the revert timer
    confirm_timeout: int


async def apply_uplink(
    conn: HostConnection, change: NetworkChange, uplink: Uplink, paths: tuple[str, ...]
) -> None:
    """bridge-uplink: apply behind a dead man's switch (remote/netrevert). The connection may
    drop on the way; the caller re-takes its lock on the new one. `paths` are all the network
    files this profile manages (backed up and restored together)."""
    bridge = change.bridge
    assert bridge is not None
    flags = await link_flags(conn)
    if uplink.name not in flags:
        raise RemoteCommandError(
            f"network.uplink '{uplink.name}' does not exist on the host",
            f"interfaces there: {', '.join(sorted(flags))}",
        )
    backup = f"{uplink.release_dir}/.net-backup-{secrets.token_hex(4)}"
    unit = netrevert.timer_unit(uplink.unikernel)
    script = netrevert.revert_script(
        backup, list(paths), change.backend, uplink.name, bridge, bridge in flags
    )
    started = time.monotonic()
    await netrevert.arm(conn, backup, list(paths), script, unit, uplink.confirm_timeout)
    if change.stop_unit:
        await systemd.stop(conn, change.stop_unit, "stopping the unit to change its network")
    for path, text in change.writes:
        await files.write_text(conn, path, text)
    # From here the connection may drop; the host reverts by itself unless we confirm. A
    # ConnectError or RemoteTimeout is expected when the change takes the uplink away; the
    # confirmation below decides.
    with contextlib.suppress(ConnectError, RemoteTimeout):
        await _uplink_up(conn, change, uplink.name)
    if not await netrevert.confirm(conn, unit, started + uplink.confirm_timeout - 3):
        reverted = await netrevert.await_revert(
            conn, backup, started + uplink.confirm_timeout - time.monotonic()
        )
        state = (
            "the host reverted it and is reachable again"
            if reverted
            else "the host did not answer afterwards either: check its console"
        )
        raise RemoteCommandError(
            f"the bridge-uplink change cut the connection to {conn.host.address} (no SSH "
            f"within {uplink.confirm_timeout} s); {state}",
            "check network.uplink, network.address and network.gateway (dhcp needs a DHCP "
            "server on the uplink's LAN); the host's own uplink config is unchanged",
        )
    await conn.run(["rm", "-rf", backup], check=False, what="removing the network backup")


async def _uplink_up(conn: HostConnection, change: NetworkChange, uplink: str) -> None:
    assert change.bridge is not None
    if change.backend == "ifupdown":
        await conn.run(["ifdown", "--force", uplink], check=False, timeout=30)
        await conn.run(["ifup", change.bridge, *change.taps], timeout=60, what="ifup")
        return
    if not change.networkd_active:
        await systemd.enable_now(conn, "systemd-networkd", "starting systemd-networkd")
    await conn.run(["networkctl", "reload"], timeout=30, what="networkctl reload")
    await conn.run(
        ["networkctl", "reconfigure", uplink], timeout=30, what=f"networkctl reconfigure {uplink}"
    )


async def uplink_taps(conn: HostConnection, change: NetworkChange) -> None:
    """After the uplink change is confirmed: the taps up in the bridge."""
    if not await taps_up(conn, change.taps, within=5):
        await _taps_by_hand(conn, change.taps, change.bridge, reconfigure=False)
    await wait_taps(conn, change.taps, change.backend)
