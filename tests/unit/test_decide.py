"""The deploy decision as tables: facts recorded on the lab target go in, changes come out.

Recordings: tests/data/facts/*.json, made by `python -m tests.unit.record_facts` (see there).
The three cases where `plan` and `deploy` once decided differently are here by name.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench import profiles, render
from workbench.artifacts.elf import AbiInfo, ArtifactInfo, Device
from workbench.artifacts.tender import parse_tender_version
from workbench.engine.decide import Decision, decide, sha256_text
from workbench.engine.plan import decision_events
from workbench.engine.release import TenderSource
from workbench.events import HostDone, StepFinished
from workbench.remote.facts import HostFacts, parse_facts

ROOT = Path(__file__).resolve().parents[2]
FACTS = ROOT / "tests" / "data" / "facts"
LOADED = profiles.load(str(ROOT / "profiles" / "lab.yaml"))


@dataclasses.dataclass(frozen=True)
class Recording:
    artifact: ArtifactInfo
    tender: TenderSource | None
    facts: HostFacts


def recording(name: str) -> Recording:
    doc = json.loads((FACTS / f"{name}.json").read_text())
    a = doc["artifact"]
    art = ArtifactInfo(
        path=a["path"],
        size=a["size"],
        sha256=a["sha256"],
        machine=a["machine"],
        elf_class=a["elf_class"],
        abi=AbiInfo(**a["abi"]) if a["abi"] else None,
        devices=None if a["devices"] is None else tuple(Device(**d) for d in a["devices"]),
    )
    t = doc["tender"]
    tender = None if t is None else TenderSource(path=Path("solo5-hvt"), **t)
    return Recording(art, tender, parse_facts("\n".join(doc["facts"])))


def decided(name: str, **facts: object) -> Decision:
    r = recording(name)
    return decide(LOADED, r.artifact, r.tender, dataclasses.replace(r.facts, **facts))


TABLE = {
    "fresh": ("upload", "user", "network", "unit", "enable", "owner", "switch", "restart"),
    "deployed": (),
    "other-artifact": ("upload", "switch", "restart"),
    "tap-down": ("network", "restart"),
    "disabled": ("enable", "restart"),
    "stopped": ("restart",),
    "unit-edited": ("unit", "restart"),
    # The running unikernel keeps its open file; only the release on disk is made whole.
    "release-damaged": ("upload",),
    "legacy-host-tender": ("upload", "unit", "switch", "restart"),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_recorded_facts_decide_these_changes(name):
    d = decided(name)
    assert d.refusal is None, d.refusal
    assert d.steps == TABLE[name]


def test_every_recording_is_in_the_table():
    assert sorted(p.stem for p in FACTS.glob("*.json")) == sorted(TABLE)


def test_reasons_name_the_difference():
    fresh = decided("fresh")
    assert (
        fresh.change("user").why == "the unit runs the tender as that user, and it does not exist"
    )
    assert "tap tap100 is missing" in fresh.change("network").why
    assert fresh.change("upload").why == "it is not on the host"
    assert decided("tap-down").change("network").why == "tap tap100 is down"
    assert decided("release-damaged").change("upload").why == (
        "the copy on the host does not match its hashes"
    )
    restart = decided("disabled").change("restart").why
    assert restart == "it was enabled"
    assert decided("stopped").change("restart").why == "the unit is inactive"


# -- the three disagreements between plan and deploy, each a case --------------------------------


def test_disagreement_1_the_unit_is_rendered_for_the_tender_on_the_host():
    """Plan rendered the unit without the tender version; a pre-0.6 tender gets the legacy
    `--net=TAP` ExecStart from deploy, so plan showed a diff deploy would not make (here it
    even refused: a manifest-less artifact needs that tender)."""
    r = recording("legacy-host-tender")
    d = decided("legacy-host-tender")
    version = parse_tender_version(r.facts.tender_version)
    assert version.legacy_net and d.tender_version == version
    assert d.unit == render.render_unit(LOADED.profile, r.artifact, version, profile_label="lab")
    assert "--net=tap100 -- " in d.unit.content and "--net:" not in d.unit.content
    assert d.tender_from_host == "/usr/local/bin/solo5-hvt"


def test_disagreement_2_a_missing_tap_and_a_disabled_unit_are_changes():
    """Plan ignored the unit-enable step and missing taps ("nothing to change"), and deploy
    then restarted."""
    for name, step in (("tap-down", "network"), ("disabled", "enable")):
        events = decision_events("target", decided(name))
        changed = [e.step for e in events if isinstance(e, StepFinished) and e.changed]
        assert changed == [step, "restart"]
        done = events[-1]
        assert isinstance(done, HostDone) and done.summary == "2 change(s) to apply"


def test_disagreement_3_no_network_backend_is_refused_not_assumed():
    """Plan fell back to ifupdown where deploy failed preflight (network.backend: auto)."""
    r = recording("fresh")
    p = LOADED.profile
    auto = p.model_copy(update={"network": p.network.model_copy(update={"backend": "auto"})})
    loaded = dataclasses.replace(LOADED, profile=auto)
    facts = dataclasses.replace(r.facts, networkd="inactive", ifupdown=False)
    d = decide(loaded, r.artifact, r.tender, facts)
    assert d.refusal is not None and d.changes == ()
    assert d.refusal.message == (
        "preflight: network backend: neither ifupdown nor systemd-networkd"
    )


# -- refusals -------------------------------------------------------------------------------


def test_a_tender_for_another_architecture_is_refused():
    r = recording("fresh")
    arm = dataclasses.replace(r.tender, machine="aarch64")
    d = decide(LOADED, r.artifact, arm, r.facts)
    assert d.refusal is not None and "is an aarch64 program but the host is x86_64" in str(
        d.refusal.message
    )


def test_no_tender_anywhere_is_refused_before_anything_is_written():
    r = recording("fresh")
    d = decide(LOADED, r.artifact, None, r.facts)
    assert d.refusal is not None and d.refusal.message == "no solo5-hvt to run the unikernel with"


def test_facts_about_another_release_are_not_believed():
    """The host computes the release id; facts about a release with another id say nothing
    about ours (a confused host, or one whose shell lacks what the script needs). A host that
    lies can make anything look present; it only deceives itself."""
    d = decided("deployed", release="0000000000000000")
    assert d.steps == ("upload",)


def test_an_unknown_tender_version_is_said():
    d = decided("fresh")
    assert d.tender_version is None
    assert d.notes == (
        "the unit is rendered for a current tender: deploy reads the tender's version after "
        "the upload",
    )
    assert decided("deployed").notes == ()


# -- properties -----------------------------------------------------------------------------

BASES = sorted(TABLE)


@st.composite
def host_states(draw: st.DrawFn) -> tuple[str, HostFacts]:
    """A recorded state, perturbed the ways a host drifts between deploys."""
    name = draw(st.sampled_from(BASES))
    f = recording(name).facts
    files = {path: draw(st.sampled_from([have, "", "0" * 64])) for path, have in f.files.items()}
    links = dict(f.links)
    for tap in ("tap100", "br100"):
        state = draw(st.sampled_from(["keep", "down", "up", "gone"]))
        if state == "gone":
            links.pop(tap, None)
        elif state != "keep":
            links[tap] = state == "up"
    changed = dataclasses.replace(
        f,
        files=files,
        links=links,
        unit_active=draw(st.sampled_from([f.unit_active, "active", "failed", "activating", ""])),
        unit_enabled=draw(st.sampled_from([f.unit_enabled, "enabled", "disabled", ""])),
        **draw(
            st.sampled_from(
                [
                    {"user_groups": f.user_groups, "user_kvm": f.user_kvm},
                    {"user_groups": None, "user_kvm": None},
                    {"user_groups": ["kvm"], "user_kvm": True},
                ]
            )
        ),
        current=draw(st.sampled_from([f.current, "", "releases/feedfacefeedface"])),
    )
    return name, changed


def after(d: Decision, facts: HostFacts, artifact: ArtifactInfo) -> HostFacts:
    """The host once deploy has carried out `d`: a model of what each change does."""
    assert d.unit is not None and d.owner is not None
    files = dict(facts.files)
    for f in (d.unit, d.owner, *d.network_files):
        files[f.path] = sha256_text(f.content)
    links = dict(facts.links)
    for tap in LOADED.profile.unikernel.networks.values():
        links[tap] = True
    kernel = render.kernel_name(LOADED.profile)
    release_files = {kernel: artifact.sha256, LOADED.profile.tender_name: d.tender_sha}
    return dataclasses.replace(
        facts,
        files=files,
        links=links,
        user_groups=facts.user_groups or [LOADED.profile.service.group],
        releases=sorted({*facts.releases, d.release}),
        current=f"releases/{d.release}",
        release=d.release,
        release_files=release_files,
        unit_active="active",
        unit_enabled="enabled",
    )


@given(host_states())
def test_plan_prints_exactly_the_decided_steps(state):
    """What plan prints is the decision, step for step (deploy executes the same decision and
    asserts it made exactly its steps; tests/lab/test_plan.py compares the two on a host)."""
    name, facts = state
    r = recording(name)
    d = decide(LOADED, r.artifact, r.tender, facts)
    assert d.refusal is None
    events = decision_events("target", d)
    printed = tuple(e.step for e in events if isinstance(e, StepFinished) and e.changed)
    assert printed == d.steps
    restart_because = {"network", "unit", "enable", "switch"} & set(d.steps)
    assert ("restart" in d.steps) == bool(restart_because or facts.unit_active != "active")


@given(host_states())
def test_a_second_deploy_changes_nothing(state):
    name, facts = state
    r = recording(name)
    d = decide(LOADED, r.artifact, r.tender, facts)
    settled = after(d, facts, r.artifact)
    again = decide(LOADED, r.artifact, r.tender, settled, version=d.tender_version)
    assert again.steps == (), (name, again.changes)


# -- decisions a user relies on, each guarded here ------------------------------------------


def test_a_new_tender_for_the_same_unikernel_is_a_new_release():
    r = recording("deployed")
    other = dataclasses.replace(r.tender, sha256="1" * 64)
    d = decide(LOADED, r.artifact, other, r.facts)
    assert d.release != decided("deployed").release
    assert d.steps == ("upload", "switch", "restart")


def profile_with(**unikernel: object) -> profiles.LoadedProfile:
    p = LOADED.profile
    changed = p.view(p.unikernel.model_copy(update=unikernel))
    return dataclasses.replace(LOADED, profile=changed)


@pytest.mark.parametrize(
    "field,value",
    [("memory", 96), ("args", ["--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.0.1", "-l", "*:debug"])],
)
def test_a_unit_field_changed_in_the_profile_rewrites_the_unit(field, value):
    r = recording("deployed")
    d = decide(profile_with(**{field: value}), r.artifact, r.tender, r.facts)
    assert d.steps == ("unit", "restart")
    assert d.change("unit").why == "it differs from the wanted text"


def test_a_network_field_changed_in_the_profile_reapplies_the_network():
    r = recording("deployed")
    p = LOADED.profile
    net = p.network.model_copy(update={"address": ipaddress.ip_interface("10.0.0.1/16")})
    loaded = dataclasses.replace(LOADED, profile=p.model_copy(update={"network": net}))
    d = decide(loaded, r.artifact, r.tender, r.facts)
    assert d.steps == ("network", "restart")
    assert "10-workbench-br100.network differs from the wanted text" in d.change("network").why


def test_restart_is_forced_only_when_asked():
    r = recording("deployed")
    d = decide(LOADED, r.artifact, r.tender, r.facts, force_restart=True)
    assert d.steps == ("restart",) and d.change("restart").why == "--restart was given"


def test_a_failed_boot_rolls_back_to_the_release_that_ran_before_if_it_is_still_there():
    # deployed A, facts asked about B: B's failure goes back to A
    other = decided("other-artifact")
    assert other.rollback_to == recording("other-artifact").facts.current_release
    assert decided("fresh").rollback_to is None  # nothing ran before
    assert decided("unit-edited").rollback_to is None  # the same release: nothing to go to
    gone = decided("other-artifact", releases=[])
    assert gone.rollback_to is None  # pruned or removed by hand: not a target


def test_a_manifest_less_unikernel_with_a_tender_not_yet_on_the_host_gets_the_legacy_unit():
    """Its tender's version is read after the upload; only a pre-0.6 tender runs it."""
    r = recording("legacy-host-tender")
    brought = TenderSource(Path("solo5-hvt"), "2" * 64, 800_000, "x86_64")
    d = decide(LOADED, r.artifact, brought, r.facts)
    assert d.refusal is None and d.tender_version is None
    assert "--net=tap100 -- " in d.unit.content
    assert "before Solo5 0.6.0" in d.notes[0]


def test_a_missing_uplink_is_refused_before_anything_is_written():
    r = recording("fresh")
    p = LOADED.profile
    net = p.network.model_copy(update={"mode": "bridge-uplink", "uplink": "eth9"})
    loaded = dataclasses.replace(LOADED, profile=p.model_copy(update={"network": net}))
    d = decide(loaded, r.artifact, r.tender, r.facts)
    assert d.refusal is not None and d.changes == ()
    assert d.refusal.message == "network.uplink 'eth9' does not exist on the host"
    assert d.refusal.hint == "interfaces there: eth0, lo"


def test_a_host_tender_that_cannot_be_hashed_says_so():
    r = recording("legacy-host-tender")
    facts = dataclasses.replace(
        r.facts,
        installed_tender_sha="",
        installed_tender_error="sha256sum: /usr/local/bin/solo5-hvt: Permission denied",
    )
    d = decide(LOADED, r.artifact, None, facts)
    assert d.refusal is not None
    assert d.refusal.message == (
        "could not hash the host's /usr/local/bin/solo5-hvt: sha256sum: "
        "/usr/local/bin/solo5-hvt: Permission denied"
    )
