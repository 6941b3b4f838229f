"""What ended a run, told from the journal lines a unit's run leaves (real Solo5 v0.12.1 texts,
systemd's own lines as tests/data/status-*.txt recorded them) and from `systemctl show`'s
ExecMainCode/ExecMainStatus, which `status` feeds when the journal lacks the exit line."""

from __future__ import annotations

from tests.reference import LOCK_PERSONALITY_ASSERTION, captures
from workbench.bootlog import BANNER, LOCK_PERSONALITY_HINT, classify
from workbench.runwatch import START_HINT, RunWatch

UNIT = "unikernel-t88.service"


def test_a_signal_systemd_names_only_by_number_is_not_called_sigsignal():
    """`systemctl show` says ExecMainCode=2 (killed) ExecMainStatus=3: SIGQUIT, which the
    signal table does not name; the verdict says "signal 3", not "SIGsignal 3"."""
    before = RunWatch(unit=UNIT)
    before.feed_exit("killed", 3)
    assert before.reason == "the tender aborted before the unikernel started (signal 3)"
    assert before.short == "tender aborted (signal 3)"
    running = RunWatch(unit=UNIT, started=True)
    running.feed_exit("dumped", 3)
    assert running.reason == "the tender was killed by signal 3 while the unikernel ran"
    assert running.short == "killed (signal 3)"


def _capture(command: str) -> tuple[str, ...]:
    return next(c.lines for c in captures() if c.command == command)


def _fed(*lines: str) -> RunWatch:
    run = RunWatch(unit=UNIT)
    for line in lines:
        if line.startswith(f"{UNIT}: "):
            run.feed_systemd(line)
        else:
            run.feed(classify(line))
    return run


def test_a_journal_window_that_starts_after_the_banner_still_sees_a_started_unikernel():
    """`journalctl -n` may cut the banner off: the bindings line or a memory region line
    still says the guest ran, so its exit is the unikernel's, not a tender failing."""
    abort = _capture("./solo5-hvt --mem=2 -- test_hello.hvt Hello_Solo5")
    assert abort[-2] == "Solo5: Bindings version v0.12.1"
    run = _fed(*abort[-2:], f"{UNIT}: Main process exited, code=exited, status=255/EXCEPTION")
    assert (run.started, run.before_start, run.short) == (True, False, "Solo5 abort")
    exit64 = _capture("./solo5-hvt --mem=64 -- exitcode.hvt 64")
    assert exit64[-3].startswith("Solo5:       heap >= ")
    run = _fed(*exit64[-3:], f"{UNIT}: Main process exited, code=exited, status=64/USAGE")
    assert (run.started, run.before_start) == (True, False)
    assert run.reason == (
        "the unikernel exited with status 64: "
        "the unikernel could not parse its boot arguments: check unikernel.args"
    )
    assert run.exit_seen is True


def test_the_watcher_names_the_lock_personality_abort_before_systemd_does():
    """Deploy's boot watcher reads the tender's assertion before systemd's exit line: it is
    already an abort, with the LockPersonality hint, and systemd's SIGABRT keeps that hint."""
    run = _fed(LOCK_PERSONALITY_ASSERTION)
    assert run.reason == (
        "the tender aborted before the unikernel started: " + LOCK_PERSONALITY_ASSERTION
    )
    assert run.short == "tender aborted" and run.before_start
    assert run.hint == LOCK_PERSONALITY_HINT.replace("UNIT", UNIT)  # `systemctl cat UNIT`
    assert run.exit_seen is False
    run.feed_systemd(f"{UNIT}: Main process exited, code=killed, status=6/ABRT")
    assert run.short == "tender aborted (SIGABRT)" and run.exit_seen is True
    assert run.hint == LOCK_PERSONALITY_HINT.replace("UNIT", UNIT)


def test_another_assertion_of_the_tender_points_at_the_host_not_at_lock_personality():
    """An assertion in another tender function (hvt_guest_mprotect's first, 13 lines after
    the personality one in hvt/hvt_kvm.c) is still the tender aborting before the start, but
    the hint is the general one about the host, with the unit's name."""
    line = (
        "solo5-hvt: hvt/hvt_kvm.c:144: hvt_guest_mprotect: "
        "Assertion `addr_start <= hvt->mem_size' failed."
    )
    parsed = classify(line)
    assert parsed.hint == (
        "solo5-hvt failed an internal check in hvt_guest_mprotect and aborted (SIGABRT)"
    )
    run = _fed(line)
    assert run.short == "tender aborted"
    assert run.hint == START_HINT.replace("UNIT", UNIT)


def test_systemd_lines_alone_end_a_run_that_printed_nothing():
    """Runs systemd ended before the tender said a word: the start limit (the lines of
    tests/data/status-start-limit.txt), or a unit that could not be set up."""
    limit = _fed(
        f"{UNIT}: Start request repeated too quickly.",
        f"{UNIT}: Failed with result 'start-limit-hit'.",
    )
    assert limit.reason == "the unit stopped: Start request repeated too quickly."
    assert (limit.short, limit.hint) == ("stopped", None)
    resources = _fed(f"{UNIT}: Failed with result 'resources'.")
    assert resources.reason == "the unit stopped: Failed with result 'resources'."


def test_a_core_dump_systemd_reports_by_name():
    run = _fed(*BANNER, f"{UNIT}: Main process exited, code=dumped, status=3/QUIT")
    assert run.reason == "the tender was killed by SIGQUIT while the unikernel ran"
    assert run.hint == "a `kill` on the host, an OOM kill, or a crash in the tender itself"
    shown = RunWatch(unit=UNIT, started=True)
    shown.feed_exit("dumped", 11)  # systemctl show: ExecMainCode=3 ExecMainStatus=11
    assert shown.short == "crashed (SIGSEGV)"


def test_a_clean_exit_systemctl_show_reports_is_no_failure():
    """ExecMainCode=1 ExecMainStatus=0 after a run whose journal lost its last lines."""
    run = _fed(*BANNER)
    run.feed_exit("exited", 0)
    assert (run.reason, run.short, run.exit_seen) == (None, None, True)


def test_under_virtio_qemus_83_is_the_status_the_guest_printed():
    """QEMU exits 83 whatever the guest's status (reference section 14): the console line
    says which, so a clean solo5_exit(0) is no crash and a 3 is a 3, not an 83."""
    exited = f"{UNIT}: Main process exited, code=exited, status=83/n/a"
    clean = _fed(*BANNER, "Solo5: solo5_exit(0) called", exited)
    assert clean.reason is None, clean.reason
    crashed = _fed(*BANNER, "Solo5: solo5_exit(3) called", exited)
    assert crashed.short == "exited 3"
    assert crashed.reason is not None and "status 3" in crashed.reason
    # Without a console line (hvt's own solo5_exit(83) prints one too) 83 stays 83.
    bare = _fed(*BANNER, exited)
    assert bare.short == "exited 83"
