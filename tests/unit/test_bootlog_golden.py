"""Every line of every real Solo5 v0.12.1 capture, classified and written out whole -- its kind,
level, source, message, fields and the hint a user reads -- then what a journal watcher makes of
the run: the boot phases reached and the verdict `status` and `deploy` print. Compared with
tests/golden/bootlog.txt.

The runs end as systemd would report them on a unit running that command: a zero exit is
"Deactivated successfully.", an exit code above 128 from the capturing shell is the tender
killed by that signal (code=killed, as 139, 143 and 159 are), anything else (255 too)
code=exited with the status. Regenerate after an intended change with
`UPDATE_GOLDEN=1 pytest tests/unit`, then read the diff."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.reference import captures
from workbench.bootlog import BootPhases, LogLine, classify
from workbench.runwatch import RunWatch

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "bootlog.txt"
UNIT = "unikernel-test.service"
# systemd's names for the exit statuses of these captures (systemd.exec(5), "Process Exit Codes").
EXIT_NAMES = {1: "FAILURE", 2: "INVALIDARGUMENT", 64: "USAGE", 255: "EXCEPTION"}


def line_text(line: LogLine) -> str:
    out = [f"  {line.text!r}", f"    {line.kind} {line.level} source={line.source}"]
    if line.timestamp is not None:
        out[-1] += f" at={line.timestamp}"
    if line.fields:
        out[-1] += f" fields={line.fields}"
    if line.message is not None:
        out.append(f"    message: {line.message}")
    if line.hint is not None:
        out.append(f"    hint: {line.hint}")
    return "\n".join(out)


def systemd_end(exit_code: int) -> str:
    if exit_code == 0:
        return f"{UNIT}: Deactivated successfully."
    if 128 < exit_code < 255:
        name = signal.Signals(exit_code - 128).name.removeprefix("SIG")
        return f"{UNIT}: Main process exited, code=killed, status={exit_code - 128}/{name}"
    name = EXIT_NAMES.get(exit_code)
    return f"{UNIT}: Main process exited, code=exited, status={exit_code}" + (
        f"/{name}" if name else ""
    )


def capture_text(command: str, lines: tuple[str, ...], exit_code: int) -> str:
    out = [f"== $ {command}  [exit code: {exit_code}]"]
    phases = BootPhases(started_at=1000.0)
    run = RunWatch(unit=UNIT)
    reached = []
    for i, raw in enumerate(lines):
        parsed = classify(raw)
        out.append(line_text(parsed))
        if phase := phases.feed(parsed, at=1000.5 + i):
            reached.append(phase)
        run.feed(parsed)
    end = systemd_end(exit_code)
    run.feed_systemd(end)
    out.append(f"  systemd: {end}")
    out.append(f"phases reached: {reached}; durations {phases.durations()}")
    out.append(f"run: started={run.started} before_start={run.before_start} short={run.short}")
    out.append(f"  reason: {run.reason}")
    out.append(f"  hint: {run.hint}")
    return "\n".join(out) + "\n"


def test_every_captured_line_and_run_reads_as_recorded():
    got = "\n".join(capture_text(c.command, c.lines, c.exit_code) for c in captures())
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(got)
    assert got == GOLDEN.read_text()
