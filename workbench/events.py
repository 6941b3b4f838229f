"""What the engine tells its front ends: frozen, JSON-able events, each with a host and a step.

The engine never prints. `workbench.headless` turns events into lines or NDJSON; the TUI turns
them into messages. `to_dict()` is the --json schema (documented in the README).
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import MISSING, dataclass, field, fields
from time import time as _now

from workbench.errors import WorkbenchError


@functools.cache
def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True, kw_only=True)
class Event:
    host: str
    step: str
    at: float = field(default_factory=time.time)
    unikernel: str = ""  # which of the profile's unikernels (set by engine.runner.tagged)

    @property
    def event_type(self) -> str:
        return _snake(type(self).__name__)

    def to_dict(self) -> dict[str, object]:
        # Shallow on purpose: dataclasses.asdict deep-copies every value and was half the CPU
        # of `logs -f --json` at 20,000 lines/s. Field values are JSON-able as they are.
        return {"event": self.event_type, **self.__dict__}


@dataclass(frozen=True, kw_only=True)
class StepStarted(Event):
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class StepFinished(Event):
    changed: bool = False
    detail: str = ""
    seconds: float = 0.0
    hint: str | None = None  # what to do, when the step is a retry after a failure


@dataclass(frozen=True, kw_only=True)
class StepFailed(Event):
    message: str
    hint: str | None = None
    kind: str = "error"
    exit_code: int = 1
    seconds: float = 0.0


@dataclass(frozen=True, kw_only=True)
class UploadProgress(Event):
    done: int
    total: int


@dataclass(frozen=True, kw_only=True)
class Fact(Event):
    """One preflight fact: ok True/False, or None for information only."""

    name: str
    value: str
    ok: bool | None = None
    hint: str | None = None


@dataclass(frozen=True, kw_only=True)
class FileDiff(Event):
    path: str
    purpose: str
    status: str  # new, changed, unchanged
    diff: str = ""


@dataclass(frozen=True, kw_only=True)
class LogLine(Event):
    """A journal line of the unit, classified by workbench.bootlog; text is raw (untrusted)."""

    kind: str
    level: str
    text: str
    source: str | None = None
    hint: str | None = None
    cursor: str = ""
    time: float = 0.0  # when the host's journal recorded it
    origin: str = "unikernel"  # unikernel, or systemd for the unit's lifecycle messages


# Every journal line becomes a LogLine: at 20,000 lines/s, the frozen dataclass's __init__ (each
# of its 13 fields set through object.__setattr__, 4.6 us) was a fifth of a line's cost. This
# fills the same fields, in the same order, at once (2.0 us); tests/unit/test_events.py checks
# that it makes what LogLine(...) makes.
_LOG_LINE_FIELDS = {f.name: None if f.default is MISSING else f.default for f in fields(LogLine)}


def log_line(
    *,
    host: str,
    step: str,
    kind: str,
    level: str,
    text: str,
    source: str | None = None,
    hint: str | None = None,
    cursor: str = "",
    time: float = 0.0,
    origin: str = "unikernel",
) -> LogLine:
    event = object.__new__(LogLine)
    values = event.__dict__
    values.update(_LOG_LINE_FIELDS)
    values.update(
        host=host,
        step=step,
        at=_now(),
        kind=kind,
        level=level,
        text=text,
        source=source,
        hint=hint,
        cursor=cursor,
        time=time,
        origin=origin,
    )
    return event


@dataclass(frozen=True, kw_only=True)
class BootPhase(Event):
    phase: str
    seconds: float  # since the unit was started


@dataclass(frozen=True, kw_only=True)
class HealthResult(Event):
    ok: bool
    target: str
    detail: str
    seconds: float
    attempts: int = 1


@dataclass(frozen=True, kw_only=True)
class RolledBack(Event):
    from_release: str
    to_release: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class Status(Event):
    fields: dict[str, object]


@dataclass(frozen=True, kw_only=True)
class HostMetrics(Event):
    """A host's sample: load, memory, temperatures, throttling; `gaps` says what is missing."""

    fields: dict[str, object]


@dataclass(frozen=True, kw_only=True)
class UnikernelMetrics(Event):
    """One unikernel's sample (`unikernel` set): CPU, memory, restarts, uptime, its taps."""

    fields: dict[str, object]


@dataclass(frozen=True, kw_only=True)
class BuildLine(Event):
    """A line of build output (stdout or stderr of a command in the container); untrusted."""

    stream: str
    text: str


@dataclass(frozen=True, kw_only=True)
class BuildResult(Event):
    """A built (or cached) artifact and its tender, on this machine, with build metadata."""

    artifact: str
    tender: str  # "" for virtio: the host's QEMU runs it
    cached: bool
    meta: dict[str, object]


@dataclass(frozen=True, kw_only=True)
class HostDone(Event):
    ok: bool
    changed: bool = False
    release: str | None = None
    summary: str = ""
    exit_code: int = 0


def event_types() -> dict[str, type[Event]]:
    """Every event class by its JSON name ("step_finished" -> StepFinished)."""
    found: dict[str, type[Event]] = {}
    pending: list[type[Event]] = [Event]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found[_snake(sub.__name__)] = sub
            pending.append(sub)
    return found


def from_dict(data: dict[str, object]) -> Event:
    """The inverse of `to_dict()`: read back an event of a --json stream (replays, tests)."""
    fields = dict(data)
    name = fields.pop("event", None)
    cls = event_types().get(str(name))
    if cls is None:
        raise ValueError(f"not a workbench event: {name!r}")
    return cls(**fields)  # type: ignore[arg-type]


def failure(
    host: str,
    step: str,
    exc: WorkbenchError,
    *,
    seconds: float = 0.0,
    changed: bool = False,
    release: str | None = None,
) -> tuple[StepFailed, HostDone]:
    """The two events that end a host's stream on a WorkbenchError; `changed` and `release`
    say what the host was left with."""
    return (
        StepFailed(
            host=host,
            step=step,
            message=exc.message,
            hint=exc.hint,
            kind=exc.kind,
            exit_code=exc.exit_code,
            seconds=seconds,
        ),
        HostDone(
            host=host,
            step="done",
            ok=False,
            changed=changed,
            release=release,
            summary=exc.message,
            exit_code=exc.exit_code,
        ),
    )
