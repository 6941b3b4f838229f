"""The lab's solo5-hvt double against the real Solo5 v0.12.1 captures, case by case.

Each case runs the double with the captured command line, in the same situation (the same
devices in the artifact, the same tap state in a private network namespace), and compares the
merged output and the exit code with the capture. The double's one-line notice that it is a
double is the only difference allowed.
"""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reference import captures
from workbench.bootlog import classify
from workbench.lab import solo5elf, tender_double

pytestmark = pytest.mark.lab
HANG = 20.0  # seconds: only a hung double takes this long; every wait ends on a condition


def notice(prog: str) -> str:
    return (
        f"{prog}: WARNING: this is the workbench lab double of {prog} v0.12.1, not the real tender"
    )


NOTICE = notice("solo5-hvt")
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
    "test_net.spt": dict(devices=[("service0", "NET_BASIC")], target="spt"),
    "service.hvt": dict(devices=[("service", "NET_BASIC")]),
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("the lab tests run as root (namespaces, taps); see README")
    work = tmp_path_factory.mktemp("tender")
    for prog in ("solo5-hvt", "solo5-spt"):  # the double plays the tender it is named after
        (work / prog).write_bytes(tender_double.build().read_bytes())
        (work / prog).chmod(0o755)
    for name, kwargs in ARTIFACTS.items():
        solo5elf.write(work / name, **kwargs)
    return work


def read_until(proc: subprocess.Popen, done: Callable[[list[str]], bool]) -> tuple[list, bytes]:
    """The complete lines `proc` has printed, read until `done(lines)` holds (what a test waits
    for: a banner, a boot line), and the start of a line read with them; fails if that takes
    HANG seconds or the output ends first."""
    assert proc.stdout is not None
    fd, lines, rest = proc.stdout.fileno(), [], b""
    end = time.monotonic() + HANG
    while not done(lines):
        left = end - time.monotonic()
        assert left > 0 and select.select([fd], [], [], left)[0], f"no progress: {lines}"
        chunk = os.read(fd, 65536)
        assert chunk, f"output ended before the condition: {lines}"
        *complete, rest = (rest + chunk).split(b"\n")
        lines += [line.decode() for line in complete]
    return lines, rest


def run_in_netns(
    workdir: Path,
    setup: str,
    command: str,
    *,
    term_when: Callable[[list[str]], bool] | None = None,
    cleanup: str | None = None,
):
    """Run `command` (the capture's, minus `ip netns exec solo5ns`) in a new network namespace
    after the shell `setup` there; merged stdout+stderr as lines, and the exit status (negative:
    the signal that killed it). With `term_when`, SIGTERM as soon as the output satisfies it.
    `cleanup` runs afterwards, so nothing started by `setup` outlives the test."""
    argv = shlex.split(command)
    prog = "solo5-spt" if "solo5-spt" in argv[0] else "solo5-hvt"
    argv[0] = str(workdir / prog)
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
    early: list[str] = []
    rest = b""
    if term_when is not None:
        early, rest = read_until(proc, term_when)
        os.kill(proc.pid, signal.SIGTERM)  # the shell exec'd the double: this is the double
    out, _ = proc.communicate(timeout=HANG)
    lines = early + (rest + out).decode().splitlines()
    assert lines and lines[0] == notice(prog), "the double must say once that it is a double"
    return lines[1:], proc.returncode


def check(workdir, command, setup="ip link set lo up"):
    cap = CAPTURES[command]
    cmd = command.removeprefix("ip netns exec solo5ns ").split("   (")[0]
    lines, code = run_in_netns(workdir, setup, cmd)
    assert lines == list(cap.lines)
    assert code == cap.exit_code


BOOT = 11  # banner, bindings version, memory map: what the bindings print before the guest runs
MIRAGE_LINE = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-00:00: \[INFO\] \[(?P<src>[^\]]+)\] (?P<msg>.*)"
)
# What a MirageOS 4 unikernel with the direct tcpip stack logs as it connects (docs/DOUBLES.md).
STACK = ["netif", "ethernet", "ARP", "ipv6", "ipv6", "udp", "tcp.pcb", "tcpip-stack-direct"]


