"""workbench deploy against the lab's real target: sshd, SFTP, systemd, journald, tap, bridge."""

from __future__ import annotations

import subprocess
import time
import zlib

import pytest

from tests.lab.deploykit import (
    CRASHES,
    HEALTHY,
    ROOT,
    artifact,
    cli,
    deploy,
    deploy_args,
    failures,
    json_events,
    on_target,
    remove,
    steps,
    tender,
    throttled,
    variant,
    wait_for,
)
from workbench.lab import config

pytestmark = pytest.mark.lab


@pytest.fixture
def v(lab, tmp_path, request):
    var = variant(tmp_path, zlib.crc32(request.node.nodeid.encode()) % 40 + 10)
    remove(var)
    yield var
    remove(var)


def test_deploy_then_redeploy_changes_nothing(v, tmp_path):
    art = artifact(tmp_path, "app", HEALTHY)
    code, events, err = deploy(v, art)
    assert code == 0, err
    done = steps(events)
    assert done["upload"]["changed"] and done["unit"]["changed"] and done["network"]["changed"]
    assert done["restart"]["changed"]
    health = [e for e in events if e["event"] == "health_result"]
    assert health[-1]["ok"] and health[-1]["target"].endswith(f"10.0.{v.net}.2:8080/health")
    phases = [e["phase"] for e in events if e["event"] == "boot_phase"]
    assert phases[:2] == ["banner", "memory_map"]
    # "boot: banner after ..." follows the banner's ASCII art, never inside it.
    banner_at = next(i for i, e in enumerate(events) if e.get("phase") == "banner")
    ascii_art = [i for i, e in enumerate(events) if e.get("kind") == "banner"]
    assert ascii_art and max(ascii_art) < banner_at, (ascii_art, banner_at)
    lines = [e["text"] for e in events if e["event"] == "log_line"]
    assert "[application] serving HTTP on port 8080" in "\n".join(lines)
    release = events[-1]["release"]
    state = on_target(
        f"systemctl is-active {v.unit}; readlink {v.release_dir}/current; "
        f"stat -c %Y /etc/systemd/system/{v.unit} {v.release_dir}/current "
        f"/etc/systemd/network/10-workbench-{v.tap}.netdev; "
        f"systemctl show -P NRestarts {v.unit}"
    ).stdout.split()
    assert state[0] == "active" and state[1] == f"releases/{release}"

    code, events2, err = deploy(v, art)
    assert code == 0, err
    assert not [e for e in events2 if e["event"] == "step_finished" and e["changed"]]
    assert events2[-1]["summary"].endswith("already deployed; nothing to do")
    again = on_target(
        f"systemctl is-active {v.unit}; readlink {v.release_dir}/current; "
        f"stat -c %Y /etc/systemd/system/{v.unit} {v.release_dir}/current "
        f"/etc/systemd/network/10-workbench-{v.tap}.netdev; "
        f"systemctl show -P NRestarts {v.unit}"
    ).stdout.split()
    assert again == state  # same files (mtimes), same release, no restart
    main_pid = on_target(f"systemctl show -P MainPID {v.unit}").stdout
    assert main_pid.strip() not in ("", "0")


def test_crashing_release_is_rolled_back(v, tmp_path):
    good = artifact(tmp_path, "good", HEALTHY)
    code, events, err = deploy(v, good)
    assert code == 0, err
    good_release = events[-1]["release"]
    bad = artifact(tmp_path, "bad", CRASHES)
    code, events, err = deploy(v, bad)
    assert code == 8, err
    rolled = [e for e in events if e["event"] == "rolled_back"]
    assert rolled and rolled[0]["to_release"] == good_release
    # What failed is the new release's health; the rollback's own check passed, under its name.
    checks = [(e["step"], e["ok"]) for e in events if e["event"] == "health_result"]
    assert checks == [("health", False), ("rollback", True)]
    assert [e["step"] for e in events if e["event"] == "step_failed"] == ["health"]
    assert rolled[0]["reason"] == 'Fatal error: exception Failure("Invalid_argument boom")'
    lines = "\n".join(e["text"] for e in events if e["event"] == "log_line")
    # An uncaught OCaml exception on Solo5: the runtime's line, then exit(2) -> solo5_exit(2).
    assert (
        'Fatal error: exception Failure("Invalid_argument boom")\nSolo5: solo5_exit(2) called'
        in (lines)
    )
    # ...and systemd's word on how it ended, between the failed boot and the rollback's.
    assert "unikernel-t" in lines and "Main process exited, code=exited, status=2/" in lines
    assert "rolled back to" in err and "healthy again" in err
    state = on_target(f"readlink {v.release_dir}/current; systemctl is-active {v.unit}")
    assert state.stdout.split() == [f"releases/{good_release}", "active"]


