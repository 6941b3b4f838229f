"""Block images decided without a host: sizes as the profile says them, made or grown, never
shrunk, never taken for something that is not a file; and where they live by default."""

from __future__ import annotations

import dataclasses

import pytest

from tests.unit.test_cli import wb
from tests.unit.test_decide import LOADED, recording
from tests.unit.test_profiles import MINIMAL, problems, write
from workbench import profiles, render
from workbench.artifacts.elf import Device
from workbench.engine.decide import decide
from workbench.engine.plan import decision_events
from workbench.errors import ConfigError
from workbench.events import StepFinished
from workbench.profiles.models import BlockImage

IMG = "/var/lib/workbench/hello/block/storage.img"


def with_block(**block: object) -> profiles.LoadedProfile:
    p = LOADED.profile
    images = {
        k: BlockImage.model_validate({"path": v} if isinstance(v, str) else v)
        for k, v in block.items()
    }
    return dataclasses.replace(
        LOADED, profile=p.view(p.unikernel.model_copy(update={"block": images}))
    )


def test_sizes_read_as_people_write_them(tmp_path):
    text = (
        MINIMAL
        + "  block:\n    a: {size: 64M}\n    b: {size: 1G, path: /srv/b.img}\n"
        + "    c: /srv/c.img\n    d: {size: 4096}\n"
    )
    p = profiles.load_file(write(tmp_path, text)).profile
    assert p.block_sizes == {
        "/var/lib/workbench/hello/block/a.img": 64 << 20,
        "/srv/b.img": 1 << 30,
        "/var/lib/workbench/hello/block/d.img": 4096,
    }
    assert p.block_paths["c"] == "/srv/c.img"


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ("1000", "1000 bytes is not a whole number of 512-byte sectors (at least one)"),
        ("0", "0 bytes is not a whole number of 512-byte sectors"),
        ("lots", "'lots' is not a size: write bytes, or e.g. 64M or 1G"),
        ("999999999999T", "bytes is more than 1 PiB: write a size a disk can hold"),
    ],
)
def test_a_size_solo5_would_refuse_is_refused_at_its_line(tmp_path, size, message):
    found = problems(write(tmp_path, MINIMAL + f"  block:\n    a: {{size: {size}}}\n"))
    assert len(found) == 1 and found[0].startswith("9: unikernel.block.a.size: "), found
    assert message in found[0]


def decided(loaded: profiles.LoadedProfile, blocks: dict[str, str]):  # type: ignore[no-untyped-def]
    r = recording("deployed")
    facts = dataclasses.replace(r.facts, blocks=blocks)
    devices = (*(r.artifact.devices or ()), Device("storage", "BLOCK_BASIC"))
    artifact = dataclasses.replace(r.artifact, devices=devices) if blocks else r.artifact
    return decide(loaded, artifact, r.tender, facts, host="target")


def test_a_missing_image_with_a_size_is_made_then_left_alone():
    loaded = with_block(storage={"size": "64M"})
    d = decided(loaded, {IMG: ""})
    # the unit gains --block and ReadWritePaths, the owner record the image
    assert d.steps == ("block", "unit", "owner", "restart")
    assert d.change("block").what == f"create {IMG} (64 MiB)"
    assert d.change("block").why == "it does not exist"
    assert "--block:storage=" + IMG in render.render_unit(loaded.profile).content
    again = decided(loaded, {IMG: f"{64 << 20} unikernel regular file"})
    assert "block" not in again.steps


def test_a_smaller_image_is_grown_and_the_unikernel_restarted_to_see_it():
    d = decided(with_block(storage={"size": "64M"}), {IMG: f"{32 << 20} unikernel regular file"})
    assert d.change("block").what == f"grow {IMG} (64 MiB)"
    assert d.change("block").why == "it is 32 MiB"
    assert "a block image was created or grown" in d.change("restart").why


def test_a_larger_image_is_never_shrunk():
    d = decided(with_block(storage={"size": "64M"}), {IMG: f"{128 << 20} unikernel regular file"})
    assert isinstance(d.refusal, ConfigError) and d.changes == ()
    assert d.refusal.message == (
        f"block image {IMG} (device storage) on target is 128 MiB, and the profile asks for "
        "64 MiB: deploy never shrinks an image (the unikernel's data past the new end would be "
        "lost)"
    )
    assert d.refusal.hint.startswith("set its size to 128 MiB or more")


def test_a_missing_image_without_a_size_is_refused_with_both_fixes():
    d = decided(with_block(storage="/srv/disk.img"), {"/srv/disk.img": ""})
    assert d.refusal is not None
    assert (
        d.refusal.message == "block image /srv/disk.img (device storage) does not exist on target"
    )
    assert (
        "{storage: {size: 64M}}" in d.refusal.hint
        and "truncate -s 64M /srv/disk.img" in d.refusal.hint
    )


def test_an_empty_image_is_a_file_to_grow_and_one_not_the_users_is_refused():
    loaded = with_block(storage={"size": "64M"})
    d = decided(loaded, {IMG: "0 unikernel regular empty file"})
    assert d.refusal is None and d.change("block").what == f"grow {IMG} (64 MiB)"
    d = decided(loaded, {IMG: f"{64 << 20} root regular file"})
    assert d.refusal is not None
    assert d.refusal.message.endswith("belongs to root, and the unikernel runs as unikernel: "
                                      "it could not open it")  # fmt: skip
    assert d.refusal.hint == f"on target: chown unikernel {IMG} (deploy made it as that user)"
    # A path you manage is yours to give rights on (a group, an ACL): not checked.
    assert (
        decided(with_block(storage="/srv/x.img"), {"/srv/x.img": "512 root regular file"}).refusal
        is None
    )


def test_something_that_is_not_a_file_is_refused():
    d = decided(with_block(storage={"size": "64M"}), {IMG: "4096 root directory"})
    assert d.refusal is not None and "is not a regular file (directory)" in d.refusal.message


def test_plan_shows_the_block_step_only_for_a_unikernel_with_block_devices():
    def steps(d):  # type: ignore[no-untyped-def]
        return [e.step for e in decision_events("target", d) if isinstance(e, StepFinished)]

    assert "block" not in steps(decided(LOADED, {}))
    assert "block" in steps(decided(with_block(storage={"size": "64M"}), {IMG: ""}))


def test_block_commands_refuse_what_cannot_work_before_connecting(tmp_path):
    path = write(tmp_path, MINIMAL + "  block:\n    storage: {size: 1M}\n")
    bad = tmp_path / "odd.img"
    bad.write_bytes(b"x" * 1000)
    result = wb("block", "push", "--profile", str(path), "--device", "storage", str(bad))
    assert result.returncode == 2
    assert "odd.img is 1000 bytes: not whole 512-byte sectors" in result.stderr
    result = wb("block", "pull", "--profile", str(path), "--device", "disk", "x")
    assert result.returncode == 2
    assert "unikernel 'hello' has no block device 'disk' (it has: storage)" in result.stderr
