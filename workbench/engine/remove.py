"""`workbench remove`: take a unikernel off a host for good. Its unit (stopped, disabled,
deleted), its taps and their files and its owner record go; the bridge and NAT go only when
no other unikernel uses them; its releases stay unless `purge` (which also deletes its block
images, naming them). Another profile's unikernel of the same unit name is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

from workbench import netfiles, owners, render
from workbench.engine import hostinfo
from workbench.engine.locked import Held, locked
from workbench.errors import ConfigError
from workbench.events import Event, HostDone, StepFinished
from workbench.profiles.loader import LoadedProfile
from workbench.remote import removal
from workbench.remote.connection import Pool


def remove(
    pool: Pool, loaded: LoadedProfile, host: str, *, purge: bool = False
) -> AsyncIterator[Event]:
    return locked(pool, loaded, host, "remove", lambda held: _remove(held, loaded, host, purge))


def plan_removal(
    loaded: LoadedProfile, others: list[owners.Owner], purge: bool
) -> tuple[removal.Removal, str | None]:
    """What to delete, and why the bridge stays (None: it goes if no port is left on it)."""
    p = loaded.profile
    net = p.network
    # A tap, an image or a release dir another record lists is that unikernel's: never ours to
    # delete, whatever this profile says (every profile defaults to tap100).
    theirs_taps = {t for o in others for t in o.taps}
    theirs_paths = {path for o in others for path in (*o.block, o.release_dir)}
    taps = [t for t in dict.fromkeys(p.unikernel.networks.values()) if t not in theirs_taps]
    mine = netfiles.tap_paths(p, taps)
    every = {f.path for b in render.BACKENDS for f in render.render_network(p, b, loaded.name)}
    every -= netfiles.tap_paths(p)
    bridge = net.bridge if net.mode != "tap-only" else ""
    users = [o for o in others if bridge and o.bridge == bridge]
    keep: str | None = None
    if users:
        keep = f"{bridge} is used by {', '.join(o.who for o in users)}"
    elif net.mode == "bridge-uplink":
        keep = (
            f"{bridge} carries the host's uplink {net.uplink}: removing it would re-plug the "
            "host's own network, so that is left to you"
        )
    plan = removal.Removal(
        unit=p.unit_name,
        unit_file=render.unit_path(p),
        record=owners.record_path(p.unit_name),
        bridge=bridge,
        drop_shared=keep is None,
        nat_table=netfiles.nat_table(p),
        taps=tuple(taps),
        tap_files=tuple(sorted(mine)),
        shared_files=tuple(sorted(every)),
        purge_dir=p.release_dir if purge and p.release_dir not in theirs_paths else "",
        block=tuple(sorted(set(p.block_paths.values()) - theirs_paths)) if purge else (),
    )
    return plan, keep


async def _remove(
    held: Held, loaded: LoadedProfile, host: str, purge: bool
) -> AsyncIterator[Event]:
    p = loaded.profile
    facts = await hostinfo.gather(held.conn, loaded)
    records = [o for o in map(owners.parse_record, facts.owners) if o]
    theirs = next((o for o in records if o.unit == p.unit_name), None)
    if theirs is not None and theirs.profile != loaded.name:
        raise ConfigError(
            f"{p.unit_name} on {host} belongs to profile '{theirs.profile}', not "
            f"'{loaded.name}': nothing was removed",
            f"remove it with its own profile: workbench remove --profile {theirs.profile}"
            f" --unikernel {theirs.unikernel}",
        )
    others = [o for o in records if o.unit != p.unit_name]
    plan, keep = plan_removal(loaded, others, purge)
    if theirs is None and not facts.files.get(render.unit_path(p)):
        # Neither a record nor a unit of ours: a tap of our tap's name, and the bridge, are
        # not ours to delete. (--purge still deletes our releases and images.)
        plan = replace(plan, taps=(), tap_files=(), drop_shared=False)
        keep = keep or f"{p.unit_name} is not on {host}, so its network is not either"
    held.step = "remove"
    done = await removal.remove(held.conn, plan)
    held.changed = bool(done.lines)
    taps, files = done.did("tap"), done.did("file")
    what = [
        *(["unit stopped, disabled, deleted"] if done.did("unit") else []),
        *([f"taps {' '.join(taps)} deleted"] if taps else []),
        *([f"{len(files)} network file(s) deleted"] if files else []),
        *([f"bridge {plan.bridge} deleted"] if done.did("bridge") else []),
        *(["owner record deleted"] if done.did("owner") else []),
    ]
    yield StepFinished(
        host=host,
        step="remove",
        changed=bool(what),
        detail="; ".join(what) or f"nothing of {p.unit_name} was on {host}",
    )
    why_kept = keep or done.kept_bridge
    if plan.bridge and why_kept:
        yield StepFinished(host=host, step="bridge", detail=f"kept: {why_kept}")
    purged = [*done.did("block"), *done.did("purge")]
    if purge:
        detail = f"deleted {', '.join(purged)}" if purged else "nothing to delete"
        yield StepFinished(host=host, step="purge", changed=bool(purged), detail=detail)
    kept = "" if purge else f"; releases kept in {p.release_dir} (--purge deletes them)"
    summary = f"removed {p.unit_name}{kept}" if what else f"{p.unit_name} was not on {host}{kept}"
    yield HostDone(host=host, step="done", ok=True, changed=bool(what or purged), summary=summary)
