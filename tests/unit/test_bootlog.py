"""Boot/console line classification, table-tested against real Solo5 v0.12.1 captures."""

from __future__ import annotations

import pytest

from tests.reference import LOCK_PERSONALITY_ASSERTION, REFERENCE, captures
from workbench.bootlog import BANNER, BootPhases, LogLine, classify, explain_exit
from workbench.runwatch import RunWatch

CAPTURES = captures()


def _lines(predicate):
    return [line for cap in CAPTURES for line in cap.lines if predicate(line)]


def test_reference_has_captures():
    assert len(CAPTURES) > 80


def test_banner_lines_in_every_boot():
    boots = [c for c in CAPTURES if BANNER[0] in c.lines]
    assert len(boots) > 20
    for cap in boots:
        start = cap.lines.index(BANNER[0])
        kinds = [classify(line).kind for line in cap.lines[start : start + 4]]
        assert kinds == ["banner"] * 4, cap.command


def test_every_solo5_line_is_understood():
    for line in _lines(lambda s: s.startswith("Solo5: ")):
        assert classify(line).kind != "app", line


def test_every_tender_error_in_the_reference_has_a_hint():
    """Each tender message that is an error (not a warning or signal) explains what to do."""
    skip = ("WARNING", "adjusting memory", "dumpcore", "Exiting on signal")
    for line in _lines(lambda s: s.startswith(("solo5-hvt: ", "solo5-spt: "))):
        parsed = classify(line)
        assert parsed.kind == "tender", line
        if any(s in line for s in skip):
            continue
        assert parsed.level == "error", line
        assert parsed.hint, f"no hint for: {line}"


@pytest.mark.parametrize(
    ("line", "kind", "level", "hint_part"),
    [
        ("Solo5: Bindings version v0.12.1", "solo5", "info", None),
        ("Solo5: Memory map: 64 MB addressable:", "memory_map", "info", None),
        ("Solo5:       heap >= 0x30c000 < stack < 0x4000000", "memory_region", "debug", None),
        ("Solo5: ABORT: mem.c:54: Not enough memory", "abort", "error", "raise unikernel.memory"),
        ("Solo5: ABORT: Stack corruption detected", "abort", "error", "stack smashing"),
        ("Solo5: solo5_abort() called", "abort", "error", "aborted"),
        (
            "Solo5: trap: type=#PF ec=0x2 rip=0x104022 rsp=0x3ffffe0 rflags=0x10006",
            "trap",
            "error",
            "crashed",
        ),
        ("Solo5: Trap: EL1h Sync caught", "trap", "error", "crashed"),
        ("Solo5: solo5_exit(0) called", "exit", "info", None),
        ("Solo5: solo5_exit(64) called", "exit", "error", "boot arguments"),
        ("solo5-hvt: Exiting on signal 15", "tender", "info", "signal"),
        (
            "solo5-hvt: Could not attach interface: tap100: No such file or directory",
            "tender",
            "error",
            "does not exist on the host",
        ),
        (
            "solo5-hvt: Could not attach interface: tap100: Network is down",
            "tender",
            "error",
            "ip link set dev tap100 up",
        ),
        (
            "solo5-hvt: Could not attach interface: tap100: Device or resource busy",
            "tender",
            "error",
            "already attached",
        ),
        (
            "solo5-hvt: Could not attach interface: lo: Invalid argument",
            "tender",
            "error",
            "not a tap",
        ),
        (
            "solo5-hvt: Device 'service' of type NET_BASIC declared but not attached.",
            "tender",
            "error",
            "unikernel.networks.service",
        ),
        (
            "solo5-hvt: Resource not declared in manifest: 'service0'",
            "tender",
            "error",
            "declares no device 'service0'",
        ),
        (
            "solo5-hvt: Could not open: /dev/kvm: No such file or directory",
            "tender",
            "error",
            "64-bit kernel",
        ),
        ("solo5-hvt: Could not open: /dev/kvm: Permission denied", "tender", "error", "group kvm"),
        (
            "solo5-hvt: test_hello.spt: Executable is not for the solo5-hvt target",
            "tender",
            "error",
            "mirage configure -t hvt",
        ),
        ("solo5-hvt: Invalid option: `--net=tap100'", "tender", "error", "--net:NAME=TAP"),
        (
            "solo5-hvt: guest memory size 1048573902848 bytes exceeds the max size "
            "4294967296 bytes",
            "tender",
            "error",
            "4096 MiB",
        ),
        (
            "usage: solo5-hvt [ CORE OPTIONS ] [ MODULE OPTIONS ] [ -- ] KERNEL [ ARGS ]",
            "usage",
            "warning",
            None,
        ),
        ("**** Solo5 standalone test_hello ****", "app", "info", None),
        ('Fatal error: exception Failure("boom")', "exception", "error", "uncaught OCaml"),
        ("Hello, World", "app", "info", None),
    ],
)
def test_table(line, kind, level, hint_part):
    parsed = classify(line)
    assert (parsed.kind, parsed.level) == (kind, level)
    if hint_part is None:
        assert parsed.hint is None
    else:
        assert parsed.hint and hint_part in parsed.hint


