"""A journal line as the log view keeps it: cleaned of terminal controls once, with its time,
and the text shown without MirageOS' own ISO time prefix (the time column has it)."""

from __future__ import annotations

import re
import time
from itertools import count

from workbench.events import LogLine
from workbench.textsafe import sanitize

LEVELS = ("debug", "info", "warning", "error")
_SEQ = count()
# MirageOS' reporter starts a line with a 26-character ISO time: the time column has it.
_ISO_PREFIX = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z): ")
LEVEL_TAG = re.compile(r"\[(DEBUG|INFO|WARN|WARNING|ERROR)\]")
TAG_STYLE = {"DEBUG": "debug", "INFO": "info", "WARN": "warning", "WARNING": "warning"}


class Row:
    __slots__ = (
        "hint",
        "host",
        "kind",
        "level",
        "origin",
        "seq",
        "shown",
        "source",
        "text",
        "time",
    )

    def __init__(self, event: LogLine) -> None:
        self.seq = next(_SEQ)
        self.host = event.host
        self.kind = event.kind
        self.level = event.level
        self.source = event.source
        self.origin = event.origin
        self.text = sanitize(event.text)  # remote text: no terminal control sequences
        self.hint = event.hint
        self.time = event.time or event.at  # the journal's time; when it came, without one
        prefix = _ISO_PREFIX.match(self.text) if event.kind == "mirage" else None
        self.shown = self.text[prefix.end() :] if prefix else self.text


def clock(at: float) -> str:
    """`23:22:09`, UTC like every time workbench shows: hosts in other zones line up."""
    return time.strftime("%H:%M:%S", time.gmtime(at))