def stack_sources(lines: list[str]) -> list[str]:
    return [m["src"] for line in lines if (m := MIRAGE_LINE.fullmatch(line))]


def same_boot(lines: list[str], cap_lines: tuple[str, ...]) -> None:
    """The bindings' boot lines as captured; the memory regions of another binary only by
    shape (their addresses are the captured test binary's, not a property of the tender)."""
    assert lines[:6] == list(cap_lines[:6])  # banner, bindings version, memory map size
    assert [classify(line).kind for line in lines[6:BOOT]] == ["memory_region"] * 5, lines


TAP_UP = "ip link set lo up; ip tuntap add tap100 mode tap; ip link set tap100 up"

CASES = [
    "./solo5-spt --help",
    "./solo5-spt --version",
    "./solo5-spt --mem=64 -- test_hello.hvt",
    "./solo5-spt --mem=2 -- test_net.spt",
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
        f"{workdir}/test_net.hvt >first.log 2>&1 & first=$!\n"
        # the first has the tap once it boots (taps are attached before the banner)
        f"{wait_for('Memory map', 'first.log')}"
    )
    lines, code = run_in_netns(
        workdir,
        setup,
        "x --mem=64 --net:service0=tap100 -- test_net.hvt",
        cleanup="kill $first; wait $first",
    )
    assert lines == list(busy.lines)
    assert code == busy.exit_code == 1


def wait_for(text: str, log: str) -> str:
    """Shell that waits until `log` has a line containing `text`, HANG seconds at most."""
    tries = int(HANG / 0.02)
    return (
        f"i=0; until grep -sqF {shlex.quote(text)} {log}; do i=$((i+1)); "
        f"[ $i -gt {tries} ] && echo 'gave up waiting for {text}' && break; sleep 0.02; done\n"
    )


