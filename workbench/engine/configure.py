"""What deploy's network and unit steps write on the host, as the decision says."""

from __future__ import annotations

from workbench.engine.decide import Decision
from workbench.engine.locked import Held
from workbench.profiles.models import Profile
from workbench.remote import files, netapply, systemd
from workbench.remote.connection import HostConnection
from workbench.remote.facts import HostFacts


async def apply_network(held: Held, d: Decision, p: Profile, facts: HostFacts) -> None:
    assert d.backend is not None
    net = p.network
    change = netapply.NetworkChange(
        backend=d.backend,
        taps=tuple(dict.fromkeys(p.unikernel.networks.values())),
        bridge=None if net.mode == "tap-only" else net.bridge,
        writes=tuple((f.path, f.content) for f in d.network_writes),
        replaces=any(facts.files.get(f.path) for f in d.network_writes),
        networkd_active=facts.networkd == "active",
        stop_unit=p.unit_name if facts.unit_active == "active" else None,
    )
    if net.mode != "bridge-uplink" or not netapply.touches_shared(change):
        # a unikernel joining a bridge that is already up cannot cut the host off
        await netapply.apply(held.conn, change)
        return
    assert net.uplink is not None
    uplink = netapply.Uplink(net.uplink, p.release_dir, p.unikernel.name, net.confirm_timeout)
    paths = tuple(f.path for f in d.network_files)
    await netapply.apply_uplink(held.conn, change, uplink, paths)
    # The old connection was dropped on purpose: take the deploy lock again on the new one.
    await held.retake()
    await netapply.uplink_taps(held.conn, change)


async def install_unit(conn: HostConnection, d: Decision, p: Profile) -> list[str]:
    """The unit file, its enablement and the owner record, those the decision changes; the
    steps made."""
    assert d.unit is not None and d.owner is not None
    made = [s for s in ("unit", "enable", "owner") if d.changes_at(s)]
    if "unit" in made:
        await files.write_text(conn, d.unit.path, d.unit.content)
        await systemd.daemon_reload(conn)
    if "enable" in made:
        await systemd.enable(conn, p.unit_name)
    if "owner" in made:
        await files.write_text(conn, d.owner.path, d.owner.content)
    return made
