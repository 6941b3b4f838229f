"""Block storage on the lab target (issue: many unikernels per host, block storage): an image
given a size is made on the first deploy (the service user's, 0600, that size), passed as
--block:NAME=PATH, kept byte for byte across a new release and a rollback, grown when the size
grows, never shrunk, and deleted (named) only by `remove --purge`."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.lab.deploykit import (
    CRASHES,
    HEALTHY,
    deploy,
    json_events,
    on_target,
    remove,
    steps,
    variant,
)
from tests.lab.deploykit import workbench as wb
from workbench.lab import solo5elf

pytestmark = pytest.mark.lab

IMG = "/var/lib/workbench/t9/block/storage.img"


def with_storage(tmp_path, name: str, spec: dict):  # type: ignore[no-untyped-def]
    path = tmp_path / f"{name}.hvt"
    path.write_bytes(
        solo5elf.build(
            devices=[("service", "NET_BASIC"), ("storage", "BLOCK_BASIC")],
            extra_sections={".workbench.lab.guest": json.dumps(spec).encode()},
        )
    )
    return path


def sized(v, size: str) -> None:  # type: ignore[no-untyped-def]
    text = v.path.read_text()
    if "  block:\n" in text:
        text = text.split("  block:\n")[0] + text[text.index("\nnetwork:") :]
    v.path.write_text(
        text.replace("\nnetwork:", f"  block:\n    storage: {{size: {size}}}\n\nnetwork:", 1)
    )


def data_sum(length: int = 1 << 20) -> str:
    return on_target(f"head -c {length} {IMG} | sha256sum").stdout.split()[0]


def test_a_block_image_is_made_kept_grown_never_shrunk(lab, tmp_path):
    v = variant(tmp_path, 9)  # a number no other lab test uses
    sized(v, "1M")
    remove(v)
    try:
        code, events, err = deploy(v, with_storage(tmp_path, "a", HEALTHY))
        assert code == 0, err
        block = steps(events)["block"]
        assert block["changed"] and block["detail"] == f"create {IMG} (1 MiB)"
        assert on_target(f"stat -c '%s %U %a' {IMG}").stdout.split() == [
            "1048576",
            "unikernel",
            "600",
        ]
        unit = on_target(f"systemctl cat {v.unit}").stdout
        assert f"--block:storage={IMG}" in unit and f"ReadWritePaths={IMG}" in unit
        on_target(f"printf 'the unikernel wrote this' | dd of={IMG} bs=1 seek=4096 conv=notrunc")
        written = data_sum()

        # A new release, then a crashing one rolled back: the image is never touched.
        code, events, err = deploy(
            v, with_storage(tmp_path, "b", {**HEALTHY, "logs": [{"msg": "b"}]})
        )
        assert code == 0, err
        assert not steps(events)["block"]["changed"]
        code, events, err = deploy(v, with_storage(tmp_path, "bad", CRASHES))
        assert code == 8, err
        assert [e for e in events if e["event"] == "rolled_back"]
        assert data_sum() == written

        # Growing keeps every byte; shrinking is refused before anything is written.
        sized(v, "2M")
        code, events, err = deploy(
            v, with_storage(tmp_path, "b", {**HEALTHY, "logs": [{"msg": "b"}]})
        )
        assert code == 0, err
        assert steps(events)["block"]["detail"] == f"grow {IMG} (2 MiB)"
        assert on_target(f"stat -c %s {IMG}").stdout.strip() == "2097152"
        assert data_sum() == written
        sized(v, "1M")
        code, events, err = deploy(
            v, with_storage(tmp_path, "b", {**HEALTHY, "logs": [{"msg": "b"}]})
        )
        assert code == 2
        assert "is 2 MiB, and the profile asks for 1 MiB: deploy never shrinks an image" in err
        assert on_target(f"stat -c %s {IMG}").stdout.strip() == "2097152"

        # Pull and push: a running unikernel's image only --live (and said so), a push only
        # while stopped; both verified, the round trip byte-exact.
        copy = tmp_path / "storage.img"
        cmd = ["block", "pull", "--profile", str(v.path), "--device", "storage", str(copy)]
        result = wb(*cmd)
        assert result.returncode == 2 and "may be torn" in result.stderr, result.stderr
        assert not copy.exists()
        result = wb(*cmd, "--live")
        assert result.returncode == 0, result.stderr
        assert "a LIVE copy of a running unikernel: it may not be consistent" in result.stdout
        assert wb("stop", "--profile", str(v.path)).returncode == 0
        result = wb(*cmd, "--json")
        assert result.returncode == 0, result.stderr
        host_sum = on_target(f"sha256sum {IMG}").stdout.split()[0]
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == host_sum
        data = bytearray(copy.read_bytes())
        data[8192:8200] = b"restored"
        copy.write_bytes(bytes(data))
        push = ["block", "push", "--profile", str(v.path), "--device", "storage", str(copy)]
        result = wb(*push, "--json")
        assert result.returncode == 0, result.stderr
        assert on_target(f"sha256sum {IMG}").stdout.split()[0] == hashlib.sha256(data).hexdigest()
        assert on_target(f"stat -c '%U %a' {IMG}").stdout.split() == ["unikernel", "600"]
        assert wb("start", "--profile", str(v.path)).returncode == 0
        result = wb(*push)
        assert result.returncode == 2 and "would replace its disk under it" in result.stderr

        # Only --purge deletes it, and says so.
        result = wb("remove", "--profile", str(v.path), "--purge", "--yes", "--json")
        assert result.returncode == 0, result.stderr
        purge = steps(json_events(result.stdout))["purge"]["detail"]
        assert IMG in purge and "/var/lib/workbench/t9" in purge
        assert on_target(f"test -e {IMG}").returncode == 1
    finally:
        remove(v)