def test_boot_banner_and_memory_map(workdir):
    """The bindings' part as captured, then the guest's exit; test_hello's own lines are the
    release test's, not played by the double."""
    for command in (
        "./solo5-hvt --mem=64M -- test_hello.hvt Hello_Solo5",
        "./solo5-hvt --mem=64G -- test_hello.hvt",
    ):
        cap = CAPTURES[command]
        lines, code = run_in_netns(workdir, "true", command)
        assert lines == [*cap.lines[:BOOT], "Solo5: solo5_exit(0) called"]
        assert code == cap.exit_code == 0


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
        term_when=lambda out: any("Dual TCP/IP stack assembled" in line for line in out),
    )
    assert lines[:BOOT] == list(cap.lines[:BOOT])  # banner and memory map
    assert stack_sources(lines[BOOT:-1]) == STACK and len(lines) == BOOT + len(STACK) + 1
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
        exitcode = CAPTURES[f"./solo5-hvt --mem=64 -- exitcode.hvt {status}"]
        assert lines[BOOT:] == [f"Solo5: solo5_exit({status}) called"] == [exitcode.lines[-1]]
        assert code == expected == exitcode.exit_code


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
import json, socket
s = socket.create_connection(("10.0.0.2", 8080), timeout=5)
s.sendall(b"GET /health HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
data = b""
while chunk := s.recv(4096):
    data += chunk
print("answer", json.dumps(data.decode()))
try:
    socket.create_connection(("10.0.0.2", 9999), timeout=5)
    print("9999 accepted")
except ConnectionRefusedError:
    print("9999 refused")
"""
ANSWER = (
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n"
    "Connection: close\r\n\r\nok\n"
)


def serve(
    workdir: Path, name: str, spec: dict, args: str, then: str
) -> tuple[list[str], list[str]]:
    """Boot the guest `name` (one NET_BASIC 'service' on tap100, 10.0.0.1/24 on the host side)
    in a namespace, run the shell `then` once the application has logged, stop the guest;
    `then`'s output lines and the guest's (without the double's notice)."""
    spec = {"mirage": True, "logs": [{"msg": "ready"}], **spec}
    solo5elf.write(
        workdir / f"{name}.hvt",
        devices=[("service", "NET_BASIC")],
        extra_sections={".workbench.lab.guest": json.dumps(spec).encode()},
    )
    script = (
        f"{TAP_UP}; ip addr add 10.0.0.1/24 dev tap100\n"
        f"{workdir}/solo5-hvt --mem=64 {args} -- {workdir}/{name}.hvt "
        f"--ipv4=10.0.0.2/24 > {name}.log 2>&1 &\n"
        "guest=$!\n"
        # the application's line comes after the stack is up, just before the run loop
        f"{wait_for('[application] ready', f'{name}.log')}"
        f"{then}\n"
        "kill $guest; wait\n"
        f"echo ---; cat {name}.log\n"
    )
    proc = subprocess.run(
        ["unshare", "--net", "sh", "-c", script],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=3 * HANG,
    )
    out, _, guest = proc.stdout.partition("---\n")
    lines = guest.splitlines()
    assert lines[0] == NOTICE
    return out.splitlines(), lines[1:]


def test_guest_answers_ping_and_http_behind_the_tap(workdir):
    client = workdir / "client.py"
    client.write_text(HTTP_CLIENT)
    http = {"listen": [{"port": 8080, "http": {"/health": [200, "ok\n"]}}]}
    out, guest = serve(
        workdir,
        "web",
        http,
        "--net:service=tap100",
        f"ping -c 1 -W 3 10.0.0.2 >/dev/null && echo ping ok\ntimeout {HANG} python3 {client}",
    )
    assert out == ["ping ok", "answer " + json.dumps(ANSWER), "9999 refused"]
    assert stack_sources(guest) == [*STACK, "application", "http"]
    assert guest[-3].endswith("[INFO] [application] ready")
    assert guest[-2].endswith("[INFO] [http] GET /health 200")
    assert guest[-1] == "solo5-hvt: Exiting on signal 15"


def test_net_mac_is_the_guests_mac_on_the_tap(workdir):
    """--net-mac:NAME=HWADDR is what the guest answers ARP from (reference section 4: `ip
    neigh` shows it after a ping), and what the netif and stack lines print."""
    out, guest = serve(
        workdir,
        "mac",
        {},
        "--net:service=tap100 --net-mac:service=02:00:00:00:00:42",
        "ping -c 1 -W 3 10.0.0.2 >/dev/null && echo ping ok\nip neigh show 10.0.0.2 dev tap100",
    )
    assert out[0] == "ping ok"
    assert out[1].startswith("10.0.0.2 lladdr 02:00:00:00:00:42 "), out
    boot = [MIRAGE_LINE.fullmatch(line) for line in guest[BOOT : BOOT + len(STACK)]]
    assert [m["msg"] for m in boot if m] == [
        "Plugging into service with mac 02:00:00:00:00:42 mtu 1500",
        "Connected Ethernet interface 02:00:00:00:00:42",
        "Sending gratuitous ARP for 10.0.0.2 (02:00:00:00:00:42)",
        "IP6: Starting",
        "IP6: Started with fe80::ff:fe00:42",
        "UDP layer connected on 10.0.0.2/24, fe80::ff:fe00:42/64",
        "TCP layer connected on 10.0.0.2/24, fe80::ff:fe00:42/64",
        "Dual TCP/IP stack assembled: mac=02:00:00:00:00:42,ip=10.0.0.2/24, fe80::ff:fe00:42/64",
    ]


def test_without_net_mac_the_tender_picks_a_local_unicast_mac(workdir):
    """tap_attach_genmac: random, locally administered (bit 1 set), unicast (bit 0 clear)."""
    _out, guest = serve(workdir, "genmac", {}, "--net:service=tap100", "true")
    mac = re.fullmatch(r".*Plugging into service with mac (\S+) mtu 1500", guest[BOOT])
    assert mac, guest
    assert int(mac[1].split(":")[0], 16) & 0b11 == 0b10


def test_artifact_for_another_arch_is_refused(workdir):
    solo5elf.write(workdir / "arm.hvt", arch="aarch64")
    lines, code = run_in_netns(workdir, "true", "x --mem=64 -- arm.hvt")
    assert lines == [
        "solo5-hvt: arm.hvt: invalid executable: invalid or unsupported executable "
        "(elf header invalid while loading note)"
    ]
    assert code == 1


# --- --net-mac: and --block-sector-size: as hvt_module_net.c/hvt_module_blk.c check them ------
# No capture has these errors: the texts and the order are the v0.12.1 source's (docs/DOUBLES.md).
USAGE = list(CAPTURES["./solo5-hvt --help"].lines)
SECTOR = "solo5-hvt: Block size must be a multiple of 2 greater than or equal 512"


def refused(option: str, *warnings: str) -> list[str]:
    """A module option refused after --mem=64: the module's warning twice (the real loop offers
    the option after --mem= to the modules in the same round), then Invalid option and usage."""
    return [*warnings, *warnings, f"solo5-hvt: Invalid option: `{option}'", *USAGE]


@pytest.mark.parametrize(
    ("option", "warnings"),
    [
        ("--block-sector-size:storage=1000", [SECTOR]),  # not a power of two
        ("--block-sector-size:storage=256", [SECTOR]),  # below 512
        ("--block-sector-size:storage=65536", [SECTOR]),  # "%hu" reads it as 0
        (
            "--block-sector-size:other=4096",
            ["solo5-hvt: Resource not declared in manifest: 'other'"],
        ),
        ("--block-sector-size:storage=x", []),  # no number: no match, no warning
        (
            "--net-mac:storage=02:00:00:00:00:01",
            ["solo5-hvt: Resource not declared in manifest: 'storage'"],
        ),
        ("--net-mac:service0=02:00:00:00:01", []),  # five pairs
        ("--net-mac:service0=zz:00:00:00:00:01", []),
    ],
)
def test_module_options_are_checked_like_the_real_modules(workdir, option, warnings):
    solo5elf.write(
        workdir / "both.hvt", devices=[("service0", "NET_BASIC"), ("storage", "BLOCK_BASIC")]
    )
    lines, code = run_in_netns(workdir, "true", f"x --mem=64 {option} -- both.hvt")
    assert lines == refused(option, *warnings)
    assert code == 1


@pytest.mark.parametrize(
    ("size", "options", "error"),
    [
        (1000, "", "storage: Backing storage size must be block aligned (512 bytes)"),
        (0, "", "storage: Backing storage must be at least 1 block (512 bytes) in size"),
        (
            4096,
            "--block-sector-size:storage=8192",
            "storage: Backing storage size must be block aligned (8192 bytes)",
        ),
        (4096, "--block-sector-size:storage=4096", None),
    ],
)
def test_block_setup_checks_the_backing_file(workdir, size, options, error):
    """The block module's setup (after the options, before the devices check): whole sectors,
    at least one. A good file and sector size boots."""
    image = workdir / f"disk{size}.img"
    image.write_bytes(bytes(size))
    solo5elf.write(
        workdir / "disk.hvt", devices=[("storage", "BLOCK_BASIC")], extra_sections=EXITS_0
    )
    lines, code = run_in_netns(
        workdir, "true", f"x --mem=64 --block:storage={image.name} {options} -- disk.hvt"
    )
    if error is None:
        assert lines[BOOT:] == ["Solo5: solo5_exit(0) called"] and code == 0
    else:
        assert (lines, code) == ([f"solo5-hvt: {error}"], 1)


# --- the guest's end: an uncaught OCaml exception -------------------------------------------


def test_uncaught_exception_is_the_ocaml_runtimes_line_then_exit_2(workdir):
    """MirageOS 4 on Solo5: the runtime prints `Fatal error: exception ...`, exits 2, and
    ocaml-solo5's exit() is solo5_exit(2) (docs/DOUBLES.md has the sources)."""
    spec = {"crash": 'Invalid_argument "boom"'}
    solo5elf.write(
        workdir / "exc.hvt", extra_sections={".workbench.lab.guest": json.dumps(spec).encode()}
    )
    lines, code = run_in_netns(workdir, "true", "x --mem=64 -- exc.hvt")
    assert lines[BOOT:] == [
        'Fatal error: exception Failure("Invalid_argument \\"boom\\"")',
        "Solo5: solo5_exit(2) called",
    ]
    assert code == 2


# --- solo5-spt ---------------------------------------------------------------------------------
SPT_REF = {
    c.command.split(" -- ")[-1].split("  ")[0]: c
    for c in captures()
    if "solo5-spt --mem=2 --" in c.command
}


def spt_kernel(workdir: Path, name: str, spec: dict, devices=()) -> str:
    solo5elf.write(
        workdir / f"{name}.spt",
        target="spt",
        devices=list(devices),
        extra_sections={".workbench.lab.guest": json.dumps(spec).encode()},
    )
    return f"{name}.spt"


def test_spt_needs_no_kvm(workdir):
    """spt runs the unikernel as a process: with no /dev at all it still boots (section 14)."""
    kernel = workdir / spt_kernel(workdir, "hello_nokvm", {"exit": 0})
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         f"mount -t tmpfs none /dev && exec {workdir}/solo5-spt --mem=64 -- {kernel}"],
        capture_output=True, text=True, timeout=HANG,
    )  # fmt: skip
    assert proc.stderr.splitlines() == [notice("solo5-spt")]
    same_boot(
        proc.stdout.splitlines(),
        CAPTURES["runuser -u nobody -- ./solo5-spt --mem=64 -- test_hello.spt"].lines,
    )
    assert proc.stdout.splitlines()[BOOT:] == ["Solo5: solo5_exit(0) called"]
    assert proc.returncode == 0