def test_mirage_log_new_format():
    line = (
        "2026-11-22T10:06:35-00:00: [INFO] [netif] Plugging into service with mac "
        "46:1c:42:e5:8f:d9 mtu 1500"
    )
    parsed = classify(line)
    assert parsed.kind == "mirage"
    assert (parsed.timestamp, parsed.level, parsed.source) == (
        "2026-11-22T10:06:35-00:00",
        "info",
        "netif",
    )
    assert parsed.message == "Plugging into service with mac 46:1c:42:e5:8f:d9 mtu 1500"


@pytest.mark.parametrize(
    ("line", "level", "source"),
    [
        (
            "2019-01-23 12:12:36 -00:00: INF [netif] Plugging into service with mac x mtu 1500",
            "info",
            "netif",
        ),
        (
            "2020-03-27 15:31:33 -00:00: WRN [tcpip-stack-direct] slow",
            "warning",
            "tcpip-stack-direct",
        ),
        ("2020-03-27 15:31:33 -00:00: ERR [application] boom", "error", "application"),
        ("2024-11-02T14:33:43-00:00: [ERROR] [application] boom", "error", "application"),
        ("2024-11-02T14:33:43-00:00: [WARNING] [dns] x", "warning", "dns"),
        ("2024-11-02T14:33:43-00:00: [DEBUG] [tcp.pcb] x", "debug", "tcp.pcb"),
    ],
)
def test_mirage_levels_both_formats(line, level, source):
    parsed = classify(line)
    assert (parsed.kind, parsed.level, parsed.source) == ("mirage", level, source)


def test_exit_status_wraps_like_the_tender():
    parsed = classify("Solo5: solo5_exit(300) called")
    assert parsed.fields == {"code": 300, "status": 44}
    exit_300 = next(c for c in CAPTURES if c.command.endswith("exitcode.hvt 300"))
    assert exit_300.exit_code == parsed.fields["status"]


@pytest.mark.parametrize(
    ("status", "part"),
    [
        (0, "normally"),
        (1, "SIGTERM"),
        (63, "help or version"),
        (64, "unikernel.args"),
        (125, "MirageOS runtime"),
        (255, "aborted"),
        (2, "uncaught OCaml exception"),
        (143, "SIGTERM"),
        (139, "solo5-spt runs it as host code"),
        (159, "seccomp"),
        (44, "solo5_exit(44)"),
    ],
)
def test_explain_exit(status, part):
    assert part in explain_exit(status)


