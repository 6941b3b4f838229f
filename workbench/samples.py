"""Metrics samples: what the sampling script printed (remote/sampling.py), parsed, and turned
into the figures front ends show: CPU %, bytes/s, uptime, the Pi's throttling in words.

Pure: text in, values out. Everything in the text is the host's, so numbers are read only when
they are plain digits (workbench.numbers) and names are kept only when the owner record of the
unit names them. Rates need two samples of the same run of a unit; anything else is a gap with a
reason, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench import owners
from workbench.numbers import to_float, to_int
from workbench.textsafe import sanitize

STATS = (
    "rx_bytes", "tx_bytes", "rx_packets", "tx_packets",
    "rx_errors", "tx_errors", "rx_dropped", "tx_dropped",
)  # fmt: skip

# `vcgencmd get_throttled` (Raspberry Pi documentation, "get_throttled"): bit -> words.
THROTTLE_BITS = {
    0: "under-voltage now",
    1: "ARM frequency capped now",
    2: "throttled now",
    3: "soft temperature limit now",
    16: "under-voltage since boot",
    17: "ARM frequency capped since boot",
    18: "throttled since boot",
    19: "soft temperature limit since boot",
}


@dataclass(frozen=True)
class UnitSample:
    owner: owners.Owner
    state: str = "?"
    restarts: int | None = None
    started_usec: int | None = None  # the run's start, CLOCK_MONOTONIC (as `now`)
    cpu_usec: int | None = None
    memory: int | None = None
    memory_peak: int | None = None
    rss_kb: int | None = None
    taps: dict[str, dict[str, int | None]] = field(default_factory=dict)
    gaps: tuple[str, ...] = ()


@dataclass(frozen=True)
class HostSample:
    now: float | None = None  # seconds since the host booted (CLOCK_MONOTONIC, like systemd's)
    load: tuple[float | None, ...] = ()
    cpus: int | None = None
    mem_total_kb: int | None = None
    mem_available_kb: int | None = None
    temperatures: dict[str, float] = field(default_factory=dict)  # zone type -> degrees C
    throttled: int | None = None
    units: tuple[UnitSample, ...] = ()


def decode_throttled(bits: int) -> list[str]:
    """The words for a `get_throttled` value; unknown bits are named by number."""
    return [THROTTLE_BITS.get(b, f"bit {b}") for b in range(32) if bits >> b & 1]


def _throttled(text: str) -> int | None:
    """`throttled=0x50005` -> 0x50005; None when vcgencmd said anything else."""
    value = text.strip().removeprefix("throttled=")
    if value.startswith("0x") and 2 < len(value) <= 10:
        try:
            return int(value, 16)
        except ValueError:
            return None
    return None


def parse_sample(text: str) -> HostSample:
    host: dict[str, str] = {}
    temps: dict[str, float] = {}
    blocks: list[tuple[str, list[str]]] = []
    for line in text.split("\n"):
        if line.startswith("== "):
            blocks.append((line[3:].strip(), []))
        elif blocks:
            blocks[-1][1].append(line)
        else:
            key, sep, value = line.partition("=")
            if not sep:
                continue
            if key.startswith("temp:"):
                milli = to_int(value, signed=True)
                if milli is not None and -100_000 < milli < 200_000:
                    temps.setdefault(sanitize(key[5:])[:40], milli / 1000)
            else:
                host.setdefault(key, value)
    load = tuple(to_float(v) for v in host.get("load", "").split()[:3])
    clk_tck = to_int(host.get("clk_tck")) or None
    return HostSample(
        now=to_float(host.get("now")),
        load=load,
        cpus=to_int(host.get("cpus")),
        mem_total_kb=to_int(host.get("mem_total_kb")),
        mem_available_kb=to_int(host.get("mem_available_kb")),
        temperatures=temps,
        throttled=_throttled(host["throttled"]) if "throttled" in host else None,
        units=tuple(u for unit, lines in blocks if (u := _unit(unit, lines, clk_tck)) is not None),
    )


def _unit(unit: str, lines: list[str], clk_tck: int | None) -> UnitSample | None:
    values: dict[str, str] = {}
    tap_lines: list[str] = []
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key == "tap":
            tap_lines.append(value)
        else:
            values.setdefault(key, value)
    owner = owners.parse_record(values.get("Record", "")[: owners.MAX_RECORD])
    if owner is None or owner.unit != unit:
        return None  # not a record, or one whose name and content disagree
    taps: dict[str, dict[str, int | None]] = {}
    for line in tap_lines:
        name, *counters = line.split()
        if name in owner.taps and len(counters) == len(STATS):
            taps[name] = {k: to_int(v) for k, v in zip(STATS, counters, strict=True)}
    cpu_usec = to_int(values.get("cpu_usec"))
    ticks = [to_int(v) for v in values.get("cpu_ticks", "").split()]
    if cpu_usec is None and clk_tck and len(ticks) == 2 and None not in ticks:
        cpu_usec = (ticks[0] or 0) + (ticks[1] or 0)
        cpu_usec = cpu_usec * 1_000_000 // clk_tck
    gaps = [sanitize(values[k])[:200] for k in ("memory_gap",) if values.get(k)]
    gaps += [f"tap {t} is not on the host" for t in owner.taps if t not in taps]
    return UnitSample(
        owner=owner,
        state=sanitize(values.get("state", "?"))[:40],
        restarts=to_int(values.get("restarts")),
        started_usec=to_int(values.get("started_usec")),
        cpu_usec=cpu_usec,
        memory=to_int(values.get("memory")),
        memory_peak=to_int(values.get("memory_peak")),
        rss_kb=to_int(values.get("rss_kb")),
        taps=taps,
        gaps=tuple(gaps),
    )


def host_fields(cur: HostSample) -> dict[str, object]:
    bits = cur.throttled
    return {
        "uptime_s": cur.now,
        "load": list(cur.load),
        "cpus": cur.cpus,
        "memory_total_bytes": cur.mem_total_kb * 1024 if cur.mem_total_kb is not None else None,
        "memory_available_bytes": (
            cur.mem_available_kb * 1024 if cur.mem_available_kb is not None else None
        ),
        "temperatures_c": dict(cur.temperatures),
        "throttled": None if bits is None else f"{bits:#x}",
        "throttled_words": decode_throttled(bits) if bits is not None else [],
    }


def unit_fields(
    cur: UnitSample, now: float | None, prev: UnitSample | None, dt: float | None
) -> dict[str, object]:
    """A unikernel's figures; rates from `prev` (the same unit `dt` seconds before) only when
    it is the same run (a restart starts CPU time and the taps' counters anew)."""
    same_run = (
        prev is not None
        and dt is not None
        and dt > 0
        and cur.started_usec is not None
        and prev.started_usec == cur.started_usec
    )
    active = cur.state.startswith("active/")
    uptime = None
    if active and now is not None and cur.started_usec:
        uptime = round(max(0.0, now - cur.started_usec / 1e6), 1)
    cpu_percent = None
    if same_run and cur.cpu_usec is not None and prev and prev.cpu_usec is not None and dt:
        used = cur.cpu_usec - prev.cpu_usec
        cpu_percent = round(used / 1e6 / dt * 100, 1) if used >= 0 else None
    # The cgroup's figure (the tender and everything it maps); the process's RSS where the
    # kernel has no memory controller (Raspberry Pi OS disables it by default).
    memory = cur.memory
    if memory is None and cur.rss_kb is not None:
        memory = cur.rss_kb * 1024
    taps: dict[str, dict[str, object]] = {}
    for name, counters in cur.taps.items():
        entry: dict[str, object] = dict(counters)
        before = prev.taps.get(name) if prev is not None else None
        for key in ("rx_bytes", "tx_bytes"):
            rate = None
            if before is not None and dt and dt > 0:
                a, b = before.get(key), counters.get(key)
                if a is not None and b is not None and b >= a:
                    rate = round((b - a) / dt, 1)
            entry[f"{key}_per_s"] = rate
        taps[name] = entry
    return {
        "profile": cur.owner.profile,
        "unit": cur.owner.unit,
        "state": cur.state,
        "restarts": cur.restarts,
        "uptime_s": uptime,
        "cpu_seconds": cur.cpu_usec / 1e6 if cur.cpu_usec is not None else None,
        "cpu_percent": cpu_percent,
        "memory_bytes": memory,
        "memory_peak_bytes": cur.memory_peak,
        "taps": taps,
        "gaps": list(cur.gaps),
    }


def tap_rate(fields: dict[str, object], *keys: str) -> float | None:
    """The sum of `keys` (rx_bytes_per_s, ...) over a unikernel's taps in its fields; None when
    no tap has a rate yet."""
    taps = fields.get("taps")
    rates = [
        r
        for t in (taps.values() if isinstance(taps, dict) else ())
        if isinstance(t, dict)
        for r in (t.get(k) for k in keys)
        if isinstance(r, int | float) and not isinstance(r, bool)
    ]
    return sum(rates) if rates else None
