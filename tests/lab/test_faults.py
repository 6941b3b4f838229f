"""The fault matrix (docs/RELIABILITY.md): each case breaks a deploy or a follow on the lab's real
target, then checks that nothing was lost (the current release is whole and is the old or the
new one, never a partial one) and measures how long the recovery took (the next deploy, or the
follower's catch-up). Figures go to $WORKBENCH_FAULTS_OUT (JSON lines) when it is set; the
assertions never depend on them."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
import zlib
from pathlib import Path

import pytest

from tests.lab.deploykit import (
    HEALTHY,
    ROOT,
    after_reconnect,
    artifact,
    assert_followed_without_loss,
    cli,
    deploy,
    deploy_acting,
    deploy_args,
    failures,
    followed,
    json_events,
    on_target,
    remove,
    tender,
    throttled,
    variant,
    wait_for,
)
from workbench.lab import config

pytestmark = pytest.mark.lab


def record(case: str, **figures: object) -> None:
    out = os.environ.get("WORKBENCH_FAULTS_OUT")
    if out:
        with Path(out).open("a") as fh:
            fh.write(json.dumps({"case": case, **figures}) + "\n")


@pytest.fixture
def v(lab, tmp_path, request):
    var = variant(tmp_path, zlib.crc32(request.node.nodeid.encode()) % 20 + 80)
    remove(var)
    yield var
    remove(var)


CHECK_RELEASE = r"""
import hashlib, json, os, sys
cur = os.path.realpath(sys.argv[1])
meta = json.load(open(os.path.join(cur, "release.json")))
def sha(name):
    return hashlib.sha256(open(os.path.join(cur, name), "rb").read()).hexdigest()