def test_boot_phases_from_a_real_boot():
    """The MirageOS-like `service` capture reaches every phase, in order."""
    cap = next(c for c in CAPTURES if "--net:service=tap100" in c.command)
    phases = BootPhases(started_at=100.0)
    reached = []
    for i, line in enumerate(cap.lines):
        phase = phases.feed(classify(line), at=100.0 + i * 0.01)
        if phase:
            reached.append(phase)
    assert reached == ["banner", "memory_map", "network_up", "app_start"]
    durations = phases.durations()
    assert list(durations) == ["banner", "memory_map", "app_start", "network_up"]
    assert durations["banner"] == 0.0
    assert durations["network_up"] == pytest.approx(0.11)


def test_the_network_stack_coming_up_is_not_the_application_starting():
    """mirage-tcpip's connect lines (docs/DOUBLES.md) come between the first netif line and the
    application's first line; app_start is the application's."""
    stamp = "2026-11-26T10:00:00-00:00: [INFO]"
    lines = [
        f"{stamp} [netif] Plugging into service with mac 02:00:00:00:00:42 mtu 1500",
        f"{stamp} [ethernet] Connected Ethernet interface 02:00:00:00:00:42",
        f"{stamp} [ARP] Sending gratuitous ARP for 10.0.0.2 (02:00:00:00:00:42)",
        f"{stamp} [ipv6] IP6: Starting",
        f"{stamp} [ipv6] IP6: Started with fe80::ff:fe00:42",
        f"{stamp} [udp] UDP layer connected on 10.0.0.2/24, fe80::ff:fe00:42/64",
        f"{stamp} [tcp.pcb] TCP layer connected on 10.0.0.2/24, fe80::ff:fe00:42/64",
        f"{stamp} [tcpip-stack-direct] Dual TCP/IP stack assembled: mac=02:00:00:00:00:42,ip=...",
        f"{stamp} [application] listening on 8080",
    ]
    phases = BootPhases(started_at=0.0)
    for i, line in enumerate(lines):
        phases.feed(classify(line), at=float(i))
    assert phases.durations() == {"network_up": 0.0, "app_start": 8.0}


def test_control_characters_survive_classification_unchanged():
    """Classification keeps the raw text; escaping is the front ends' job (textsafe)."""
    parsed = classify("evil \x1b]0;title\x07 line")
    assert parsed.kind == "app" and "\x1b" in parsed.text


# --- a run of the unit: did the unikernel start, and what ended it ---------------------------

# Measured with the real solo5-hvt v0.12.1 under LockPersonality=yes (reference section 13).
ABRT = "unikernel-hello.service: Main process exited, code=killed, status=6/ABRT"


def _run(*lines: str, unit: str = "unikernel-hello.service") -> RunWatch:
    run = RunWatch(unit=unit)
    for line in lines:
        if line.startswith("unikernel-"):
            run.feed_systemd(line)
        else:
            run.feed(classify(line))
    return run


def test_reference_measures_the_lock_personality_abort():
    section = REFERENCE.read_text().split("## 13.", 1)[1].split("## 14.", 1)[0]
    assert LOCK_PERSONALITY_ASSERTION.removeprefix("solo5-hvt: ") in section
    assert "code=killed, status=6/ABRT" in section


def test_assertion_before_the_banner_is_the_tender_aborting():
    run = _run(
        "solo5-hvt: WARNING: this is the workbench lab double of solo5-hvt v0.12.1, not the "
        "real tender",
        LOCK_PERSONALITY_ASSERTION,
        ABRT,
        "unikernel-hello.service: Failed with result 'signal'.",
    )
    assert not run.started and run.before_start
    assert run.reason == (
        "the tender aborted before the unikernel started (SIGABRT): " + LOCK_PERSONALITY_ASSERTION
    )
    assert run.short == "tender aborted (SIGABRT)"
    assert "LockPersonality=yes" in run.hint
    assert "systemctl cat unikernel-hello.service" in run.hint


def test_signal_before_the_banner_without_a_line_names_the_likely_causes():
    run = _run("unikernel-hello.service: Main process exited, code=killed, status=31/SYS")
    assert run.reason == "the tender aborted before the unikernel started (SIGSYS)"
    assert "SystemCallFilter=" in run.hint and "/dev/kvm" in run.hint
    assert "journalctl -u unikernel-hello.service" in run.hint