def test_wrong_arch_is_refused_before_copying(v, tmp_path):
    arm = artifact(tmp_path, "arm", HEALTHY, arch="aarch64")
    code, events, err = deploy(v, arm)
    assert code == 7
    assert "preflight: arch: host x86_64, unikernel aarch64" in err
    assert "build the unikernel on an x86_64 builder" in err
    assert "upload" not in steps(events)
    assert (
        on_target(f"test -e {v.release_dir}/releases && echo yes || echo no").stdout.strip() == "no"
    )


def test_service_user_without_kvm(lab, tmp_path):
    v = variant(tmp_path, 60, user="nokvm")
    remove(v)
    on_target("id nokvm >/dev/null 2>&1 || useradd --system --no-create-home nokvm")
    try:
        code, events, err = deploy(v, artifact(tmp_path, "app", HEALTHY))
        assert code == 4
        assert "nokvm cannot open it" in err
        assert "usermod -aG kvm nokvm" in err
        assert "upload" not in steps(events)
    finally:
        on_target("userdel nokvm")
        remove(v)


def test_missing_tap_is_recreated(v, tmp_path):
    art = artifact(tmp_path, "app", HEALTHY)
    assert deploy(v, art)[0] == 0
    on_target(f"systemctl stop {v.unit}; ip link del {v.tap}")
    code, events, err = deploy(v, art)
    assert code == 0, err
    assert steps(events)["network"]["changed"]
    assert steps(events)["restart"]["changed"]  # the unit was not running
    assert [e for e in events if e["event"] == "health_result"][-1]["ok"]


