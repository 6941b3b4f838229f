"""Headless step lines in colour on a terminal (changed, passed, failed at a glance), none when
piped or with NO_COLOR; the text is the same either way."""

from __future__ import annotations

import io
import re

from workbench.eventprint import EventPrinter
from workbench.events import HealthResult, HostDone, RolledBack, StepFailed, StepFinished


def printed(events, colour):  # type: ignore[no-untyped-def]
    out, err = io.StringIO(), io.StringIO()
    printer = EventPrinter(False, out, err, colour=colour)
    for event in events:
        printer(event)
    return out.getvalue() + err.getvalue()


EVENTS = [
    StepFinished(host="t", step="upload", changed=True, detail="release r verified"),
    StepFinished(host="t", step="facts", detail="x86_64"),
    HealthResult(
        host="t", step="health", ok=True, target="http://x/", detail="HTTP 200", seconds=0.2
    ),
    RolledBack(host="t", step="rollback", from_release="a", to_release="b", reason="boom"),
    StepFailed(host="t", step="health", message="a failed", kind="health", exit_code=8),
    HostDone(host="t", step="done", ok=False, summary="a failed"),
]


def test_step_lines_are_coloured_by_outcome_on_a_terminal():
    text = printed(EVENTS, colour=True)
    lines = text.splitlines()
    assert lines[0].startswith("\x1b[36m[t] upload:")  # changed: cyan
    assert lines[1].startswith("[t] facts:")  # unchanged: plain
    assert lines[2].startswith("\x1b[32m[t] health: healthy")
    assert lines[3].startswith("\x1b[33m[t] rollback:")
    assert any(line.startswith("\x1b[1;31m[t] FAILED at health") for line in lines)
    plain = printed(EVENTS, colour=False)
    assert "\x1b" not in plain
    assert re.sub(r"\x1b\[[0-9;]*m", "", text) == plain  # colour adds nothing but colour


def test_no_color_turns_it_off(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("NO_COLOR", "1")
    assert not EventPrinter(False, Tty(), io.StringIO()).colour
    monkeypatch.delenv("NO_COLOR")
    assert EventPrinter(False, Tty(), io.StringIO()).colour