def test_tender_error_before_the_banner_keeps_its_own_hint():
    run = _run(
        "solo5-hvt: Could not open: /dev/kvm: Operation not permitted",
        "unikernel-hello.service: Main process exited, code=exited, status=1/FAILURE",
    )
    assert run.reason == (
        "the tender failed before the unikernel started: "
        "solo5-hvt: Could not open: /dev/kvm: Operation not permitted"
    )
    assert run.short == "tender failed" and run.before_start


def test_a_crash_after_the_banner_is_the_unikernel():
    """An uncaught OCaml exception, as a MirageOS 4 unikernel on Solo5 ends: the runtime's
    `Fatal error` line, then exit(2), which ocaml-solo5 turns into solo5_exit(2)."""
    run = _run(
        *BANNER,
        "Solo5: Bindings version v0.12.1",
        'Fatal error: exception Failure("boom")',
        "Solo5: solo5_exit(2) called",
        "unikernel-hello.service: Main process exited, code=exited, status=2/INVALIDARGUMENT",
    )
    assert run.started and not run.before_start
    assert run.reason == 'Fatal error: exception Failure("boom")'
    assert run.short == "OCaml exception"


def test_a_signal_after_the_banner_is_not_called_an_exit_status():
    run = _run(*BANNER, "unikernel-hello.service: Main process exited, code=killed, status=9/KILL")
    assert run.reason == "the tender was killed by SIGKILL while the unikernel ran"
    assert run.short == "killed (SIGKILL)"


def test_a_clean_stop_is_not_a_failure_of_the_tender():
    run = _run(*BANNER, "solo5-hvt: Exiting on signal 15")
    assert run.reason is None
    run.feed_systemd("unikernel-hello.service: Deactivated successfully.")
    assert run.reason == "the unit stopped: Deactivated successfully."


STOPPED = "the unikernel was stopped by SIGTERM (a stop or restart of the unit, not a crash)"


def test_hvt_stopped_by_systemd_exits_1_and_that_is_a_stop():
    """solo5-hvt catches SIGTERM, says so and exits 1 (reference section 8)."""
    run = _run(
        *BANNER,
        "solo5-hvt: Exiting on signal 15",
        "unikernel-hello.service: Main process exited, code=exited, status=1/FAILURE",
    )
    assert (run.reason, run.short, run.hint) == (STOPPED, "stopped (SIGTERM)", None)


def test_spt_stopped_by_systemd_is_killed_by_sigterm_and_that_is_a_stop():
    """solo5-spt installs no handler: SIGTERM kills it silently (reference section 6: 143)."""
    run = _run(*BANNER, "unikernel-hello.service: Main process exited, code=killed, status=15/TERM")
    assert (run.reason, run.short, run.hint) == (STOPPED, "stopped (SIGTERM)", None)
    before = _run("unikernel-hello.service: Main process exited, code=killed, status=2/INT")
    assert before.short == "stopped (SIGINT)" and not before.before_start


def test_spt_trap_is_a_sigsegv_of_the_tender():
    """spt runs the unikernel as host code: test_exception.spt dies of SIGSEGV (section 6)."""
    run = _run(*BANNER, "unikernel-hello.service: Main process exited, code=dumped, status=11/SEGV")
    assert run.short == "crashed (SIGSEGV)"
    assert "solo5-spt runs it as host code" in run.hint


def test_spt_seccomp_violation_is_explained():
    """test_seccomp.spt: a syscall outside spt's filter, killed by SIGSYS (section 6: 159)."""
    run = _run(*BANNER, "unikernel-hello.service: Main process exited, code=killed, status=31/SYS")
    assert run.reason == "the tender was killed by SIGSYS while the unikernel ran"
    assert run.short == "seccomp kill (SIGSYS)"
    assert "outside spt's own filter" in run.hint and "SystemCallFilter=" in run.hint


