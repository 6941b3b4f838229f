"""Several targets and jump hosts, on the lab's real sshd and systemd."""

from __future__ import annotations

import pytest

from tests.lab.deploykit import (
    HEALTHY,
    artifact,
    deploy,
    deploy_args,
    json_events,
    on_target,
    remove,
    tender,
    variant,
    workbench,
)
from workbench.lab import config

pytestmark = pytest.mark.lab


def _two_names_for_one_host(path):
    """targets: [target, again] where `again` is the same machine under another name."""
    text = path.read_text()
    text = text.replace("targets: [target]", "targets: [target, again]")
    block = text[text.index("  target:\n") : text.index("  builder:\n")]
    text = text.replace("  builder:\n", block.replace("  target:\n", "  again:\n") + "  builder:\n")
    path.write_text(text)


def test_parallel_deploys_to_one_host_do_not_interleave(lab, tmp_path):
    v = variant(tmp_path, 80)
    remove(v)
    _two_names_for_one_host(v.path)
    try:
        code, events, text = deploy(
            v, artifact(tmp_path, "app", HEALTHY), "--quiet", "--parallel", "2"
        )
        done = {e["host"]: e for e in events if e["event"] == "host_done"}
        assert set(done) == {"target", "again"}
        assert sorted(d["ok"] for d in done.values()) == [False, True]
        assert "another deploy of 't80' is running on this host" in text
        assert code == 4
        # One at a time, the second finds everything in place and changes nothing.
        code, events, text = deploy(v, artifact(tmp_path, "app", HEALTHY), "--quiet", "--rolling")
        assert code == 0, text
        done = [e for e in events if e["event"] == "host_done"]
        assert [d["ok"] for d in done] == [True, True]
        assert not done[1]["changed"]
    finally:
        remove(v)


def test_deploy_through_a_jump_host(lab, tmp_path):
    v = variant(tmp_path, 81)
    remove(v)
    text = v.path.read_text().replace(
        "    known_hosts: /var/lib/workbench-lab/known_hosts\n  builder:",
        "    known_hosts: /var/lib/workbench-lab/known_hosts\n    jump: builder\n  builder:",
    )
    assert "    jump: builder\n" in text
    v.path.write_text(text)
    try:
        since = on_target("date +%s").stdout.strip()
        code, events, err = deploy(v, artifact(tmp_path, "app", HEALTHY), "--quiet")
        assert code == 0, err
        assert [e for e in events if e["event"] == "health_result"][-1]["ok"]
        # The target saw the login come from the builder, not from this machine.
        logins = on_target(f"journalctl -u ssh --since @{since} -o cat | grep 'Accepted publickey'")
        assert f"from {config.BUILDER.address} " in logins.stdout
    finally:
        remove(v)


def test_lab_fleet_hosts_take_a_parallel_deploy(lab, tmp_path):
    """`lab up --fleet N`: N more booted targets and a profile for all of them."""
    from workbench.lab import fleet

    try:
        result = workbench("lab", "up", "--fleet", "3", timeout=300)
        assert result.returncode == 0, result.stderr
        status = workbench("lab", "status")
        for name in ("fleet01", "fleet02", "fleet03"):
            assert f"{name} " in status.stdout and "systemd running" in status.stdout
        profile = fleet.PROFILE
        assert "targets: [fleet01, fleet02, fleet03]" in profile.read_text()
        art = artifact(tmp_path, "app", HEALTHY)
        result = workbench(*deploy_args(profile, art, tender(), "--quiet", "--parallel", "3"))
        events = json_events(result.stdout)
        assert result.returncode == 0, result.stderr
        done = {e["host"]: e["ok"] for e in events if e["event"] == "host_done"}
        assert done == {"fleet01": True, "fleet02": True, "fleet03": True}
        # A smaller fleet takes the extra hosts down.
        assert workbench("lab", "up", "--fleet", "1", timeout=300).returncode == 0
        assert [h.name for h in fleet.existing()] == ["fleet01"]
    finally:
        fleet.down()
    assert fleet.existing() == [] and not fleet.PROFILE.exists()
