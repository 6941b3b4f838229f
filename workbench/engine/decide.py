"""The one deploy decision: (profile, artifact, tender, host facts) -> the changes, with reasons.

Pure: no I/O. `workbench plan` prints what this returns; `workbench deploy` executes exactly
that (engine/deploy.py). A decision either refuses (a preflight check failed, the tender
cannot run the unikernel, the profile does not map its devices) or lists its changes in the
order deploy makes them.

When the tender deploy brings is not on the host yet its version is unknown until it is
uploaded and asked (`--version` runs on the host, which may be another architecture). The
decision then renders the unit for a current tender and says so; deploy decides again with the
version it read and reports a plan that changed (only a pre-0.6 tender changes it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from workbench import owners, render
from workbench.artifacts import qemu
from workbench.artifacts.elf import ArtifactInfo
from workbench.artifacts.tender import TenderVersion, check_compatible, parse_tender_version
from workbench.engine import preflight, qemucheck
from workbench.engine.blocks import BlockWork, block_work, describe
from workbench.engine.release import TenderSource, release_id
from workbench.errors import ArtifactError, RemoteCommandError, WorkbenchError
from workbench.profiles.loader import LoadedProfile
from workbench.remote.facts import HostFacts

# Stands for "some tender before 0.6.0" when only that is known: it selects the legacy argv.
MANIFEST_SINCE_BEFORE = (0, 5, 0)

STEPS = ("upload", "user", "block", "network", "unit", "enable", "owner", "switch", "restart")


@dataclass(frozen=True)
class Change:
    step: str  # one of STEPS: where deploy makes it
    what: str
    why: str


@dataclass(frozen=True)
class Decision:
    release: str
    previous: str | None
    checks: tuple[preflight.Check, ...]
    refusal: WorkbenchError | None
    changes: tuple[Change, ...] = ()
    backend: str | None = None
    tender_sha: str = ""
    tender_from_host: str | None = None  # the host's own tender, copied into the release
    tender_version: TenderVersion | None = None
    unit: render.RenderedFile | None = None
    owner: render.RenderedFile | None = None  # the host's record of who deployed this unikernel
    blocks: tuple[BlockWork, ...] = ()  # block images to create or grow, in path order
    has_blocks: bool = False  # the unikernel has block devices (plan shows the block step)
    network_files: tuple[render.RenderedFile, ...] = ()
    network_writes: tuple[render.RenderedFile, ...] = ()
    notes: tuple[str, ...] = field(default=())
    rollback_to: str | None = None  # where a failed boot goes back to

    def change(self, step: str) -> Change | None:
        return next((c for c in self.changes if c.step == step), None)

    def changes_at(self, step: str) -> bool:
        return self.change(step) is not None

    @property
    def steps(self) -> tuple[str, ...]:
        return tuple(c.step for c in self.changes)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def decide(
    loaded: LoadedProfile,
    artifact: ArtifactInfo,
    tender: TenderSource | None,
    facts: HostFacts,
    *,
    version: TenderVersion | None = None,
    force_restart: bool = False,
    host: str = "the host",
) -> Decision:
    """What deploy does on a host with these facts. `version` is the tender's version when it
    was read after an upload; otherwise it comes from the facts when the host has the tender."""
    p = loaded.profile
    previous = facts.current_release
    extra = artifact.size + (tender.size if tender else 4 << 20)
    checks = tuple(preflight.checks(p, facts, artifact, extra))

    def refuse(error: WorkbenchError, rid: str = "") -> Decision:
        return Decision(release=rid, previous=previous, checks=checks, refusal=error)

    refusal = _refusal(loaded, checks, tender, facts) or owners.clash(
        loaded, [o for o in map(owners.parse_record, facts.owners) if o], host
    )
    if refusal is not None:
        return refuse(refusal)
    tender_sha = _tender_sha(p.runtime, tender, facts)
    rid = release_id(artifact.sha256, tender_sha)
    # What the host says about the release counts only if it named the same one.
    on_host = facts.release_files if facts.release == rid else {}
    notes: list[str] = []
    try:
        version, unit = _runner(
            loaded, artifact, tender, tender_sha, on_host, facts, version, notes
        )
        blocks = block_work(p, facts, host)
    except WorkbenchError as exc:
        return refuse(exc, rid)
    backend = preflight.backend_for(p, facts)
    assert backend is not None  # preflight refuses a host without one
    network = tuple(render.render_network(p, backend, loaded.name))
    intact = (
        rid in facts.releases
        and on_host.get(render.kernel_name(p)) == artifact.sha256
        and (not p.tender_in_release or on_host.get(p.tender_name) == tender_sha)
    )
    writes = tuple(f for f in network if sha256_text(f.content) != facts.files.get(f.path))
    record = owners.render_record(loaded)
    changes = _changes(
        loaded, facts, rid, intact, tender is None, backend, writes, unit, record, blocks
    )
    uplink = p.network.uplink
    applies = any(c.step == "network" for c in changes)
    if p.network.mode == "bridge-uplink" and uplink and uplink not in facts.links and applies:
        return refuse(
            RemoteCommandError(
                f"network.uplink '{uplink}' does not exist on the host",
                f"interfaces there: {', '.join(sorted(facts.links))}",
            ),
            rid,
        )
    changes += _restart(loaded, facts, changes, force_restart)
    return Decision(
        release=rid,
        previous=previous,
        checks=checks,
        refusal=None,
        changes=tuple(changes),
        backend=backend,
        tender_sha=tender_sha,
        tender_from_host=facts.installed_tender if tender is None and p.tender_in_release else None,
        tender_version=version,
        unit=unit,
        owner=record,
        blocks=blocks,
        has_blocks=bool(p.block_paths),
        network_files=network,
        network_writes=writes,
        notes=tuple(notes),
        rollback_to=rollback_target(previous, rid, facts.releases),
    )


def _tender_sha(runtime: str, tender: TenderSource | None, facts: HostFacts) -> str:
    """What the release is keyed on beside the artifact: the tender it carries, or (virtio
    and qemu, run by the host's QEMU, which no release carries) a fixed key."""
    if runtime in qemu.RUNNER_KEYS:
        return qemu.RUNNER_KEYS[runtime]
    return tender.sha256 if tender is not None else facts.installed_tender_sha


def _runner(
    loaded: LoadedProfile,
    artifact: ArtifactInfo,
    tender: TenderSource | None,
    tender_sha: str,
    on_host: dict[str, str],
    facts: HostFacts,
    version: TenderVersion | None,
    notes: list[str],
) -> tuple[TenderVersion | None, render.RenderedFile]:
    """The tender's version as far as it is known, and the unit that runs the unikernel."""
    p = loaded.profile
    if not p.tender_in_release:  # virtio: the host's QEMU
        return None, render.render_unit(p, artifact, None, loaded.name, virtio_host(loaded, facts))
    version = version or _version_on_host(p.tender_name, tender, tender_sha, on_host, facts)
    return version, _unit(loaded, artifact, version, notes)


def virtio_host(loaded: LoadedProfile, facts: HostFacts) -> qemu.VirtioHost:
    """What the QEMU command line takes from this host: QEMU's path, KVM or TCG, its id."""
    return qemu.VirtioHost(
        qemu=facts.installed_tender or qemu.QEMU_PATH,
        kvm=qemucheck.use_kvm(loaded.profile, facts),
        host_id=facts.machine_id,
    )


def rollback_target(previous: str | None, new: str, releases: list[str]) -> str | None:
    """The release a failed deploy of `new` goes back to: the one that ran before, if it is
    another release and still on the host."""
    return previous if previous and previous != new and previous in releases else None


def _unit(
    loaded: LoadedProfile, artifact: ArtifactInfo, version: TenderVersion | None, notes: list[str]
) -> render.RenderedFile:
    """The unit for this tender; with its version unknown, for the tender the artifact needs
    (said in `notes`). Raises a WorkbenchError when the two cannot work together."""
    p = loaded.profile
    rendered_for = version
    if version is not None:
        check_compatible(version, artifact)
    elif artifact.devices is None:
        # Only a tender from before manifests runs a manifest-less unikernel.
        rendered_for = TenderVersion(f"solo5-{p.build.target}", MANIFEST_SINCE_BEFORE, "", None)
        notes.append(
            "the unit is rendered for a tender from before Solo5 0.6.0 (the unikernel has no "
            "manifest): deploy reads the tender's version after the upload"
        )
    else:
        notes.append(
            "the unit is rendered for a current tender: deploy reads the tender's version after "
            "the upload"
        )
    return render.render_unit(p, artifact, rendered_for, profile_label=loaded.name)


def _refusal(
    loaded: LoadedProfile,
    checks: tuple[preflight.Check, ...],
    tender: TenderSource | None,
    facts: HostFacts,
) -> WorkbenchError | None:
    """Why nothing may be done on this host, if anything says so before the release does."""
    failed = next((c for c in checks if c.ok is False), None)
    if failed is not None:
        error_cls = ArtifactError if failed.name in ("arch", "virtio") else RemoteCommandError
        return error_cls(f"preflight: {failed.name}: {failed.value}", failed.hint)
    if not loaded.profile.tender_in_release:
        return None  # the host's QEMU: preflight said whether it is there
    if tender is not None and tender.machine != facts.arch:
        return ArtifactError(
            f"the tender {tender.path} is an {tender.machine} program but the host is {facts.arch}",
            "pass the tender built for the host (from the same build)",
        )
    if tender is None and facts.installed_tender and not facts.installed_tender_sha:
        return RemoteCommandError(
            f"could not hash the host's {facts.installed_tender}: "
            f"{facts.installed_tender_error or 'no answer'}",
            "is it readable by root there? or pass --tender PATH",
        )
    if tender is None and not facts.installed_tender:
        return ArtifactError(
            f"no {loaded.profile.tender_name} to run the unikernel with",
            "pass --tender PATH (the solo5-hvt built with the unikernel), set "
            "unikernel.tender in the profile, or install solo5-hvt on the host",
        )
    return None


def _version_on_host(
    name: str,
    tender: TenderSource | None,
    sha: str,
    on_host: dict[str, str],
    facts: HostFacts,
) -> TenderVersion | None:
    """The version the facts script read, when it asked the very tender deploy would run: the
    release's copy if that matches its hash, else the host's own when that is the one used."""
    if not facts.tender_version:
        return None
    trusted = on_host[name] == sha if name in on_host else tender is None
    return parse_tender_version(facts.tender_version) if trusted else None


def _changes(
    loaded: LoadedProfile,
    facts: HostFacts,
    rid: str,
    intact: bool,
    host_tender: bool,
    backend: str,
    writes: tuple[render.RenderedFile, ...],
    unit: render.RenderedFile,
    record: render.RenderedFile,
    blocks: tuple[BlockWork, ...],
) -> list[Change]:
    """Every change but the restart, in the order deploy makes them."""
    p = loaded.profile
    changes: list[Change] = []
    if not intact:
        why = (
            "it is not on the host"
            if rid not in facts.releases
            else "the copy on the host does not match its hashes"
        )
        source = "+ the host's own tender" if host_tender else "+ the tender"
        if not p.tender_in_release:
            source = "alone: the host's QEMU runs it"
        changes.append(Change("upload", f"upload release {rid} (unikernel {source})", why))
    if facts.user_groups is None:
        changes.append(
            Change(
                "user",
                f"create system user {p.service.user} in group {p.service.group}",
                "the unit runs the tender as that user, and it does not exist",
            )
        )
    if blocks:  # owned by that user
        changes.append(Change("block", *describe(blocks)))
    taps = list(dict.fromkeys(p.unikernel.networks.values()))
    missing = [t for t in taps if not facts.links.get(t)]
    if writes or missing:
        reasons = [f"{f.path} {_file_state(facts, f.path)}" for f in writes]
        reasons += [f"tap {t} is {'down' if t in facts.links else 'missing'}" for t in missing]
        changes.append(Change("network", f"apply the {backend} network", "; ".join(reasons)))
    if sha256_text(unit.content) != facts.files.get(unit.path):
        changes.append(
            Change(
                "unit",
                f"write {unit.path} and reload systemd",
                f"it {_file_state(facts, unit.path)}",
            )
        )
    if facts.unit_enabled != "enabled":
        changes.append(
            Change(
                "enable",
                f"enable {p.unit_name}",
                f"it is {facts.unit_enabled or 'not installed'}, so it would not start at boot",
            )
        )
    if sha256_text(record.content) != facts.files.get(record.path):
        changes.append(
            Change(
                "owner",
                f"record profile '{loaded.name}' as the owner in {record.path}",
                f"it {_file_state(facts, record.path)}",
            )
        )
    if facts.current_release != rid:
        changes.append(
            Change(
                "switch",
                f"point current at {rid}",
                f"current is {facts.current_release or 'not set'}",
            )
        )
    return changes


def _restart(
    loaded: LoadedProfile, facts: HostFacts, changes: list[Change], forced: bool
) -> list[Change]:
    reasons = [_RESTART_BECAUSE[c.step] for c in changes if c.step in _RESTART_BECAUSE]
    if forced:
        reasons.append("--restart was given")
    if facts.unit_active != "active":
        reasons.append(f"the unit is {facts.unit_active or 'not running'}")
    if not reasons:
        return []
    return [Change("restart", f"restart {loaded.profile.unit_name}", "; ".join(reasons))]


_RESTART_BECAUSE = {
    "block": "a block image was created or grown (a unikernel reads its size at boot)",
    "network": "its network changed",
    "unit": "its unit changed",
    "enable": "it was enabled",
    "switch": "the release changed",
}


def _file_state(facts: HostFacts, path: str) -> str:
    return "differs from the wanted text" if facts.files.get(path) else "does not exist"
