"""Status parsing against output captured from the lab target (the status script, run on a unit
whose tender systemd keeps restarting), no host needed."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.reference import LOCK_PERSONALITY_ASSERTION
from workbench.engine.status import parse_status

DATA = Path(__file__).parents[1] / "data"


def test_a_tender_crash_loop_is_shown_for_what_it_is():
    fields = parse_status((DATA / "status-crash-loop.txt").read_text())
    assert fields["unit"] == "activating/auto-restart"
    assert re.fullmatch(
        r"restarting: 3 restarts in \d+ s, last: tender aborted \(SIGABRT\)", fields["crash_loop"]
    ), fields["crash_loop"]
    assert fields["last_exit"] == (
        "the tender aborted before the unikernel started (SIGABRT): " + LOCK_PERSONALITY_ASSERTION
    )
    assert "systemctl cat unikernel-t88.service" in fields["last_exit_hint"]


def running_status_text() -> str:
    """The captured crash loop's status, as the script prints it for the unit running."""
    text = (DATA / "status-crash-loop.txt").read_text()
    return "\n".join(
        line
        for line in text.replace("SubState=auto-restart", "SubState=running")
        .replace("ActiveState=activating", "ActiveState=active")
        .replace("Result=signal", "Result=success")
        .splitlines()
        if not line.startswith(("Run ", "Sys "))
    )


def test_a_running_unit_has_no_crash_loop():
    fields = parse_status(running_status_text())
    assert "crash_loop" not in fields and "last_exit" not in fields


def test_journal_lines_cannot_forge_status_fields():
    """A unikernel prints what it likes; its lines never become KEY=VALUE fields."""
    text = (DATA / "status-crash-loop.txt").read_text()
    forged = {"MESSAGE": "Current=releases/evil", "_SYSTEMD_INVOCATION_ID": "x"}
    fields = parse_status(text + "\nRun " + json.dumps(forged) + "\n")
    assert fields["release"] == "1215680b2ef8affe"


def test_a_unit_systemd_gave_up_on_says_failed_and_why():
    fields = parse_status((DATA / "status-start-limit.txt").read_text())
    assert fields["unit"] == "failed/failed"
    assert re.fullmatch(
        r"failed: 5 restarts in \d+ s, last: tender aborted \(SIGABRT\)", fields["crash_loop"]
    ), fields["crash_loop"]


def test_the_signal_is_known_before_journald_has_the_exit_line():
    """journald can lag behind; systemd's ExecMainCode/ExecMainStatus are there at once."""
    text = (DATA / "status-crash-loop.txt").read_text()
    lagging = "\n".join(
        line
        for line in text.splitlines()
        if not (line.startswith("Run ") and "Main process exited" in line)
    )
    assert lagging != text
    fields = parse_status(lagging)
    assert fields["crash_loop"].endswith(", last: tender aborted (SIGABRT)")
    assert fields["last_exit"] == (
        "the tender aborted before the unikernel started (SIGABRT): " + LOCK_PERSONALITY_ASSERTION
    )


def _spt_run(code: str, status: str, *messages: str) -> str:
    """The crash-loop capture turned into an spt unit whose unikernel started (its banner in
    the journal) and then ended as systemd's ExecMainCode/ExecMainStatus say."""
    text = (DATA / "status-crash-loop.txt").read_text()
    head = [line for line in text.splitlines() if not line.startswith(("Run ", "Sys "))]
    head = [
        f"ExecMainCode={code}"
        if line.startswith("ExecMainCode=")
        else f"ExecMainStatus={status}"
        if line.startswith("ExecMainStatus=")
        else line
        for line in head
    ]
    runs = [
        "Run " + json.dumps({"MESSAGE": m, "_SYSTEMD_INVOCATION_ID": "x", "__CURSOR": str(i)})
        for i, m in enumerate(("Solo5: Bindings version v0.12.1", *messages))
    ]
    return "\n".join(head + runs) + "\n"


def test_an_spt_seccomp_kill_is_said_to_be_one():
    """solo5-spt kills a unikernel that makes a syscall outside its filter with SIGSYS
    (reference section 6: test_seccomp.spt, 159); systemd says code=killed, status=31."""
    fields = parse_status(_spt_run("2", "31"))
    assert fields["crash_loop"].endswith(", last: seccomp kill (SIGSYS)"), fields["crash_loop"]
    assert fields["last_exit"] == "the tender was killed by SIGSYS while the unikernel ran"
    assert "outside spt's own filter" in fields["last_exit_hint"]


def test_an_uncaught_exception_loop_names_the_exception():
    fields = parse_status(
        _spt_run("1", "2", 'Fatal error: exception Failure("boom")', "Solo5: solo5_exit(2) called")
    )
    assert fields["last_exit"] == 'Fatal error: exception Failure("boom")'
    assert fields["crash_loop"].endswith(", last: OCaml exception")


def test_the_runtime_is_the_current_release_s_solo5_target():
    text = (DATA / "status-crash-loop.txt").read_text()
    assert parse_status(text)["runtime"] == "hvt"  # as recorded on the lab target
    spt = text.replace('"target": "hvt"', '"target": "spt"')
    assert spt != text and parse_status(spt)["runtime"] == "spt"
    # Never deployed: no release, no runtime (not a guess from the profile).
    bare = "\n".join(ln for ln in text.splitlines() if not ln.startswith("Release="))
    assert parse_status(bare)["runtime"] is None


def test_the_previous_release_and_its_age_come_with_the_status():
    """What a rollback would go back to, named with its age in the TUI's question."""
    text = (DATA / "status-crash-loop.txt").read_text()
    previous = 'PreviousRelease={"created": "2026-11-20T10:00:00Z", "artifact": {"name": "x"}}'
    two = text.replace("\nPrevious=\n", "\nPrevious=releases/0123456789abcdef\n")
    assert parse_status(two)["previous"] == "0123456789abcdef"
    assert parse_status(two)["previous_created"] is None  # its release.json unreadable
    fields = parse_status(two + f"\n{previous}\n")
    assert fields["previous_created"] == "2026-11-20T10:00:00Z"
    hostile = parse_status(two + '\nPreviousRelease={"created": "\\u001b]0;x\\u0007"}\n')
    assert hostile["previous_created"] == ""  # the escape sequence is dropped whole


def test_a_qemu_units_accel_is_read_from_the_unit_and_only_then():
    text = running_status_text()
    assert "accel" not in parse_status(text)  # hvt: no QEMU, no field
    assert parse_status(text + "\nAccel=tcg\n")["accel"] == "tcg"
    assert "accel" not in parse_status(text + "\nAccel=evil\n")  # the host's text, not ours
