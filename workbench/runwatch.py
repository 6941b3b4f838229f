"""What ended one run of a unit, told from its journal: the tender dying before the unikernel
started (a host problem) apart from the unikernel crashing, exiting or being killed.

Fed lines that `workbench.bootlog` classified and systemd's own lines about the unit. Pure: the
boot watcher feeds it live during a deploy, `status` feeds it the last run's journal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.artifacts.qemu import GUEST_EXIT
from workbench.bootlog import ASSERTION, PERSONALITY_CHECKS, LogLine
from workbench.exits import STOP_SIGNALS, explain_exit, explain_signal, signal_name

# systemd's line when a unit's main process ends.
UNIT_EXIT = re.compile(
    r"Main process exited, code=(?P<code>\w+), status=(?P<status>\d{1,10})(?:/(?P<name>\w+))?"
)

START_HINT = (
    "the tender died before the unikernel started, so the unikernel is not at fault. Likely "
    "causes: a systemd hardening directive in the unit or a drop-in (`systemctl cat UNIT`: "
    "LockPersonality=yes, or a SystemCallFilter= without a syscall the tender makes before its "
    "own filter), a seccomp or LSM policy on the host, or device permissions on /dev/kvm and "
    "/dev/net/tun; `journalctl -u UNIT` shows the tender's lines"
)


@dataclass
class RunWatch:
    """One run of a unit, fed its journal in order (the tender's and the guest's lines, and
    systemd's): whether the unikernel started (the Solo5 banner or bindings printed), and the
    first thing that ended it, explained. A tender that dies before the start is told apart from
    a unikernel that crashed: the cure is on the host, not in the unikernel."""

    unit: str = "UNIT"  # named in the hints
    started: bool = False
    reason: str | None = None
    hint: str | None = None
    short: str | None = None  # a few words for a status line: "tender aborted (SIGABRT)"
    before_start: bool = False
    _tender_error: str | None = None
    _stop_signal: int | None = None  # solo5-hvt said "Exiting on signal N"
    _console_status: int | None = None  # the guest's `Solo5: solo5_exit(N) called`

    def feed(self, line: LogLine) -> None:
        if line.kind in ("banner", "memory_map", "memory_region") or (
            line.kind == "solo5" and not self.started
        ):
            self.started = True
            return
        if line.kind == "tender" and "signal" in line.fields:
            self._stop_signal = int(line.fields["signal"])  # type: ignore[call-overload]
        if line.kind == "exit":
            self._console_status = int(line.fields.get("status", 0))  # type: ignore[call-overload]
        if self.reason is not None or not line.is_failure:
            return
        if line.kind == "tender" and not self.started:
            assertion = ASSERTION.match(line.message or "")
            what = "aborted" if assertion else "failed"
            if assertion:
                hint = line.hint if assertion["func"] in PERSONALITY_CHECKS else START_HINT
            else:
                hint = line.hint or START_HINT
            self._tender_error = line.text
            self._set(
                f"the tender {what} before the unikernel started: {line.text}",
                hint,
                f"tender {what}",
                before_start=True,
            )
        elif line.kind in ("tender", "abort", "trap", "exit", "exception"):
            reason = line.text
            if line.kind == "exit":
                status = int(line.fields.get("status", 0))  # type: ignore[call-overload]
                reason = f"the unikernel exited with status {status}: {explain_exit(status)}"
            self._set(reason, line.hint, _short(line))

    exit_seen: bool = False  # systemd's "Main process exited" line for this run has come

    def feed_systemd(self, message: str) -> None:
        m = UNIT_EXIT.search(message)
        if m is not None:
            self.feed_exit(m["code"], int(m["status"]), m["name"])
            return
        # systemd says "NAME.service: Deactivated successfully." about a unit.
        text = message.split(".service: ", 1)[-1]
        if self.reason is None and text.startswith(
            ("Deactivated successfully", "Failed with result", "Start request repeated")
        ):
            self._set("the unit stopped: " + text, None, "stopped")

    def feed_exit(self, code: str, status: int, name: str | None = None) -> None:
        """How the main process ended (`code` as systemd says it: exited, killed, dumped)."""
        self.exit_seen = True
        if code == "exited" and status == GUEST_EXIT and self._console_status is not None:
            status = self._console_status  # virtio: QEMU exits 83 whatever the guest's status
        if code in ("killed", "dumped"):
            # systemd's journal line says "6/ABRT"; `systemctl show` gives the number only
            if name:
                name = name if name.startswith("SIG") else f"SIG{name}"
            else:
                name = signal_name(status)
            if status in STOP_SIGNALS and code == "killed":  # solo5-spt has no handler
                self._stopped(name)
            elif not self.started and (self.reason is None or self.before_start):
                line = f": {self._tender_error}" if self._tender_error else ""
                hint = self.hint if self._tender_error else START_HINT
                self._set(
                    f"the tender aborted before the unikernel started ({name}){line}",
                    hint,
                    f"tender aborted ({name})",
                    before_start=True,
                    replace=True,
                )
            elif self.reason is None:
                what = {11: "crashed", 31: "seccomp kill"}.get(status, "killed")
                self._set(
                    f"the tender was killed by {name} while the unikernel ran",
                    explain_signal(status),
                    f"{what} ({name})",
                )
        elif self.reason is None and status != 0:
            if status == 1 and self._stop_signal is not None:  # solo5-hvt's handler
                self._stopped(signal_name(self._stop_signal))
            elif self.started:
                self._set(
                    f"the unikernel exited with status {status}: {explain_exit(status)}",
                    None,
                    f"exited {status}",
                )
            else:
                self._set(
                    f"the tender exited with status {status} before the unikernel started",
                    START_HINT,
                    f"tender failed (exit {status})",
                    before_start=True,
                )

    def _stopped(self, name: str) -> None:
        """A stop, not a crash: systemd (or a user) sent the tender SIGTERM/SIGINT."""
        self._set(
            f"the unikernel was stopped by {name} (a stop or restart of the unit, not a crash)",
            None,
            f"stopped ({name})",
        )

    def _set(
        self,
        reason: str,
        hint: str | None,
        short: str,
        *,
        before_start: bool = False,
        replace: bool = False,
    ) -> None:
        if self.reason is not None and not replace:
            return
        if hint is not None:
            hint = hint.replace("UNIT", self.unit)
        self.reason, self.hint, self.short, self.before_start = reason, hint, short, before_start


def _short(line: LogLine) -> str:
    if line.kind == "exit":
        return f"exited {line.fields.get('status')}"
    return {"abort": "Solo5 abort", "trap": "CPU trap", "exception": "OCaml exception"}.get(
        line.kind, "tender error"
    )