@pytest.mark.parametrize(
    ("crash", "capture", "sig"),
    [("trap", "test_exception.spt", 11), ("seccomp", "test_seccomp.spt", 31)],
)
def test_spt_traps_by_signal(workdir, crash, capture, sig):
    """A fault in the unikernel is the tender's SIGSEGV (139 in a shell), a syscall outside the
    filter its SIGSYS (159); neither prints anything after the guest's own output."""
    cap = SPT_REF[capture]
    lines, code = run_in_netns(
        workdir,
        "true",
        f"./solo5-spt --mem=2 -- {spt_kernel(workdir, crash, {'crash': crash, 'min_mem': 2})}",
    )
    same_boot(lines, cap.lines)
    assert lines[BOOT:] == [] and list(cap.lines[BOOT:]) == [
        "",
        f"**** Solo5 standalone {capture[:-4]} ****",
    ]
    assert code == -sig and cap.exit_code == 128 + sig


def test_spt_is_killed_by_sigterm_without_a_message(workdir):
    """spt installs no handler (spt_main.c): SIGTERM kills it, nothing printed, 143 in a shell
    (reference section 6)."""
    cap = next(
        c
        for c in captures()
        if c.command.startswith("ip netns exec solo5ns ./solo5-spt --mem=64 --net:service0=tap100")
    )
    kernel = spt_kernel(workdir, "net_spt", {"mirage": True}, [("service0", "NET_BASIC")])
    lines, code = run_in_netns(
        workdir,
        TAP_UP,
        f"./solo5-spt --mem=64 --net:service0=tap100 -- {kernel}",
        term_when=lambda out: any("Dual TCP/IP stack assembled" in line for line in out),
    )
    same_boot(lines, cap.lines)
    assert stack_sources(lines[BOOT:]) == STACK and len(lines) == BOOT + len(STACK)
    assert code == -signal.SIGTERM and cap.exit_code == 128 + signal.SIGTERM
