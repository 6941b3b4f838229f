"""The lab's real hosts: what a deploy and a build will rely on, checked over real SSH."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from workbench import profiles
from workbench.examples import HELLO
from workbench.lab import config, hostkeys, manager, network

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]


def ssh(host: str, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*hostkeys.ssh_argv(config.HOSTS[host].address), command],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_status_reports_both_hosts(lab):
    status = manager.status()
    assert status["target"]["systemd"] == "running"
    assert status["builder"]["image"] == "workbench-lab/opam-double:latest"
    assert all(h["ssh"] for h in status.values())


def test_up_again_is_idempotent_and_fast(lab):
    before = {h: ssh(h, "cat /proc/1/stat").stdout.split()[21] for h in config.HOSTS}
    state = manager.up(progress=lambda _m: None)
    after = {h: ssh(h, "cat /proc/1/stat").stdout.split()[21] for h in config.HOSTS}
    assert before == after  # same hosts (PID 1 start times), not rebuilt
    assert state["timings"]["total"] < 300  # only catches a hang; the time is a figure, not a test


def test_profile_matches_the_lab():
    p = profiles.load("lab", cwd=ROOT).profile
    for name, host in config.HOSTS.items():
        assert p.hosts[name].address == host.address
        assert p.hosts[name].identity_file == config.KEY
        assert p.hosts[name].known_hosts == config.KNOWN_HOSTS


def test_host_keys_are_pinned(lab):
    """known_hosts has the real keys: strict checking passes, and a wrong key is refused."""
    assert ssh("target", "true").returncode == 0
    bogus = config.STATE_DIR / "bogus_known_hosts"
    lines = config.KNOWN_HOSTS.read_text().splitlines()
    key_of = {ln.split()[0]: ln.split(" ", 1)[1] for ln in lines}
    bogus.write_text(f"{config.TARGET.address} {key_of[config.BUILDER.address]}\n")
    argv = hostkeys.ssh_argv(config.TARGET.address)
    argv[argv.index(f"UserKnownHostsFile={config.KNOWN_HOSTS}")] = f"UserKnownHostsFile={bogus}"
    result = subprocess.run([*argv, "true"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 255
    assert "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!" in result.stderr
    assert "Host key verification failed." in result.stderr


def test_target_is_a_pi_like_systemd_host(lab):
    out = ssh(
        "target",
        "ps -o comm= 1; stat -c '%U:%G %a' /dev/kvm; stat -c %a /dev/net/tun; "
        "command -v ifup brctl networkctl journalctl ip nft python3; "
        "getent group kvm >/dev/null && echo kvm-group",
    ).stdout.split("\n")
    assert out[0] == "systemd"
    assert out[1] == "root:kvm 660"
    assert out[2] == "666"
    assert len([ln for ln in out[3:10] if ln.startswith("/")]) == 7
    assert "kvm-group" in out


def test_target_can_make_taps_bridges_and_run_units(lab):
    unit = f"wb-labtest-{uuid.uuid4().hex[:8]}"
    script = (
        "set -e; ip tuntap add wbt0 mode tap; ip link add wbbr0 type bridge; "
        "ip link set wbt0 master wbbr0; ip link del wbt0; ip link del wbbr0; "
        f"systemd-run --unit={unit} --wait -q -p SuccessExitStatus=1 "
        "sh -c 'echo lab-unit-ran; exit 1'; "
        f"journalctl -u {unit} -o cat --no-pager | grep -cx lab-unit-ran"
    )
    result = ssh("target", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def _build(src: Path, script: str) -> subprocess.CompletedProcess[str]:
    tar = subprocess.run(["tar", "-C", str(src), "-c", "."], capture_output=True, check=True)
    remote = (
        "set -e; d=$(mktemp -d); tar -C $d -x; chmod -R a+rwX $d; "
        "docker run --rm -v $d:/home/opam/src -w /home/opam/src "
        f"workbench-lab/opam-double:latest sh -c '{script}'"
    )
    return subprocess.run(
        [*hostkeys.ssh_argv(config.BUILDER.address), remote],
        input=tar.stdout,
        capture_output=True,
        timeout=300,
    )


def test_build_image_double_builds_the_example(lab, tmp_path):
    result = _build(
        HELLO,
        "opam install -y mirage >/dev/null && mirage configure -t hvt && "
        "make depend >/dev/null && make build && cat dist/hello.hvt > /dev/null && "
        "$(opam var bin)/solo5-hvt --version",
    )
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert "Your unikernel binary is now ready in ./dist/hello.hvt" in out
    assert "lab double" in result.stderr.decode()  # the tender says it is a double
    assert "solo5-hvt tender, version v0.12.1" in result.stderr.decode()


def test_build_image_double_fails_like_the_real_tools(lab, tmp_path):
    src = tmp_path / "bad"
    src.mkdir()
    (src / "config.ml").write_text('open Mirage\nlet () = register "bad" [ main $ (stack\n')
    result = _build(src, "opam install -y mirage >/dev/null && mirage configure -t hvt")
    assert result.returncode == 1
    assert 'File "config.ml", line 2' in result.stderr.decode()
    assert "Error: Syntax error" in result.stderr.decode()

    src2 = tmp_path / "bad2"
    src2.mkdir()
    (src2 / "config.ml").write_text((HELLO / "config.ml").read_text())
    (src2 / "unikernel.ml").write_text("let start () = workbench_lab_build_error ()\n")
    result = _build(
        src2,
        "opam install -y mirage >/dev/null && mirage configure -t hvt && "
        "make depend >/dev/null && make build",
    )
    assert result.returncode != 0
    err = result.stderr.decode()
    assert 'File "unikernel.ml", line 1, characters 15-40:' in err
    assert "Error: Unbound value workbench_lab_build_error" in err


def test_down_removes_everything_and_up_recovers(lab):
    manager.down(progress=lambda _m: None)
    assert not any(network.netns_exists(h.netns) for h in config.HOSTS.values())
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    assert "wblab" not in links
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(config.STATE_DIR) not in mounts
    assert not config.STATE_DIR.exists()
    assert any(config.CACHE_DIR.glob("rootfs-*"))  # the cache stays
    # A half-finished `up` (network made, hosts not started) is cleaned up by `down` too.
    network.bridge_up()
    network.host_up(config.TARGET)
    manager.down(progress=lambda _m: None)
    assert (
        "wblab" not in subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    )
    state = manager.up(progress=lambda _m: None)
    assert state["timings"]["total"] < 300  # only catches a hang
    assert manager.status()["target"]["systemd"] == "running"
