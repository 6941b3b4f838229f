"""What a unikernel's status says as text, the same in `workbench status` and on the dashboard:
its last boot, its health, and the aligned table the headless command prints. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from workbench.numbers import human_bytes, human_seconds
from workbench.textsafe import sanitize

HEALTH_WORDS = {"ok": "healthy", "failing": "FAILING", "unknown": "unknown", "none": "no check"}


def last_boot(fields: dict[str, object]) -> str:
    """`0.20 s`: when the last boot was healthy (or its last phase, when no check passed)."""
    boot = fields.get("last_boot")
    if not isinstance(boot, dict):
        return "-"
    healthy = boot.get("healthy")
    if isinstance(healthy, int | float):
        return f"{healthy:.2f} s"
    times = [v for v in boot.values() if isinstance(v, int | float)]
    return f"{max(times):.2f} s" if times else "-"


def health_word(fields: dict[str, object]) -> str:
    """healthy / FAILING / unknown / no check; "-" when nothing was probed (a unit that is not
    running answers nothing)."""
    return HEALTH_WORDS.get(str(fields.get("health")), "-")


def memory(fields: dict[str, object]) -> str:
    kib = fields.get("memory_kib")
    return human_bytes(kib * 1024) if isinstance(kib, int) and not isinstance(kib, bool) else "-"


def table(rows: Sequence[tuple[str, str, dict[str, object]]], *, several: bool) -> list[str]:
    """`workbench status` as an aligned table (host, unikernel when the profile has several,
    then what the dashboard shows), and under it what needs saying per row: a crash loop, its
    last exit and fix, a failing health check."""
    head = ["HOST", *(["UNIKERNEL"] if several else []), "RUNTIME", "UNIT", "HEALTH"]
    head += ["RELEASE", "UPTIME", "RESTARTS", "MEMORY", "BOOT"]
    body = []
    notes = []
    for host, unikernel, f in rows:
        unit = str(f.get("unit", "-"))
        if f.get("crash_loop"):
            unit = str(f["crash_loop"]).split(":", 1)[0]
        body.append(
            [
                host,
                *([unikernel] if several else []),
                str(f.get("runtime") or "-"),
                unit,
                health_word(f),
                str(f["release"])[:16] if f.get("release") else "-",
                human_seconds(f.get("uptime_s")),
                str(f["restarts"]) if isinstance(f.get("restarts"), int) else "-",
                memory(f),
                last_boot(f),
            ]
        )
        who = f"{host}/{unikernel}" if several else host
        if f.get("crash_loop"):
            notes.append(f"{who}: {f['crash_loop']}")
            if f.get("last_exit"):
                notes.append(f"  {f['last_exit']}")
            if f.get("last_exit_hint"):
                notes.append(f"  fix: {f['last_exit_hint']}")
        if f.get("health") in ("failing", "unknown") and f.get("health_detail"):
            notes.append(f"{who}: health {f['health_detail']}")
    cells = [head, *[[sanitize(c) for c in row] for row in body]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return lines + (["", *notes] if notes else [])


def age(created: object, now: float) -> str | None:
    """`3h 12m old` for a release's ISO creation time; None when it is not one."""
    if not isinstance(created, str):
        return None
    try:
        when = datetime.fromisoformat(created).timestamp()
    except ValueError:
        return None
    return f"{human_seconds(max(0.0, now - when))} old"


def release_line(fields: dict[str, object], which: str, now: float) -> str:
    """`8be16197d318c505 (3h 12m old)` for "release" (the current one) or "previous"."""
    name = fields.get(which)
    if not name:
        return "none"
    created = fields.get("release_created" if which == "release" else "previous_created")
    how_old = age(created, now)
    return f"{name} ({how_old})" if how_old else str(name)
