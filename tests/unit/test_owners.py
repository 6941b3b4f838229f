"""Owner records: what a deploy writes about who deployed a unikernel, and the refusals a
deploy of another profile gets when it would take that unit, a tap or an address."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.unit.test_decide import LOADED, decided, recording
from workbench import owners, profiles
from workbench.engine.decide import decide, sha256_text
from workbench.errors import ConfigError


def as_host_has_it(loaded: profiles.LoadedProfile, **changes: object) -> str:
    """The one line the facts script prints for this profile's record (fields changed)."""
    data = json.loads(owners.render_record(loaded).content)
    return json.dumps({**data, **changes})


def test_the_record_names_everything_another_deploy_could_take():
    data = json.loads(owners.render_record(LOADED).content)
    assert data == {
        "profile": "lab",
        "unikernel": "hello",
        "unit": "unikernel-hello.service",
        "taps": ["tap100"],
        "addresses": ["10.0.0.2"],
        "bridge": "br100",
        "release_dir": "/var/lib/workbench/hello",
        "block": [],
    }
    assert owners.render_record(LOADED).path == "/etc/workbench/owners/unikernel-hello.json"
    assert owners.parse_record(owners.render_record(LOADED).content) == owners.owner_of(LOADED)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '{"profile": 1, "unit": "u"}',
        '{"profile": "p", "unit": ""}',
        '{"profile": "p", "unit": "u", "taps": "tap100"}',
        '{"profile": "p", "unit": "u", "taps": [1]}',
    ],
)
def test_anything_that_is_not_a_record_is_skipped(text):
    assert owners.parse_record(text) is None


def test_a_first_deploy_records_the_owner_without_a_restart_of_its_own():
    fresh = decided("fresh")
    change = fresh.change("owner")
    assert change is not None and change.why == "it does not exist"
    assert fresh.owner is not None and fresh.owner.path.startswith("/etc/workbench/owners/")
    # A host deployed before records existed gets one, and nothing else moves for it.
    d = decided("deployed", files={**recording("deployed").facts.files, fresh.owner.path: ""})
    assert d.steps == ("owner",)


def test_a_redeploy_of_our_own_unikernel_is_not_a_clash():
    d = decided("deployed", owners=[as_host_has_it(LOADED)])
    assert d.refusal is None


def other(name: str, **uk: object) -> profiles.LoadedProfile:
    p = LOADED.profile
    return dataclasses.replace(LOADED, name=name, profile=p.view(p.unikernel.model_copy(update=uk)))


@pytest.mark.parametrize(
    ("theirs", "message", "hint"),
    [
        (
            {"profile": "web"},
            "unikernel-hello.service on target belongs to profile 'web' (it deployed it there)",
            "remove it with that profile first (workbench remove --profile web --unikernel "
            "hello), or give this unikernel another name",
        ),
        (
            {"profile": "web", "unikernel": "site", "unit": "unikernel-site.service"},
            "tap tap100 on target is used by unikernel-site.service (unikernel 'site' of "
            "profile 'web')",
            "map this unikernel's device to another tap (unikernel.networks)",
        ),
        (
            {
                "profile": "web",
                "unikernel": "site",
                "unit": "unikernel-site.service",
                "taps": ["tap101"],
            },
            "address 10.0.0.2 on bridge br100 of target is unikernel-site.service (unikernel "
            "'site' of profile 'web')'s",
            "give this unikernel another --ipv4 in unikernel.args",
        ),
    ],
    ids=["unit", "tap", "address"],
)
def test_taking_what_another_profile_has_is_refused_naming_the_owner(theirs, message, hint):
    r = recording("deployed")
    d = decide(
        LOADED,
        r.artifact,
        r.tender,
        dataclasses.replace(r.facts, owners=[as_host_has_it(LOADED, **theirs)]),
        host="target",
    )
    assert isinstance(d.refusal, ConfigError) and d.changes == ()
    assert d.refusal.message == message
    assert d.refusal.hint is not None and d.refusal.hint.startswith(hint)
    unit = theirs.get("unit", "unikernel-hello.service")
    assert f"on target: systemctl disable --now {unit}; rm /etc/workbench/owners/" in d.refusal.hint


def test_the_same_address_on_another_bridge_is_not_a_clash():
    line = as_host_has_it(
        LOADED,
        profile="web",
        unit="unikernel-site.service",
        taps=["tap9"],
        bridge="br9",
        release_dir="/var/lib/workbench/site",
    )
    assert decided("deployed", owners=[line]).refusal is None


def test_hostile_records_are_skipped_not_trusted():
    lines = [
        "\x1b]0;PWNED\x07",
        "{" * 5000,
        "[" * 5000,  # json.loads raises RecursionError, not ValueError, on deep nesting
        json.dumps({"profile": ["x"], "unit": "y"}),
    ]
    assert decided("deployed", owners=lines).refusal is None
    assert owners.parse_record("[" * 100_000) is None


def test_sharing_another_unikernels_releases_or_image_is_refused():
    line = as_host_has_it(
        LOADED, profile="web", unit="unikernel-other.service", taps=["tap9"], bridge="br9"
    )
    d = decided("deployed", owners=[line])
    assert d.refusal is not None
    assert d.refusal.message.startswith("/var/lib/workbench/hello on the host is ")


def test_the_record_is_a_managed_file_so_the_facts_say_whether_it_is_current():
    from workbench.engine import hostinfo

    assert owners.render_record(LOADED).path in hostinfo.managed_paths(LOADED)
    # The same unikernel deployed from a profile of another name is another owner.
    assert sha256_text(owners.render_record(other("web")).content) != sha256_text(
        owners.render_record(LOADED).content
    )
