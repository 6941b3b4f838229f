"""Every line the facts script printed on the lab target lands in its field, typed -- read
here independently of the parser, from the script's own `key=value` format."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from workbench.remote.facts import HostFacts, parse_facts, parse_link_flags

FACTS = Path(__file__).resolve().parents[1] / "data" / "facts"
INTS = {"long_bit", "disk_free_kb", "mem_available_kb"}
FLAGS = {"ifupdown", "nft"}


def lines(name: str) -> list[str]:
    return json.loads((FACTS / f"{name}.json").read_text())["facts"]


def expected(raw: list[str]) -> dict[str, object]:
    want: dict[str, object] = {"files": {}, "release_files": {}, "links": {}, "owners": []}
    version, links = [], []
    for line in raw:
        if line.startswith("owner "):
            want["owners"].append(line.removeprefix("owner "))  # type: ignore[attr-defined]
            continue
        if line.startswith("tender_version "):
            version.append(line.removeprefix("tender_version "))
            continue
        if line.startswith("link "):
            links.append(line.removeprefix("link "))
            continue
        key, _, value = line.partition("=")
        if key.startswith("file:"):
            want["files"][key.removeprefix("file:")] = value  # type: ignore[index]
        elif key.startswith("release_file:"):
            want["release_files"][key.removeprefix("release_file:")] = value  # type: ignore[index]
        elif key in INTS:
            want[key] = int(value) if value else None
        elif key in FLAGS:
            want[key] = value == "yes"
        elif key == "user_kvm":
            want[key] = {"yes": True, "no": False}[value]
        elif key == "user_groups":
            want[key] = None if value == "-" else value.split()
        elif key == "releases":
            want[key] = value.split()
        else:
            want[key] = value.strip()
    want["tender_version"] = "\n".join(version)
    want["links"] = {
        w[0].split("@")[0]: "UP" in w[-1].strip("<>").split(",") for w in map(str.split, links)
    }
    return want


@pytest.mark.parametrize("name", sorted(p.stem for p in FACTS.glob("*.json")))
def test_every_recorded_line_lands_in_its_field(name):
    raw = lines(name)
    facts = parse_facts("\n".join(raw))
    got = dataclasses.asdict(facts)
    want = expected(raw)
    assert {k: got[k] for k in want} == want
    # and nothing the host did not say is made up
    said = set(want) | {"user_kvm"}
    for field in dataclasses.fields(HostFacts):
        if field.name not in said:
            assert got[field.name] in ("", None, {}, []), field.name


def test_the_recorded_states_differ_where_they_should():
    fresh, deployed = (parse_facts("\n".join(lines(n))) for n in ("fresh", "deployed"))
    assert fresh.user_groups is None and deployed.user_groups == ["kvm"]
    assert fresh.current_release is None and deployed.current_release == deployed.release
    assert "tap100" not in fresh.links and deployed.links["tap100"] is True
    assert fresh.backend == deployed.backend == "systemd-networkd"
    down = parse_facts("\n".join(lines("tap-down")))
    assert down.links["tap100"] is False
    assert fresh.owners == [] and len(deployed.owners) == 1  # the record deploy wrote


def test_a_link_is_up_by_its_flags_not_its_state():
    text = (
        "tap100           DOWN           a6:ae:d1:5b:90:a8 <NO-CARRIER,BROADCAST,MULTICAST,UP>\n"
        "br100            DOWN           5a:0e:a4:ce:a9:de <BROADCAST,MULTICAST>\n"
        "eth0@if169       UP             6e:a7:dd:2c:7f:3c <BROADCAST,MULTICAST,UP,LOWER_UP>\n"
        "garbage\n"
    )
    assert parse_link_flags(text) == {"tap100": True, "br100": False, "eth0": True}


def test_the_host_backend_prefers_a_running_networkd():
    f = parse_facts("\n".join(lines("deployed")))
    assert dataclasses.replace(f, networkd="inactive").backend == "ifupdown"
    assert dataclasses.replace(f, networkd="inactive", ifupdown=False).backend is None


# What the parser must make of a host that said nothing about a fact: "unknown", never a value
# the checks would read as an answer ("" is not a kernel, None is not 0 kB free, [] releases).
UNSAID = HostFacts(
    arch="",
    kernel="",
    long_bit=None,
    dpkg_arch="",
    model="",
    kvm="",
    tun="",
    pid1="",
    systemd="",
    networkd="",
    networkmanager="",
    ifupdown=False,
    ifupdown_active="",
    nft=False,
    disk_free_kb=None,
    mem_available_kb=None,
    user_groups=None,
    user_kvm=None,
    installed_tender="",
    current="",
    releases=[],
    unit_active="",
    unit_enabled="",
)


def test_a_host_that_printed_nothing_knows_nothing():
    assert parse_facts("") == UNSAID
    assert UNSAID.current_release is None and UNSAID.backend is None


@pytest.mark.parametrize("name", sorted(p.stem for p in FACTS.glob("*.json")))
def test_a_fact_is_unknown_until_the_host_says_it(name):
    """Cut the recording after each line: every fact not printed yet is exactly its unknown
    value (a typed blank, not a placeholder), every fact printed is already final."""
    raw = lines(name)
    final = dataclasses.asdict(parse_facts("\n".join(raw)))
    unsaid = dataclasses.asdict(UNSAID)
    for cut in range(len(raw) + 1):
        head = raw[:cut]
        said = {line.partition("=")[0] for line in head}
        got = dataclasses.asdict(parse_facts("\n".join(head)))
        for key, value in got.items():
            if key in said:
                assert value == final[key], (cut, key)
            elif key not in ("files", "release_files", "links", "tender_version", "owners"):
                assert value == unsaid[key] and type(value) is type(unsaid[key]), (cut, key)


def test_text_a_login_shell_prints_first_is_not_a_fact():
    """A host whose shell startup file prints a greeting (and a blank line) before the script
    runs: those lines are skipped, every fact after them is still read."""
    raw = lines("deployed")
    greeted = parse_facts("\n".join(["Welcome to rpi3b!", "", *raw]))
    assert greeted == parse_facts("\n".join(raw))


def test_a_value_keeps_every_equals_sign_after_the_first():
    raw = [
        line if not line.startswith("current=") else "current=/srv/env=prod/hello/releases/abc"
        for line in lines("deployed")
    ]
    facts = parse_facts("\n".join(raw))
    assert facts.current == "/srv/env=prod/hello/releases/abc"
    assert facts.current_release == "abc"


def test_a_service_user_outside_group_kvm():
    """What the script prints when the user exists but may not open /dev/kvm: the user is
    known (its groups) and the answer is no, not unknown."""
    raw = [
        {"user_groups": "user_groups=unikernel", "user_kvm": "user_kvm=no"}.get(
            line.partition("=")[0], line
        )
        for line in lines("deployed")
    ]
    facts = parse_facts("\n".join(raw))
    assert facts.user_groups == ["unikernel"]
    assert facts.user_kvm is False


def _deployed_with(**lines: str) -> HostFacts:
    """The deployed recording with some keys' lines replaced (or added at the end)."""
    raw = [lines.pop(line.partition("=")[0], line) for line in FACTS_DEPLOYED]
    return parse_facts("\n".join([*raw, *lines.values()]))


FACTS_DEPLOYED = lines("deployed")


def test_a_raspberry_pi_names_its_model_and_a_tender_it_cannot_hash():
    """/proc/device-tree/model on a Pi 3, and sha256sum's error for a tender it may not read
    (both absent from the x86 lab recordings)."""
    facts = _deployed_with(
        model="model=Raspberry Pi 3 Model B Rev 1.2",
        installed_tender_error=(
            "installed_tender_error=sha256sum: /usr/local/bin/solo5-hvt: Permission denied"
        ),
    )
    assert facts.model == "Raspberry Pi 3 Model B Rev 1.2"
    assert facts.installed_tender_error == "sha256sum: /usr/local/bin/solo5-hvt: Permission denied"
