"""logs --follow across a unit restart and a dropped SSH session; rollback; status."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from tests.lab.deploykit import (
    HEALTHY,
    ROOT,
    after_reconnect,
    artifact,
    assert_followed_without_loss,
    cli,
    deploy,
    followed,
    json_events,
    on_target,
    remove,
    variant,
    wait_for,
    workbench,
)

pytestmark = pytest.mark.lab

CHATTY = {**HEALTHY, "spam": {"rate": 100}}


@pytest.fixture
def v(lab, tmp_path):
    var = variant(tmp_path, 70)
    remove(var)
    yield var
    remove(var)


def log_lines(events: list[dict]) -> int:
    return sum(e["event"] == "log_line" for e in events)


def follow_texts(path) -> list[str]:
    return [e["text"] for e in followed(path) if e["event"] == "log_line"]


def test_follow_survives_unit_restart_and_reconnect_without_loss(v, tmp_path):
    assert deploy(v, artifact(tmp_path, "chatty", CHATTY), "--quiet")[0] == 0
    # Output goes to a file: a pipe nobody reads fills up at 100 lines/s and blocks the follower.
    out_path = tmp_path / "follow.jsonl"
    with out_path.open("w") as out_file:
        follower = subprocess.Popen(
            cli("logs", "--profile", str(v.path), "--follow", "--lines", "0", "--json"),
            cwd=ROOT,
            stdout=out_file,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: log_lines(followed(out_path)) >= 50, "the follower's first lines")
        on_target(f"systemctl restart {v.unit}")
        wait_for(
            lambda: any("Solo5: Bindings version" in t for t in follow_texts(out_path)),
            "the restarted unikernel's banner in the follow",
        )
        # Drop the follower's SSH session on the target (this command's own session, $PPID,
        # is spared): the follower must reconnect and resume from its last cursor.
        on_target("for p in $(pgrep -f 'sshd: root@notty'); do [ $p = $PPID ] || kill $p; done")
        wait_for(
            lambda: len(after_reconnect(followed(out_path))) >= 100, "100 lines after reconnecting"
        )
        follower.send_signal(signal.SIGINT)
        _, err = follower.communicate(timeout=30)
    out = out_path.read_text()
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    reconnects = [e for e in events if e["step"] == "reconnect"]
    assert reconnects, err
    got = assert_followed_without_loss(v, events)
    # Every line from the first to the last, across the restart and the reconnect: the waits
    # above saw 50 before the restart and 100 after the reconnect.
    assert len(got) >= 150
    texts = [e["text"] for e in events if e["event"] == "log_line"]
    assert any("Exiting on signal 15" in t for t in texts)  # the restart is in the stream
    assert any(e["origin"] == "systemd" for e in events if e["event"] == "log_line")


def test_rollback_and_status(v, tmp_path):
    first = artifact(tmp_path, "one", HEALTHY)
    second = artifact(tmp_path, "two", {**HEALTHY, "logs": [{"msg": "version two"}]})
    code, events, _ = deploy(v, first, "--quiet")
    one = events[-1]["release"]
    code, events, err = deploy(v, second, "--quiet")
    assert code == 0, err
    two = events[-1]["release"]
    status = workbench("status", "--profile", str(v.path), "--json", timeout=60)
    fields = json.loads(status.stdout.splitlines()[0])["fields"]
    assert fields["unit"] == "active/running"
    assert fields["release"] == two and fields["previous"] == one
    assert fields["artifact"] == "two.hvt"
    assert fields["uptime_s"] >= 0 and fields["restarts"] == 0
    assert fields["memory_kib"] > 0
    assert fields["arch"] == "x86_64" and fields["kvm"] == "ok"
    assert set(fields["last_boot"]) >= {"banner", "memory_map", "healthy"}

    result = workbench("rollback", "--profile", str(v.path), timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"rolled back to {one}" in result.stdout
    assert on_target(f"readlink {v.release_dir}/current").stdout.strip() == f"releases/{one}"
    # And forward again: previous now points at the newer release.
    result = workbench("rollback", "--profile", str(v.path), timeout=120)
    assert result.returncode == 0, result.stderr
    assert on_target(f"readlink {v.release_dir}/current").stdout.strip() == f"releases/{two}"


def test_rollback_without_previous_release(v, tmp_path):
    assert deploy(v, artifact(tmp_path, "only", HEALTHY), "--quiet")[0] == 0
    result = workbench("rollback", "--profile", str(v.path), timeout=60)
    assert result.returncode == 4
    assert "no previous release to roll back to" in result.stderr


def test_restart_again_and_again_is_not_refused_by_the_start_limit(v, tmp_path):
    """The unit allows 5 starts a minute (a crash loop stops); an operator's restarts, deploys
    and rollbacks must not run into it."""
    assert deploy(v, artifact(tmp_path, "up", HEALTHY), "--quiet")[0] == 0
    for _ in range(6):
        result = workbench("restart", "--profile", str(v.path), "--json", timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
    done = json.loads(result.stdout.splitlines()[-1])
    assert done["event"] == "host_done" and done["summary"].endswith("healthy")
    assert any(
        e["event"] == "boot_phase" and e["phase"] == "banner" for e in json_events(result.stdout)
    )


def test_restart_with_nothing_deployed(v):
    result = workbench("restart", "--profile", str(v.path), timeout=60)
    assert result.returncode == 4
    assert "nothing deployed on target" in result.stderr
    assert f"deploy first: workbench deploy --profile {v.name}" in result.stderr
