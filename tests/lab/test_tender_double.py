"""The lab's solo5-hvt double against the real Solo5 v0.12.1 captures, case by case.

Each case runs the double with the captured command line, in the same situation (the same
devices in the artifact, the same tap state in a private network namespace), and compares the
merged output and the exit code with the capture. The double's one-line notice that it is a
double is the only difference allowed.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.reference import captures
from workbench.lab import solo5elf, tender_double

pytestmark = pytest.mark.lab
NOTICE = (
    "solo5-hvt: WARNING: this is the workbench lab double of solo5-hvt v0.12.1, not the real tender"
)
CAPTURES: dict[str, object] = {}
for _cap in captures():  # the first capture of a command wins (the reference repeats some)
    CAPTURES.setdefault(_cap.command, _cap)

EXITS_0 = {".workbench.lab.guest": b'{"exit": 0}'}  # like the release's test_hello
ARTIFACTS = {
    "test_hello.hvt": dict(devices=[], extra_sections=EXITS_0),
    "test_net.hvt": dict(devices=[("service0", "NET_BASIC")]),
    "test_net_2if.hvt": dict(devices=[("service0", "NET_BASIC"), ("service1", "NET_BASIC")]),
    "test_blk.hvt": dict(devices=[("storage", "BLOCK_BASIC")]),
    "test_hello.spt": dict(devices=[], target="spt"),
    "service.hvt": dict(devices=[("service", "NET_BASIC")]),
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("the lab tests run as root (namespaces, taps); see README")
    work = tmp_path_factory.mktemp("tender")
    (work / "solo5-hvt").write_bytes(tender_double.build().read_bytes())
    (work / "solo5-hvt").chmod(0o755)
    for name, kwargs in ARTIFACTS.items():
        solo5elf.write(work / name, **kwargs)
    return work


def run_in_netns(
    workdir: Path,
    setup: str,
    command: str,
    *,
    term_after: float | None = None,
    cleanup: str | None = None,
):
    """Run `command` (the capture's, minus `ip netns exec solo5ns`) in a new network namespace
    after the shell `setup` there; merged stdout+stderr as lines, and the exit status.
    `cleanup` runs afterwards, so nothing started by `setup` outlives the test."""
    argv = shlex.split(command)
    argv[0] = str(workdir / "solo5-hvt")
    if cleanup:
        script = f"{setup}\n{shlex.join(argv)}\nrc=$?\n{cleanup}\nexit $rc"
    else:
        script = f"{setup}\nexec {shlex.join(argv)}"
    proc = subprocess.Popen(
        ["unshare", "--net", "sh", "-c", script],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    if term_after is not None:
        time.sleep(term_after)
        os.kill(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    lines = out.decode().splitlines()
    assert lines and lines[0] == NOTICE, "the double must say once that it is a double"
    return lines[1:], proc.returncode


def check(workdir, command, setup="ip link set lo up", *, prefix=None):
    cap = CAPTURES[command]
    cmd = command.removeprefix("ip netns exec solo5ns ").split("   (")[0]
    lines, code = run_in_netns(workdir, setup, cmd)
    expected = list(cap.lines)
    if prefix is not None:  # a boot: the tender's part (banner, memory map); the guest differs
        assert lines[:prefix] == expected[:prefix]
        return
    assert lines == expected
    assert code == cap.exit_code


TAP_UP = "ip link set lo up; ip tuntap add tap100 mode tap; ip link set tap100 up"

CASES = [
    "./solo5-hvt --help",
    "./solo5-hvt --version",
    "./solo5-hvt",
    "./solo5-hvt --bogus test_hello.hvt",
    "./solo5-hvt --mem=64 -- test_net.hvt",
    "./solo5-hvt --mem=64 -- test_net_2if.hvt",
    "./solo5-hvt --mem=64 -- test_blk.hvt",
    "./solo5-hvt --net=tap100 --mem=64M -- test_net.hvt --ipv4=10.0.0.2/24",
    "./solo5-hvt --net:service0=tap100 --mem=64 -- test_hello.hvt",
    "./solo5-hvt --net:wrong0=tap100 --mem=64 -- test_net.hvt",
    "./solo5-hvt --mem=64 -- nonexistent.hvt",
    "./solo5-hvt --mem=64 -- test_hello.spt",
    "./solo5-hvt --mem=0 -- test_hello.hvt",
    "./solo5-hvt --mem=abc -- test_hello.hvt",
    "./solo5-hvt --mem=999999 -- test_hello.hvt",
    "./solo5-hvt --mem 64 -- test_hello.hvt",
    "./solo5-hvt --mem=64 --block:storage=/data/nothere.img -- test_blk.hvt",
    "./solo5-hvt --mem=64 --block:storage=/data/storage.img -- test_hello.hvt",
    "./solo5-hvt --mem=1 -- test_hello.hvt",
    "./solo5-hvt --mem=3 -- test_hello.hvt",
    "ip netns exec solo5ns ./solo5-hvt --net:service0=lo --mem=64 -- test_net.hvt",
    "ip netns exec solo5ns ./solo5-hvt --net:service0=averyveryverylongifname0 --mem=64 -- "
    "test_net.hvt",
    "ip netns exec solo5ns ./solo5-hvt --net:service0=@99 --mem=64 -- test_net.hvt",
    "./solo5-hvt --net=tap100 --mem=64M -- service.hvt --ipv4=10.0.0.2/24",
    "./solo5-hvt --mem=64M -- service.hvt --ipv4=10.0.0.2/24",
    "ip netns exec solo5ns ./solo5-hvt --net:service0=tap100 --mem=64M -- service.hvt "
    "--ipv4=10.0.0.2/24",
]


@pytest.mark.parametrize("command", CASES)
def test_matches_capture(workdir, command):
    setup = TAP_UP if "tap100" in command and "--net:" in command else "ip link set lo up"
    check(workdir, command, setup)


def test_missing_tap(workdir):
    check(
        workdir,
        "ip netns exec solo5ns ./solo5-hvt --net:service0=tap100 --mem=64 -- test_net.hvt",
        "ip link set lo up",
    )


def test_tap_down(workdir):
    down = next(c for c in captures() if "Network is down" in "".join(c.lines))
    lines, code = run_in_netns(
        workdir, "ip tuntap add tap100 mode tap", "x --net:service0=tap100 --mem=64 -- test_net.hvt"
    )
    assert lines == list(down.lines)
    assert code == down.exit_code


def test_tap_busy(workdir):
    """A second tender on the same tap: Device or resource busy -- twice, since --mem comes
    first, then the usage, exactly as the reference capture."""
    busy = next(c for c in captures() if "resource busy" in "".join(c.lines))
    setup = (
        TAP_UP + f"; {workdir}/solo5-hvt --mem=64 --net:service0=tap100 -- "
        f"{workdir}/test_net.hvt >/dev/null 2>&1 & first=$!; sleep 1"
    )
    lines, code = run_in_netns(
        workdir,
        setup,
        "x --mem=64 --net:service0=tap100 -- test_net.hvt",
        cleanup="kill $first; wait $first",
    )
    assert lines == list(busy.lines)
    assert code == busy.exit_code == 1


def test_boot_banner_and_memory_map(workdir):
    check(workdir, "./solo5-hvt --mem=64M -- test_hello.hvt Hello_Solo5", prefix=11)
    check(workdir, "./solo5-hvt --mem=64G -- test_hello.hvt", prefix=11)


def test_sigterm_exits_1_with_message(workdir):
    command = (
        "ip netns exec solo5ns ./solo5-hvt --net:service=tap100 --mem=64M -- service.hvt "
        "--ipv4=10.0.0.2/24   (then kill -TERM)"
    )
    cap = CAPTURES[command]
    lines, code = run_in_netns(
        workdir,
        TAP_UP,
        "x --net:service=tap100 --mem=64M -- service.hvt --ipv4=10.0.0.2/24",
        term_after=1.5,
    )
    assert lines[:11] == list(cap.lines[:11])  # banner and memory map
    assert lines[-1] == cap.lines[-1] == "solo5-hvt: Exiting on signal 15"
    assert code == cap.exit_code == 1


@pytest.fixture(scope="module", autouse=True)
def exit_artifacts(workdir):
    for status in (0, 2, 255, 300):
        solo5elf.write(
            workdir / f"exit{status}.hvt",
            extra_sections={".workbench.lab.guest": f'{{"exit": {status}}}'.encode()},
        )


def test_guest_exit_status_passthrough(workdir):
    for status, expected in ((0, 0), (2, 2), (255, 255), (300, 44)):
        path = workdir / f"exit{status}.hvt"
        lines, code = run_in_netns(workdir, "true", f"x --mem=64 -- {path.name} {status}")
        assert lines[-1] == f"Solo5: solo5_exit({status}) called"
        assert code == expected


def test_no_kvm(workdir):
    _, code = run_in_netns(workdir, "true", "x --mem=64 -- exit0.hvt")
    assert code == 0  # the same run with /dev/kvm present boots
    proc = subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            f"mount -t tmpfs none /dev && exec {workdir}/solo5-hvt --mem=64 -- "
            f"{workdir}/test_hello.hvt",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.stderr.splitlines()[1:] == [
        "solo5-hvt: Could not open: /dev/kvm: No such file or directory"
    ]
    assert proc.returncode == 1


HTTP_CLIENT = """
import socket, sys
s = socket.create_connection(("10.0.0.2", 8080), timeout=5)
s.sendall(b"GET /health HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
data = b""
while chunk := s.recv(4096):
    data += chunk
print(data.decode())
try:
    socket.create_connection(("10.0.0.2", 9999), timeout=5)
except ConnectionRefusedError:
    print("9999 refused")
"""


def test_guest_answers_ping_and_http_behind_the_tap(workdir):
    spec = (
        b'{"mirage": true, "logs": [{"msg": "listening on 8080"}], '
        b'"listen": [{"port": 8080, "http": {"/health": [200, "ok\\n"]}}]}'
    )
    solo5elf.write(
        workdir / "web.hvt",
        devices=[("service", "NET_BASIC")],
        extra_sections={".workbench.lab.guest": spec},
    )
    client = workdir / "client.py"
    client.write_text(HTTP_CLIENT)
    script = (
        f"{TAP_UP}; ip addr add 10.0.0.1/24 dev tap100\n"
        f"{workdir}/solo5-hvt --mem=64 --net:service=tap100 -- {workdir}/web.hvt "
        "--ipv4=10.0.0.2/24 > guest.log 2>&1 &\n"
        "guest=$!; sleep 1.5\n"
        "ping -c 1 -W 3 10.0.0.2 >/dev/null && echo ping ok\n"
        f"timeout 20 python3 {client}\n"
        "kill $guest; wait\n"
        "cat guest.log\n"
    )
    proc = subprocess.run(
        ["unshare", "--net", "sh", "-c", script],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = proc.stdout
    assert "ping ok" in out
    # The whole answer: its status line, then after the headers the body the spec gave.
    _before, status, answer = out.partition("HTTP/1.1 200 OK")
    assert status, out
    _headers, _blank, body = answer.partition("\n\n")
    assert body.startswith("ok\n"), out
    assert "9999 refused" in out
    assert "[INFO] [application] listening on 8080" in out
    assert "[INFO] [http] GET /health 200" in out
    assert out.rstrip().endswith("solo5-hvt: Exiting on signal 15")


def test_artifact_for_another_arch_is_refused(workdir):
    solo5elf.write(workdir / "arm.hvt", arch="aarch64")
    lines, code = run_in_netns(workdir, "true", "x --mem=64 -- arm.hvt")
    assert lines == [
        "solo5-hvt: arm.hvt: invalid executable: invalid or unsupported executable "
        "(elf header invalid while loading note)"
    ]
    assert code == 1