def test_unknown_and_changed_host_keys(v, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    text = v.path.read_text().replace(str(config.KNOWN_HOSTS), str(empty))
    v.path.write_text(text)
    art = artifact(tmp_path, "app", HEALTHY)
    code, _events, err = deploy(v, art)
    assert code == 3
    assert "unknown host key for 10.213.0.2: ssh-ed25519 SHA256:" in err
    assert "--accept-new-host-key" in err
    assert empty.read_text() == ""  # never written without the opt-in

    # A changed key: known_hosts holds the builder's key under the target's address.
    builder_key = next(
        line.split(" ", 1)[1]
        for line in config.KNOWN_HOSTS.read_text().splitlines()
        if line.startswith(config.BUILDER.address + " ")
    )
    empty.write_text(f"{config.TARGET.address} {builder_key}\n")
    code, _events, err = deploy(v, art, "--accept-new-host-key")
    assert code == 3
    assert "has CHANGED" in err and "ssh-keygen -R 10.213.0.2" in err

    empty.write_text("")
    code, _events, err = deploy(v, art, "--accept-new-host-key")
    assert code == 0, err
    assert empty.read_text().startswith("10.213.0.2 ssh-ed25519 ")


def test_connection_cut_mid_upload_leaves_no_partial_release(v, tmp_path):
    small = artifact(tmp_path, "small", HEALTHY)
    assert deploy(v, small)[0] == 0
    before = on_target(f"readlink {v.release_dir}/current").stdout.strip()
    big = artifact(tmp_path, "big", HEALTHY, pad=24 * 1024 * 1024)
    # 40 Mbit/s towards the target: a ~5 s upload, long enough to cut in the middle.
    with throttled(config.TARGET.veth):
        proc = subprocess.Popen(
            cli(*deploy_args(v.path, big, tender())),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        cut = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            size = on_target(f"du -sb {v.release_dir}/releases/.incoming-* 2>/dev/null")
            if size.stdout.strip() and int(size.stdout.split()[0]) > 4 * 1024 * 1024:
                on_target("pkill -f sftp-server")  # the transfer's server side dies mid-copy
                cut = True
                break
            time.sleep(0.1)
        out, err = proc.communicate(timeout=120)
    assert cut, "the upload finished before it could be cut"
    events = json_events(out)
    text = failures(events)
    assert proc.returncode == 3, text + err
    assert "upload to 10.213.0.2 failed" in text and "was not switched to" in text
    after = on_target(f"readlink {v.release_dir}/current; ls -A {v.release_dir}/releases")
    current, *entries = after.stdout.split()
    assert current == before
    assert [e for e in entries if not e.startswith(".")] == [before.split("/")[1]]
    # The next deploy cleans the leftovers and completes.
    code, _events, err = deploy(v, small)
    assert code == 0, err
    leftovers = on_target(f"ls -A {v.release_dir}/releases").stdout.split()
    assert not [e for e in leftovers if e.startswith(".")]


def test_ifupdown_backend_with_nat(lab, tmp_path):
    """The classic Debian/Pi setup: interfaces.d stanzas, ifup, NAT rules loaded by post-up."""
    v = variant(tmp_path, 95)
    v.path.write_text(v.path.read_text().replace("backend: systemd-networkd", "backend: ifupdown"))
    remove(v)
    try:
        code, events, err = deploy(v, artifact(tmp_path, "app", HEALTHY), "--quiet")
        assert code == 0, err
        assert steps(events)["network"]["detail"].startswith("ifupdown")
        state = on_target(
            f"cat /etc/network/interfaces.d/workbench-{v.bridge} >/dev/null && echo file; "
            f"ip -br addr show {v.bridge}; "
            f"bridge link show dev {v.tap} | grep -c 'master {v.bridge}'; "
            f"nft list table ip workbench_{v.bridge} | grep -c masquerade; "
            "sysctl -n net.ipv4.ip_forward"
        ).stdout.split("\n")
        assert state[0] == "file"
        assert f"10.0.{v.net}.1/24" in state[1]
        assert state[2:5] == ["1", "1", "1"]
        code, events, err = deploy(v, artifact(tmp_path, "app", HEALTHY), "--quiet")
        assert code == 0 and not steps(events)["network"]["changed"], err
    finally:
        on_target(
            f"ifdown --force {v.bridge} {v.tap} 2>/dev/null; "
            f"rm -f /etc/network/interfaces.d/workbench-{v.bridge} "
            f"/etc/network/interfaces.d/workbench-{v.bridge}-{v.tap} "
            f"/etc/workbench/nat-{v.bridge}.nft"
        )
        remove(v)


def test_a_local_user_cannot_block_deploys_through_the_lock(v, tmp_path):
    """The lock used to live in world-writable /run/lock, where any user could hold it."""
    holder = on_target(
        f"nohup setpriv --reuid=nobody --regid=nogroup --clear-groups "
        f"flock /run/lock/workbench-{v.name}.lock sleep 120 >/dev/null 2>&1 & echo $!"
    ).stdout.strip()
    try:
        code, _events, err = deploy(v, artifact(tmp_path, "app", HEALTHY))
        assert code == 0, err
        assert on_target("stat -c '%a %U' /run/workbench").stdout.split() == ["700", "root"]
    finally:
        on_target(f"kill {holder}")


def test_the_unikernel_comes_back_when_its_tap_comes_up_late(v, tmp_path):
    """What a reboot does: the unit starts while its tap exists but is still down (networkd
    brings it up a moment later). The tender refuses a tap that is down and exits 1, which
    the unit counts as a clean stop: before the wait, the unikernel stayed down after every
    reboot (found by the VM tier's reboot case)."""
    code, _events, err = deploy(v, artifact(tmp_path, "app", HEALTHY))
    assert code == 0, err
    on_target(
        f"systemctl stop {v.unit}; ip link set {v.tap} down; "
        f"(sleep 2; ip link set {v.tap} up) >/dev/null 2>&1 & "
        f"systemctl start {v.unit}"
    )
    # The unit waits for its tap in `activating`; then it runs, or fails if it did not wait.
    wait_for(
        lambda: on_target(f"systemctl is-active {v.unit}").stdout.strip() != "activating",
        "the unit to leave `activating`",
    )
    state = on_target(f"systemctl is-active {v.unit}; journalctl -u {v.unit} -n 30 -o cat")
    assert state.stdout.splitlines()[0] == "active", state.stdout
    assert "Network is down" not in state.stdout


def test_an_x86_64_artifact_goes_up_under_aes_gcm_and_other_connections_keep_the_default(
    v, tmp_path, monkeypatch
):
    """The cipher choice (remote/ciphers.py) as real sshd negotiates it: deploy's connection
    to the host it sends an x86_64 artifact to prefers AES-GCM; one that knows no arch (logs,
    status) keeps asyncssh's default order, as OpenSSH's clients keep theirs."""
    import asyncio

    from asyncssh.encryption import get_default_encryption_algs

    from workbench import profiles
    from workbench.engine.deploy import DeployOptions
    from workbench.engine.pipeline import deploy_all
    from workbench.engine.release import jobs
    from workbench.remote import ciphers
    from workbench.remote.connection import Pool

    monkeypatch.setattr(ciphers, "ssh_config_text", lambda: "")  # not this machine's own
    loaded = profiles.load(v.path)
    todo = jobs(loaded, (), str(artifact(tmp_path, "a", HEALTHY)), str(tender()))

    async def go() -> tuple[list, str, str]:
        pool, other = Pool(loaded.profile.hosts), Pool(loaded.profile.hosts)
        try:
            events = [e async for e in deploy_all(todo, pool, ["target"], DeployOptions())]
            used = (await pool.get("target").connection()).get_extra_info("send_cipher")
            plain = (await other.get("target").connection()).get_extra_info("send_cipher")
            return events, used, plain
        finally:
            await pool.close()
            await other.close()

    events, used, plain = asyncio.run(go())
    assert events[-1].ok, events[-1]
    assert used == "aes256-gcm@openssh.com"
    assert plain == get_default_encryption_algs()[0].decode()


def test_a_redeploy_brings_back_a_unit_stopped_behind_its_back(v, tmp_path):
    """The facts, read under the lock, say the unit is down: the redeploy uploads nothing and
    starts it again, health-checked. (With the unit up, a no-op takes its state from those
    facts too, without another round trip: test_deploy_then_redeploy_changes_nothing.)"""
    art = artifact(tmp_path, "app", HEALTHY)
    code, _events, err = deploy(v, art)
    assert code == 0, err
    on_target(f"systemctl stop {v.unit}")
    code, events, err = deploy(v, art)
    assert code == 0, err
    done = steps(events)
    assert not done["upload"]["changed"] and done["restart"]["changed"]
    assert [e for e in events if e["event"] == "health_result"][-1]["ok"]
    assert on_target(f"systemctl is-active {v.unit}").stdout.strip() == "active"


def test_following_after_another_units_cursor_starts_at_this_units_first_line(lab):
    """Before a restart, deploy takes the journal's newest cursor, often another unit's (sshd's
    session). systemd 252's --after-cursor with such a cursor skips the first entry of the
    followed unit (measured on Debian 12: a deploy's events began at "solo5-hvt: Exiting on
    signal 15", without systemd's "Stopping ..."). journal_argv + entries(after=) must not."""
    import asyncio

    from workbench import profiles
    from workbench.remote import journal
    from workbench.remote.connection import Pool

    unit = "wb-cursor-test.service"
    loaded = profiles.load(ROOT / "profiles" / "lab.yaml")

    async def go() -> list[str]:
        pool = Pool(loaded.profile.hosts)
        try:
            conn = pool.get("target")
            await conn.run(["logger", "-t", "wb-cursor-marker", "not the unit's entry"])
            cursor = await journal.current_cursor(conn)
            assert cursor is not None
            script = "echo line-one; echo line-two"
            await conn.run(
                ["systemd-run", f"--unit={unit}", "--collect", "--wait", "-q", "sh", "-c", script]
            )
            argv = journal.journal_argv(unit, after_cursor=cursor, follow=False)
            return [e.message async for e in journal.entries(conn, argv, after=cursor)]
        finally:
            await pool.close()

    messages = asyncio.run(go())
    assert messages[0].startswith(f"Started {unit}"), messages
    assert messages[1:3] == ["line-one", "line-two"], messages