(kernel,) = [f for f in os.listdir(cur) if f.endswith((".hvt", ".spt"))]
assert sha(kernel) == meta["artifact"]["sha256"], "kernel"
assert sha("solo5-hvt") == meta["tender"]["sha256"], "tender"
print(os.path.basename(cur))
"""


def whole_and_current(v) -> str:
    """The release `current` points at, after checking that its kernel and tender match the
    sha256 recorded in its release.json when it was made."""
    result = on_target(f"python3 -c {shlex.quote(CHECK_RELEASE)} {v.release_dir}/current")
    assert result.returncode == 0, f"current is not a whole release: {result.stderr}"
    return result.stdout.strip()


def timed_deploy(v, art: Path) -> float:
    start = time.monotonic()
    code, _events, err = deploy(v, art)
    assert code == 0, err
    return round(time.monotonic() - start, 2)


def _kill_when(v, art: Path, when) -> list[dict]:
    """A deploy SIGKILLed at the first event `when` holds for; its events until then."""
    code, events = deploy_acting(v.path, art, when, lambda p: p.send_signal(signal.SIGKILL))
    assert code == -signal.SIGKILL
    return events


def _act_at(v, art: Path, step: str, act, *, finished: bool = False) -> list[dict]:
    """A deploy during which `act()` runs when `step` starts (or finishes); all its events."""
    kind = "step_finished" if finished else "step_started"
    return deploy_acting(
        v.path, art, lambda e: e["event"] == kind and e["step"] == step, lambda _p: act()
    )[1]


def test_kill_9_mid_upload(v, tmp_path):
    old = artifact(tmp_path, "old", HEALTHY)
    timed_deploy(v, old)
    before = whole_and_current(v)
    big = artifact(tmp_path, "big", HEALTHY, pad=24 * 1024 * 1024)
    with throttled(config.TARGET.veth):
        events = _kill_when(
            v, big, lambda e: e["event"] == "upload_progress" and e["done"] > 2 * 1024 * 1024
        )
    assert any(e["event"] == "upload_progress" for e in events)
    assert whole_and_current(v) == before  # the old release runs on, whole
    assert on_target(f"systemctl is-active {v.unit}").stdout.strip() == "active"
    recovery = timed_deploy(v, big)
    new = whole_and_current(v)
    assert new != before
    leftovers = on_target(f"ls -A {v.release_dir}/releases").stdout.split()
    assert not [e for e in leftovers if e.startswith(".")], leftovers
    record("kill -9 mid-upload", lost="nothing", recovery_deploy_s=recovery)


MOMENTS = {
    # the switch and the restart run shielded from Ctrl-C, but not from SIGKILL
    "as the switch starts": lambda e: e["event"] == "step_started" and e["step"] == "switch",
    "during the boot check": lambda e: e["event"] == "step_finished" and e["step"] == "switch",
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_kill_9_mid_switch(v, tmp_path, moment):
    old = artifact(tmp_path, "old", HEALTHY)
    timed_deploy(v, old)
    before = whole_and_current(v)
    new_art = artifact(tmp_path, "new", {**HEALTHY, "logs": [{"msg": "v2"}]})
    _kill_when(v, new_art, MOMENTS[moment])
    after = whole_and_current(v)  # old or new, but whole either way
    assert after in _releases(v)
    recovery = timed_deploy(v, new_art)
    assert whole_and_current(v) != before
    assert on_target(f"systemctl is-active {v.unit}").stdout.strip() == "active"
    record(
        f"kill -9 {moment}",
        lost="nothing",
        current_after_kill="old" if after == before else "new",
        recovery_deploy_s=recovery,
    )


def _releases(v) -> list[str]:
    return [
        e
        for e in on_target(f"ls -A {v.release_dir}/releases").stdout.split()
        if not e.startswith(".")
    ]


def test_disk_full(lab, tmp_path):
    """A small filesystem under the releases root: a release that cannot fit is refused by
    preflight; one that fills the disk while it uploads (another process takes the space)
    fails cleanly; neither touches the running release."""
    v = variant(tmp_path, 79)
    root = "/srv/wb-small"
    text = v.path.read_text()
    assert "releases:\n  keep: 3\n" in text
    v.path.write_text(text.replace("releases:\n", f"releases:\n  root: {root}\n"))
    release_dir = f"{root}/{v.name}"
    remove(v)
    on_target(f"mkdir -p {root} && mount -t tmpfs -o size=64m tmpfs {root}")
    try:
        code, _events, err = deploy(v, artifact(tmp_path, "small", HEALTHY))
        assert code == 0, err
        before = on_target(f"readlink {release_dir}/current").stdout.strip()

        huge = artifact(tmp_path, "huge", HEALTHY, pad=60 * 1024 * 1024)
        code, events, err = deploy(v, huge)
        assert code == 4 and "preflight: disk:" in err, err
        assert "upload" not in {e["step"] for e in events if e["event"] == "step_started"}
        record("disk too small for the release", lost="nothing", refused_by="preflight")

        fill = (
            f"avail=$(df --output=avail -BM {root} | tail -1 | tr -dc 0-9); "
            f"dd if=/dev/zero of={root}/filler bs=1M count=$((avail - {{leave}})) 2>/dev/null; true"
        )
        big = artifact(tmp_path, "big", HEALTHY, pad=16 * 1024 * 1024)
        # Another process takes the space as the upload starts (preflight saw enough).
        with throttled(config.TARGET.veth):
            events = _act_at(v, big, "upload", lambda: on_target(fill.format(leave=2)))
        message = failures(events)
        assert "no space left on the file system holding" in message, message
        assert [e["exit_code"] for e in events if e["event"] == "step_failed"] == [4]
        assert on_target(f"readlink {release_dir}/current").stdout.strip() == before
        assert on_target(f"systemctl is-active {v.unit}").stdout.strip() == "active"
        on_target(f"rm -f {root}/filler")
        start = time.monotonic()
        code, _events, err = deploy(v, big)
        assert code == 0, err
        leftovers = on_target(f"ls -A {release_dir}/releases").stdout.split()
        assert not [e for e in leftovers if e.startswith(".")], leftovers
        record(
            "disk filled as the upload starts",
            lost="nothing",
            error=message.strip().splitlines()[0],
            recovery_deploy_s=round(time.monotonic() - start, 2),
        )

        # The disk fills while the new release boots: it is switched and healthy, so the
        # deploy has succeeded; only its boot timings cannot be written.
        on_target(f"rm -f {root}/filler")
        events = _act_at(
            v,
            artifact(tmp_path, "v3", {**HEALTHY, "logs": [{"msg": "v3"}]}),
            "switch",
            lambda: on_target(fill.format(leave=0)),
            finished=True,
        )
        done = [e for e in events if e["event"] == "host_done"][-1]
        assert done["ok"], failures(events)
        assert "boot timings not recorded" in done["summary"]
        assert not on_target(f"ls {release_dir}/*.workbench-tmp 2>/dev/null").stdout
        record("disk filled while the new release boots", lost="nothing", exit_code=0)
        on_target(f"rm -f {root}/filler")
    finally:
        on_target(
            f"systemctl disable --now {v.unit} 2>/dev/null; umount {root}; "
            f"rm -f /etc/systemd/system/{v.unit}; systemctl daemon-reload"
        )
        remove(v)


def test_two_deploys_racing(v, tmp_path):
    """B starts while A holds the host's deploy lock (A is uploading): B is refused with who
    holds it and changes nothing; A completes. The host ends whole on A's release."""
    a = artifact(tmp_path, "a", HEALTHY, pad=4 * 1024 * 1024)
    b = artifact(tmp_path, "b", {**HEALTHY, "logs": [{"msg": "b"}]})
    second: list[subprocess.CompletedProcess[str]] = []

    def start_b(_proc: subprocess.Popen[str]) -> None:
        second.append(
            subprocess.run(
                cli(*deploy_args(v.path, b, tender())),
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
            )
        )

    with throttled(config.TARGET.veth):  # A's upload lasts long enough for B to run whole
        code, events = deploy_acting(
            v.path, a, lambda e: e["event"] == "upload_progress" and e["done"] > 0, start_b
        )
    assert code == 0, failures(events)
    (b_run,) = second
    assert b_run.returncode == 4, b_run.stdout + b_run.stderr
    message = failures(json_events(b_run.stdout))
    assert f"another deploy of '{v.name}' is running on this host" in message, message
    assert not [
        e for e in json_events(b_run.stdout) if e["event"] == "step_finished" and e["changed"]
    ]
    assert whole_and_current(v) == events[-1]["release"]
    assert on_target(f"systemctl is-active {v.unit}").stdout.strip() == "active"
    codes = [code, b_run.returncode]
    record("two deploys racing", lost="nothing", exit_codes=codes)


