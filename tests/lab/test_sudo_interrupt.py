"""Deploy as a non-root user through sudo -n, and Ctrl-C at the worst moments."""

from __future__ import annotations

import hashlib
import signal
from pathlib import Path

import pytest

from tests.lab.deploykit import (
    HEALTHY,
    artifact,
    deploy,
    deploy_acting,
    on_target,
    remove,
    tender,
    throttled,
    variant,
)
from workbench.engine.release import release_id
from workbench.lab import config

pytestmark = pytest.mark.lab


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _as_user(v, user: str) -> None:
    text = v.path.read_text()
    block_start = text.index("  target:\n")
    block_end = text.index("  builder:\n")
    block = text[block_start:block_end].replace("    user: root\n", f"    user: {user}\n")
    v.path.write_text(text[:block_start] + block + text[block_end:])


def _make_user(name: str, sudoers: str, password: str | None = None) -> None:
    pub = config.KEY.with_suffix(".pub").read_text().strip()
    script = (
        f"id {name} >/dev/null 2>&1 || useradd -m -s /bin/sh {name}; "
        f"mkdir -p /home/{name}/.ssh; echo '{pub}' > /home/{name}/.ssh/authorized_keys; "
        f"chown -R {name}: /home/{name}/.ssh; chmod 700 /home/{name}/.ssh; "
        f"echo '{sudoers}' > /etc/sudoers.d/{name}; chmod 440 /etc/sudoers.d/{name}"
    )
    if password:
        script += f"; echo '{name}:{password}' | chpasswd"
    assert on_target(script).returncode == 0


def test_deploy_as_non_root_with_sudo(lab, tmp_path):
    v = variant(tmp_path, 90)
    remove(v)
    _make_user("deployer", "deployer ALL=(root) NOPASSWD: ALL")
    _as_user(v, "deployer")
    # What an upload cut earlier leaves behind in the sudo user's home: removed by the next one.
    stale = "/home/deployer/.cache/workbench/upload-t90-deadbeef"
    on_target(f"runuser -u deployer -- sh -c 'mkdir -p {stale} && touch {stale}/app.hvt'")
    assert on_target(f"test -f {stale}/app.hvt").returncode == 0
    try:
        code, events, err = deploy(v, artifact(tmp_path, "app", HEALTHY), "--quiet")
        assert code == 0, err
        assert any(e["step"] == "connect" and "(sudo)" in e.get("detail", "") for e in events)
        owner = on_target(
            f"stat -c %U {v.release_dir}/current/app.hvt 2>/dev/null || "
            f"stat -c %U {v.release_dir}/current/t90.hvt"
        )
        assert owner.stdout.strip() == "root"
        assert on_target("ls -A /home/deployer/.cache/workbench 2>/dev/null").stdout == ""
    finally:
        remove(v)
        on_target("rm -f /etc/sudoers.d/deployer; userdel -r deployer 2>/dev/null; true")


def test_sudo_that_wants_a_password_is_a_clear_error(lab, tmp_path):
    v = variant(tmp_path, 91)
    _make_user("asker", "asker ALL=(root) ALL", password="secret-not-used")
    _as_user(v, "asker")
    try:
        code, _events, err = deploy(v, artifact(tmp_path, "app", HEALTHY), "--quiet")
        assert code == 3
        assert "sudo on 10.213.0.2 wants a password for asker" in err
        assert "NOPASSWD" in err
    finally:
        on_target("rm -f /etc/sudoers.d/asker; userdel -r asker 2>/dev/null; true")


def _deploy_and_interrupt(v, art, when) -> tuple[int, list[dict]]:
    """Run deploy, send SIGINT when `when(event)` first holds; return exit code, events."""
    return deploy_acting(
        v.path, art, when, lambda p: p.send_signal(signal.SIGINT), extra=("--quiet",)
    )


def test_ctrl_c_leaves_old_or_new_never_between(lab, tmp_path):
    v = variant(tmp_path, 92)
    remove(v)
    try:
        first = artifact(tmp_path, "one", HEALTHY)
        code, events, err = deploy(v, first, "--quiet")
        assert code == 0, err
        one = events[-1]["release"]

        # Interrupted once the switch has begun: the switch and the restart are shielded, so
        # the host ends fully on the new release, started after the switch. A drop-in makes the
        # old run's stop last 3 s, so the interrupt lands inside the shielded part, not before.
        on_target(
            f"mkdir -p /etc/systemd/system/{v.unit}.d && printf '[Service]\\n"
            f"ExecStopPost=/bin/sleep 3\\n' > /etc/systemd/system/{v.unit}.d/slow-stop.conf "
            "&& systemctl daemon-reload"
        )
        second = artifact(tmp_path, "two", {**HEALTHY, "logs": [{"msg": "two"}]})
        code, events = _deploy_and_interrupt(
            v, second, lambda e: e["event"] == "step_started" and e["step"] == "switch"
        )
        assert code == 130
        two = release_id(sha256(second), sha256(tender()))
        state = on_target(
            f"readlink {v.release_dir}/current; systemctl is-active {v.unit}; "
            f"stat -c %Y {v.release_dir}/current; "
            f"systemctl show -P ExecMainStartTimestamp --timestamp=unix {v.unit}"
        ).stdout.split()
        assert state[:2] == [f"releases/{two}", "active"], (one, state)
        assert int(state[3].lstrip("@")) >= int(state[2]) - 1  # restarted after the switch
        on_target(f"rm -r /etc/systemd/system/{v.unit}.d && systemctl daemon-reload")

        # Interrupted in the middle of an upload: nothing switched, old release still running.
        before = on_target(f"readlink {v.release_dir}/current").stdout.strip()
        big = artifact(tmp_path, "big", HEALTHY, pad=16 * 1024 * 1024)
        with throttled(config.TARGET.veth):
            code, events = _deploy_and_interrupt(
                v,
                big,
                lambda e: e["event"] == "upload_progress" and e["done"] > 0,
            )
        assert code == 130
        after = on_target(f"readlink {v.release_dir}/current; systemctl is-active {v.unit}")
        assert after.stdout.split() == [before, "active"]
    finally:
        remove(v)