def test_reference_shows_the_spt_signal_exits():
    codes = {c.command.split(" -- ")[-1]: c.exit_code for c in CAPTURES if "solo5-spt" in c.command}
    assert codes["test_exception.spt"] == 128 + 11
    assert codes["test_seccomp.spt"] == 128 + 31
    assert any(v == 128 + 15 for k, v in codes.items() if k.startswith("test_net.spt"))


@pytest.mark.parametrize(
    "line",
    [
        "Solo5: solo5_exit(" + "9" * 5000 + ") called",
        "solo5-hvt: Exiting on signal " + "9" * 5000,
        "Solo5: Memory map: " + "9" * 5000 + " MB addressable:",
        "Solo5:   text @ (0x" + "f" * 5000 + " - 0x1)",
        "2026-11-26T10:00:00" + "9" * 5000 + ": [INFO] [x] y",
    ],
)
def test_huge_numbers_in_a_line_are_text_not_a_crash(line):
    parsed = classify(line)  # a unikernel prints what it likes: this must never raise
    assert parsed.text == line
    run = RunWatch()
    run.feed(parsed)
    run.feed_systemd("x.service: Main process exited, code=killed, status=" + "9" * 5000)


def test_an_uncaught_ocaml_exception_is_read_whole():
    """The OCaml runtime's last words (printexc.c: "Fatal error: exception %s")."""
    line = 'Fatal error: exception Invalid_argument("index out of bounds")'
    assert classify(line + "\r\n") == LogLine(  # a serial console ends lines in CRLF
        "exception",
        line,
        "error",
        message=line,
        hint=(
            "an uncaught OCaml exception ended the unikernel: the OCaml runtime prints it "
            "(and a backtrace), then exits 2 (`Solo5: solo5_exit(2) called`)"
        ),
    )


def test_a_solo5_line_with_no_meaning_of_its_own_is_kept_as_solo5():
    """Lines the virtio bindings print (measured under QEMU, reference section 14)."""
    for rest in (
        "Clock source: TSC, frequency estimate is 2600878800 Hz",
        "Application acquired 'service0' as network device",
    ):
        line = "Solo5: " + rest
        assert classify(line) == LogLine("solo5", line, source="solo5", message=rest)


@pytest.mark.parametrize(
    ("status", "meaning"),
    [
        (128, "the unikernel called solo5_exit(128) (application-defined status)"),
        (129, "the tender was killed by SIGHUP: a `kill` on the host, an OOM kill, or a crash"),
        (131, "the unikernel called solo5_exit(131) (application-defined status)"),
        (134, "the tender was killed by SIGABRT: the tender failed one of its own checks"),
        (137, "the tender was killed by SIGKILL: an OOM kill, a `kill -9` on the host"),
        (139, "the tender was killed by SIGSEGV: the unikernel crashed: solo5-spt runs it"),
        (143, "the tender was killed by SIGTERM: a stop or restart of the unit: solo5-spt"),
        (159, "the tender was killed by SIGSYS: a seccomp filter killed it: under solo5-spt"),
    ],
)
def test_a_status_above_128_is_a_signal_the_table_names(status, meaning):
    """As a shell reports a process killed by signal N (128 + N): the reference's spt runs
    end 139 (SIGSEGV), 143 (SIGTERM) and 159 (SIGSYS, seccomp). SIGQUIT (131) is not in the
    table, so that status reads as the unikernel's own."""
    # the signal's name and the start of what it means (the rest: explain_signal's own tests)
    assert explain_exit(status).startswith(meaning)


def test_phase_durations_count_from_the_first_phase_without_a_unit_start():
    """A journal read after the fact may not hold the unit's start: count from the banner."""
    phases = BootPhases()
    for at, line in ((10.25, BANNER[0]), (10.5, "Solo5: Memory map: 64 MB addressable:")):
        phases.feed(classify(line), at=at)
    assert phases.durations() == {"banner": 0.0, "memory_map": 0.25}
