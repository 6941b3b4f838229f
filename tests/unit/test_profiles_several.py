"""Profiles with several unikernels (`unikernels:`): each is a view the engine deploys as if it
were alone; names, taps, addresses and `after:` are checked across the list, with lines."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.unit.test_profiles import problems, write
from workbench import profiles, render
from workbench.engine import pipeline
from workbench.engine.deploy import DeployOptions
from workbench.engine.release import Job, jobs
from workbench.errors import ConfigError, ProfileError
from workbench.eventprint import EventPrinter
from workbench.events import HostDone, StepFinished

ROOT = Path(__file__).resolve().parents[2]

HEAD = """\
hosts:
  pi:
    address: rpi3b.local
targets: [pi]
"""

THREE = (
    HEAD
    + """\
unikernels:
  - name: web
    artifact: web.hvt
    args: ["--ipv4=10.0.0.4/24"]
    networks: {service: tap102}
    after: [dns]
  - name: dns
    artifact: dns.hvt
    args: ["--ipv4=10.0.0.3/24"]
    networks: {service: tap101}
    health: {kind: tcp, port: 53}
  - name: fw
    artifact: fw.hvt
    networks: {service: tap103}
health: {kind: http, port: 8080}
"""
)


def test_each_unikernel_is_a_view_in_after_order(tmp_path):
    loaded = profiles.load_file(write(tmp_path, THREE))
    views = loaded.views()
    assert [v.profile.unikernel.name for v in views] == ["dns", "web", "fw"]
    assert [v.label for v in views] == ["p/dns", "p/web", "p/fw"]
    dns, web, _ = (v.profile for v in views)
    assert dns.unit_name == "unikernel-dns.service" and dns.release_dir.endswith("/dns")
    assert dns.health is not None and dns.health.kind == "tcp"  # its own
    assert web.health is not None and web.health.kind == "http"  # the profile's
    assert web.after_units == ("unikernel-dns.service",)
    assert web.unikernel.artifact == tmp_path / "web.hvt"  # relative to the profile file
    with pytest.raises(ValueError, match="view"):
        loaded.profile.unikernel  # noqa: B018 - a list is used one unikernel at a time
    assert [v.profile.unikernel.name for v in loaded.views(["fw", "web"])] == ["web", "fw"]


def test_a_unikernel_not_in_the_profile_is_named_with_the_ones_that_are(tmp_path):
    loaded = profiles.load_file(write(tmp_path, THREE))
    with pytest.raises(ConfigError) as err:
        loaded.views(["wbe"])
    assert err.value.message == "profile 'p' has no unikernel named 'wbe'"
    assert err.value.hint == "did you mean 'web'? its unikernels: web, dns, fw"


def test_the_one_item_form_is_the_same_profile():
    loaded = profiles.load("lab", cwd=ROOT)
    (view,) = loaded.views()
    assert view.profile == loaded.profile and view.label == "lab" and not view.several


def test_the_unit_is_ordered_after_but_never_pulls_up_the_other(tmp_path):
    web = profiles.load_file(write(tmp_path, THREE)).views(["web"])[0].profile
    unit = render.render_unit(web).content
    assert "\nAfter=unikernel-dns.service\n" in unit
    assert "Wants=unikernel" not in unit and "Requires=" not in unit and "BindsTo=" not in unit
    dns = profiles.load_file(write(tmp_path, THREE)).views(["dns"])[0].profile
    assert "unikernel-" not in render.render_unit(dns).content.split("[Service]")[0].replace(
        "unikernel 'dns'", ""
    )


def test_clashes_across_the_list_are_reported_each_at_its_line(tmp_path):
    path = write(
        tmp_path,
        HEAD
        + """\
        unikernels:
          - name: web
            artifact: web.hvt
            args: ["--ipv4=10.0.0.4/24"]
            networks: {service: tap101}
            after: [web, nope]
            memroy: 32
          - name: web
            args: ["--ipv4=10.0.0.4/24"]
            networks: {service: tap101}
        service:
          unit: mine.service
        """.replace("        ", ""),
    )
    assert problems(path) == [
        "10: unikernels[0].after[0]: a unikernel cannot start after itself",
        "10: unikernels[0].after[1]: 'nope' is not a unikernel here (have: web)",
        "11: unikernels[0].memroy: unknown key; did you mean 'memory'?",
        "12: unikernels[1]: set `source` (a MirageOS directory) or `artifact` (a built .hvt)",
        "12: unikernels[1].name: 'web' is already the name of another",
        "14: unikernels[1].networks.service: tap 'tap101' is already used by "
        "unikernel 'web' (device 'service')",
        "16: service.unit: one unit name cannot name several unikernels: each runs as "
        "unikernel-NAME.service (drop `unit`)",
    ]


def test_two_unikernels_with_one_address_are_refused(tmp_path):
    text = THREE.replace("--ipv4=10.0.0.4/24", "--ipv4=10.0.0.3/24")
    assert problems(write(tmp_path, text)) == [
        "13: unikernels[1].args[0]: 10.0.0.3 is already the address of unikernel 'web'"
    ]


def test_after_that_goes_round_is_refused(tmp_path):
    text = THREE.replace("    health: {kind: tcp, port: 53}\n", "    after: [fw]\n").replace(
        "    networks: {service: tap103}\n", "    networks: {service: tap103}\n    after: [web]\n"
    )
    found = problems(write(tmp_path, text))
    assert any("`after` goes round: web -> dns -> fw -> web" in p for p in found), found


def test_both_forms_or_neither_is_refused(tmp_path):
    both = (
        HEAD + "unikernel: {name: a, artifact: a.hvt}\nunikernels: [{name: b, artifact: b.hvt}]\n"
    )
    assert any("not both or neither" in p for p in problems(write(tmp_path, both)))
    with pytest.raises(ProfileError):
        profiles.load_file(write(tmp_path, HEAD))


def test_artifact_from_the_command_line_needs_one_unikernel(tmp_path):
    loaded = profiles.load_file(write(tmp_path, THREE))
    with pytest.raises(ConfigError) as err:
        jobs(loaded, (), artifact="x.hvt")
    assert "has several (dns, web, fw)" in err.value.message
    assert err.value.hint == "say which with --unikernel NAME"


def test_lines_say_host_and_unikernel_when_the_profile_has_several(capsys):
    event = StepFinished(host="pi", step="unit", detail="written", unikernel="web")
    EventPrinter(False, several=True)(event)
    EventPrinter(False)(event)
    assert capsys.readouterr().out.splitlines() == ["[pi/web] unit: written", "[pi] unit: written"]


def test_one_that_starts_after_a_failed_one_is_not_deployed_there(tmp_path, monkeypatch):
    """dns fails on pi: web (after dns) is not deployed on pi, fw (independent) is."""
    loaded = profiles.load_file(write(tmp_path, THREE))
    ran: list[str] = []

    async def fake(job: Job, pool, hosts, options, use_cache, parallel, rolling):  # type: ignore[no-untyped-def]
        name = job.loaded.profile.unikernel.name
        ran.append(name)
        yield HostDone(host="pi", step="done", ok=name != "dns")

    monkeypatch.setattr(pipeline, "_deploy_one", fake)

    async def collect() -> list:  # type: ignore[type-arg]
        todo = [Job(v) for v in loaded.views()]
        stream = pipeline.deploy_all(todo, None, ["pi"], DeployOptions())  # type: ignore[arg-type]
        return [e async for e in stream]

    events = asyncio.run(collect())
    assert ran == ["dns", "fw"]
    web = [e for e in events if e.unikernel == "web"]
    assert [e.event_type for e in web] == ["step_failed", "host_done"]
    assert web[0].message == "web was not deployed: it starts after dns, which failed on pi"
    assert [(e.unikernel, e.ok) for e in events if isinstance(e, HostDone)] == [
        ("dns", False),
        ("web", False),
        ("fw", True),
    ]


def test_two_unikernels_left_on_the_default_tap_clash(tmp_path):
    text = HEAD + "unikernels:\n  - {name: a, artifact: a.hvt}\n  - {name: b, artifact: b.hvt}\n"
    assert problems(write(tmp_path, text)) == [
        "7: unikernels[1].networks.service: tap 'tap100' is already used by unikernel 'a' "
        "(device 'service')"
    ]


def test_tap_only_is_for_one_unikernel(tmp_path):
    text = THREE + "network: {mode: tap-only, address: 10.0.0.1/24}\n"
    found = problems(write(tmp_path, text))
    assert any("network.mode: 'tap-only' gives the one tap the host address" in p for p in found)


def test_one_image_file_for_two_devices_is_refused(tmp_path):
    text = THREE.replace(
        "    networks: {service: tap103}\n",
        "    networks: {service: tap103}\n    block: {data: /srv/d.img}\n",
    ).replace(
        "    networks: {service: tap101}\n",
        "    networks: {service: tap101}\n    block: {data: {path: /srv/d.img, size: 1M}}\n",
    )
    found = problems(write(tmp_path, text))
    assert len(found) == 1 and found[0].endswith(
        "unikernels[2].block.data: /srv/d.img is already the image of device 'data' of "
        "unikernel 'dns'"
    ), found