def test_sshd_restarted_during_logs_follow(v, tmp_path):
    chatty = {**HEALTHY, "spam": {"rate": 50}}
    assert deploy(v, artifact(tmp_path, "chatty", chatty), "--quiet")[0] == 0
    out_path = tmp_path / "follow.jsonl"
    with out_path.open("w") as out_file:
        follower = subprocess.Popen(
            cli("logs", "--profile", str(v.path), "--follow", "--lines", "0", "--json"),
            cwd=ROOT,
            stdout=out_file,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: len(followed(out_path)) >= 50, "the follower's first lines")
        cut_at = time.monotonic()
        # A restarted sshd keeps its sessions; a real restart after an upgrade or a crash
        # does not: restart it and end every session but this command's own.
        on_target(
            "systemctl restart ssh; "
            "for p in $(pgrep -f 'sshd: root@notty'); do [ $p = $PPID ] || kill $p; done"
        )
        wait_for(lambda: after_reconnect(followed(out_path)), "a line after reconnecting", 30)
        caught_up = round(time.monotonic() - cut_at, 2)
        wait_for(lambda: len(after_reconnect(followed(out_path))) >= 100, "100 lines after it")
        follower.send_signal(signal.SIGINT)
        _, err = follower.communicate(timeout=30)
    events = [json.loads(x) for x in out_path.read_text().splitlines() if x.startswith("{")]
    assert any(e["step"] == "reconnect" for e in events), err
    got = assert_followed_without_loss(v, events)
    record(
        "sshd restarted during logs -f",
        lost="nothing",
        duplicated=0,
        lines_seen=len(got),
        reconnected_within_s=caught_up,
    )
