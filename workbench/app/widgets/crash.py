"""The banner that says a unikernel stopped, with its exit status explained and the line that
caused it (the exception, the ABORT, the trap, the tender's error)."""

from __future__ import annotations

import re

from rich.text import Text
from textual.widgets import Static

from workbench.app.widgets import themed
from workbench.app.widgets.logrow import clock
from workbench.events import LogLine
from workbench.exits import STOP_SIGNALS, explain_exit, explain_signal, signal_name
from workbench.textsafe import sanitize

_EXITED = re.compile(r"Main process exited, code=(\w+), status=(\d+)")
_CAUSES = ("exit", "abort", "trap", "exception", "tender")


class CrashBanner(Static):
    RECOVERED_AFTER = 10.0  # seconds a restarted unit runs without crashing to be "recovered"

    DEFAULT_CSS = """
    CrashBanner { display: none; height: auto; padding: 0 1; background: $error-muted;
                  border-left: thick $error; }
    CrashBanner.-shown { display: block; }
    CrashBanner.-recovered { background: $success-muted; border-left: thick $success; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.cause: dict[str, LogLine] = {}
        self.stopped_cleanly: set[str] = set()
        self.message = ""
        self.crashed: str | None = None  # the host the banner is about
        self.recovered = False
        self.started: str | None = None  # when systemd started it again after the crash
        self.report = Text()  # what the banner said of the crash

    def consider(self, event: LogLine) -> None:
        host = event.host
        if "Exiting on signal" in event.text:
            self.stopped_cleanly.add(host)  # `systemctl stop/restart`: status 1 is no crash
        elif event.origin == "systemd" and event.text.startswith("Started "):
            self.stopped_cleanly.discard(host)
            self.cause.pop(host, None)
            if host == self.crashed and self.started is None:
                self._started_again(event)
        if event.level == "error" and event.kind in _CAUSES and host not in self.cause:
            self.cause[host] = event
        m = _EXITED.search(event.text) if event.origin == "systemd" else None
        if m is None:
            return
        how, status = m[1], int(m[2])
        if how == "exited" and (status == 0 or (status == 1 and host in self.stopped_cleanly)):
            return
        if how == "killed" and status in STOP_SIGNALS:
            return  # solo5-spt has no handler: a stop kills it with SIGTERM, no crash
        what = (
            f"exited with status {status}: {explain_exit(status)}"
            if how == "exited"
            else f"was killed ({how}, {signal_name(status)}): {explain_signal(status)}"
        )
        self.show(host, what, self.cause.get(host))

    def show(self, host: str, what: str, cause: LogLine | None) -> None:
        self.message = f"{host}: the unikernel {what}"
        self.crashed, self.recovered, self.started = host, False, None
        self.remove_class("-recovered")
        out = themed.SafeText()
        out.append("✖ ", themed.style(self, "text-error", bold=True))
        out.append(sanitize(self.message), themed.style(self, "text-error", bold=True))
        if cause is not None:
            out.append(f"\n  cause: {sanitize(cause.text)}")
            if cause.hint:
                out.append(
                    f"\n  what to do: {sanitize(cause.hint)}", themed.style(self, "text-muted")
                )
        else:
            out.append(
                "\n  what to do: its last lines above say why; `w` saves them, and `b` on the "
                "dashboard rolls back to the release before",
                themed.style(self, "text-muted"),
            )
        self.report = out.copy()
        out.append("\n  (a acknowledges)", themed.style(self, "text-muted"))
        self.update(out)
        self.add_class("-shown")

    def _started_again(self, started: LogLine) -> None:
        """systemd started it again (a restart, or a rollback's release): said at once, and
        "recovered" once it has run RECOVERED_AFTER seconds without a new crash (a crash loop
        starts it again too, and crashes again before that)."""
        self.started = clock(started.time or started.at)
        self._report("↻ started again", f"at {self.started} UTC; watching it", "text-warning")
        crashed = self.message
        self.set_timer(self.RECOVERED_AFTER, lambda: self._recovered(crashed))

    def _recovered(self, crashed: str) -> None:
        if self.message != crashed or self.started is None:
            return  # crashed again (or acknowledged) since
        self.recovered = True
        self._report("✔ recovered", f"running since {self.started} UTC", "text-success")
        self.add_class("-recovered")

    def _report(self, head: str, what: str, colour: str) -> None:
        out = themed.SafeText()
        out.append(f"{head}: ", themed.style(self, colour, bold=True))
        out.append(f"{what}; what happened before:\n")
        out.append_text(self.report)
        out.append("\n  (a acknowledges)", themed.style(self, "text-muted"))
        self.update(out)

    def dismiss(self) -> None:
        self.message = ""
        self.crashed, self.recovered, self.started = None, False, None
        self.remove_class("-shown", "-recovered")
