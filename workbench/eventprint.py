"""Render engine events for a terminal or a pipe: readable lines, or one JSON object per line.

Progress and results go to stdout; a failure's message and hint to stderr. Text that came from
a host (journal lines, remote errors) is sanitised before it is printed.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TextIO

from workbench import fastjson
from workbench.events import (
    BootPhase,
    BuildLine,
    BuildResult,
    Event,
    Fact,
    FileDiff,
    HealthResult,
    HostDone,
    LogLine,
    RolledBack,
    Status,
    StepFailed,
    StepFinished,
)
from workbench.textsafe import sanitize, sanitize_lines

_COLOURS = {
    "error": "\x1b[31m",
    "warning": "\x1b[33m",
    "debug": "\x1b[2m",
    "ok": "\x1b[32m",
    "changed": "\x1b[36m",
    "bold-error": "\x1b[1;31m",
}
_RESET = "\x1b[0m"


class EventPrinter:
    def __init__(
        self,
        as_json: bool,
        out: TextIO | None = None,
        err: TextIO | None = None,
        colour: bool | None = None,
        show_logs: bool = True,
        several: bool = False,
    ) -> None:
        self.json = as_json
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        if colour is None:  # https://no-color.org: any non-empty NO_COLOR means none
            colour = self.out.isatty() and not os.environ.get("NO_COLOR")
        self.colour = colour
        self.show_logs = show_logs
        self.several = several  # lines say [HOST/UNIKERNEL]: the profile has several
        self.exit_code = 0
        self.failed_hosts: list[str] = []
        self._flush_pending = False

    def _flush_soon(self) -> None:
        """Flush once the event loop has handled what it has at hand: a burst of journal lines
        read in one chunk is one write, not one per line (20,000 lines/s); a lone line still
        goes out at once. Without a running loop, flush now."""
        if self._flush_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.out.flush()
            return
        self._flush_pending = True
        loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        self.out.flush()

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepFailed) and self.exit_code == 0:
            self.exit_code = event.exit_code or 1
        if isinstance(event, HostDone) and not event.ok:
            self.failed_hosts.append(event.host)
            if self.exit_code == 0:
                self.exit_code = event.exit_code or 1
        if self.json:
            print(fastjson.dumps(event.to_dict()), file=self.out)
            self._flush_soon()
            return
        line = self._line(event)
        if line is not None:
            # Each line is cleaned whole, whatever fields it was made of; colour comes after.
            line = sanitize_lines(line)
            colour = self._colour(event)
            if colour:
                line = f"{colour}{line}{_RESET}"
            stream = self.err if isinstance(event, StepFailed) else self.out
            print(line, file=stream, flush=True)
        if isinstance(event, StepFailed) and event.hint:
            label = self._line_label(event)
            print(f"{label} hint: {sanitize(event.hint)}", file=self.err, flush=True)

    def _line_label(self, e: Event) -> str:
        return f"[{e.host}/{e.unikernel}]" if self.several and e.unikernel else f"[{e.host}]"

    def _colour(self, e: Event) -> str | None:
        if not self.colour:
            return None
        if isinstance(e, LogLine):
            return _COLOURS.get(e.level)
        if isinstance(e, BuildLine) and e.stream == "stderr":
            return _COLOURS["error"]
        # Step lines: what changed, what passed, what failed, at a glance.
        if isinstance(e, StepFinished):
            return _COLOURS["changed"] if e.changed else None
        if isinstance(e, StepFailed):
            return _COLOURS["bold-error"]
        if isinstance(e, HealthResult | HostDone):
            return _COLOURS["ok"] if e.ok else _COLOURS["bold-error"]
        if isinstance(e, RolledBack):
            return _COLOURS["warning"]
        if isinstance(e, Fact) and e.ok is False:
            return _COLOURS["error"]
        return None

    def _line(self, e: Event) -> str | None:
        h = self._line_label(e)
        if isinstance(e, StepFinished):
            mark = " *" if e.changed else ""
            took = f" ({e.seconds:.2f} s)" if e.seconds >= 0.01 else ""
            return f"{h} {e.step}: {sanitize(e.detail)}{mark}{took}"
        if isinstance(e, Fact):
            mark = {True: "ok  ", False: "FAIL", None: "info"}[e.ok]
            text = f"{h} {e.step}: {mark} {e.name}: {sanitize(e.value)}"
            if e.ok is False and e.hint and e.step != "preflight":
                text += f"\n{h}       fix: {sanitize(e.hint)}"
            return text
        if isinstance(e, LogLine):
            if not self.show_logs:
                return None
            return f"{h} | {sanitize(e.text)}"
        if isinstance(e, BuildLine):
            if not self.show_logs:
                return None
            return f"{h} {e.step} | {sanitize(e.text)}"
        if isinstance(e, BuildResult):
            how = "cached build" if e.cached else "built"
            return f"{h} {how}: {e.artifact}\n{h} tender: {e.tender}"
        if isinstance(e, BootPhase):
            return f"{h} boot: {e.phase.replace('_', ' ')} after {e.seconds:.3f} s"
        if isinstance(e, HealthResult):
            state = "healthy" if e.ok else "NOT healthy"
            what = "health" if e.step == "health" else f"{e.step} health"
            return f"{h} {what}: {state}: {e.target}: {sanitize(e.detail)} ({e.seconds:.2f} s)"
        if isinstance(e, RolledBack):
            return f"{h} rollback: {e.from_release} -> {e.to_release}, because {sanitize(e.reason)}"
        if isinstance(e, StepFailed):
            return f"{h} FAILED at {e.step}: {sanitize(e.message)}"
        if isinstance(e, FileDiff):
            head = f"{h} {e.status}: {e.path} ({e.purpose})"
            return head + ("\n" + sanitize_block(e.diff) if e.diff else "")
        if isinstance(e, Status):
            return f"{h} " + "  ".join(
                f"{k}: {sanitize(str(v)) if v is not None else '-'}" for k, v in e.fields.items()
            )
        if isinstance(e, HostDone):
            if e.ok:
                return f"{h} {sanitize(e.summary)}"
            return None  # the StepFailed line already said it, on stderr
        return None


def sanitize_block(text: str) -> str:
    return "\n".join(sanitize(line) for line in text.splitlines())
