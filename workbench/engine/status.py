"""`workbench status`: arch, KVM, unit state, current release and its age, uptime, restarts,
tender memory, and the last boot's timing, from one script run per host. The TUI's dashboard
refreshes from the same events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from workbench import bootlog, runwatch
from workbench.engine import health
from workbench.errors import WorkbenchError
from workbench.events import Event, Status, StepFailed
from workbench.numbers import to_float, to_int
from workbench.profiles.loader import LoadedProfile
from workbench.profiles.models import LogCheck, Profile
from workbench.remote import unitstate
from workbench.remote.connection import HostConnection, Pool
from workbench.textsafe import sanitize


def parse_status(text: str) -> dict[str, object]:
    lines = text.splitlines()
    journal = [line for line in lines if line.startswith(("Run ", "Sys "))]
    raw = dict(line.split("=", 1) for line in lines if "=" in line and line not in journal)
    # Every string comes from the host: shown literally, without terminal controls.
    # (The JSON ones are parsed first: their strings are cleaned once decoded.)
    raw = {
        k: v if k in ("Release", "PreviousRelease", "LastBoot") else sanitize(v)
        for k, v in raw.items()
    }
    fields: dict[str, object] = {
        "arch": raw.get("Arch") or None,
        "kvm": raw.get("Kvm") or None,
        "runtime": None,  # the current release's Solo5 target (hvt, spt): its tender
        "unit": f"{raw.get('ActiveState', '?')}/{raw.get('SubState', '?')}",
    }
    current = raw.get("Current", "").rsplit("/", 1)[-1]
    fields["release"] = current or None
    release = _json(raw.get("Release", ""))
    if release:
        fields["release_created"] = _text(release.get("created"))
        artifact = release.get("artifact") or {}
        fields["artifact"] = _text(artifact.get("name")) if isinstance(artifact, dict) else None
        abi = artifact.get("abi") if isinstance(artifact, dict) else None
        fields["runtime"] = _text(abi.get("target")) if isinstance(abi, dict) else None
        if release.get("runtime") == "qemu":  # a generic QEMU guest: no Solo5 target
            fields["runtime"] = "qemu"
    if raw.get("Accel") in ("kvm", "tcg"):  # virtio/qemu: as the unit runs QEMU
        fields["accel"] = raw["Accel"]
    fields["previous"] = raw.get("Previous", "").rsplit("/", 1)[-1] or None
    if fields["previous"]:
        fields["previous_created"] = _text(_json(raw.get("PreviousRelease", "")).get("created"))
    now = raw.get("Now", "")
    start = raw.get("ExecMainStartTimestampMonotonic", "0")
    start_us, now_s = to_int(start), to_float(now)
    if raw.get("ActiveState") == "active" and start_us and now_s is not None:
        fields["uptime_s"] = round(now_s - start_us / 1e6, 1)
    fields["restarts"] = to_int(raw.get("NRestarts", ""))
    rss = raw.get("RSS", "")
    mem = raw.get("MemoryCurrent", "")
    if (mem_b := to_int(mem)) is not None:
        fields["memory_kib"] = mem_b // 1024
    elif (rss_kib := to_int(rss)) is not None:
        fields["memory_kib"] = rss_kib
    if raw.get("SubState") in ("auto-restart", "failed") or (
        raw.get("ActiveState") == "inactive" and raw.get("Result", "success") != "success"
    ):
        fields.update(_last_run(journal, raw, fields.get("restarts")))
    boot = _json(raw.get("LastBoot", ""))
    if boot:
        phases = boot.get("phases")
        fields["last_boot"] = {
            **(phases if isinstance(phases, dict) else {}),
            "healthy": boot.get("healthy_after"),
        }
    return fields


def _last_run(journal: list[str], raw: dict[str, str], restarts: object) -> dict[str, object]:
    """What ended the last run, and for a unit systemd keeps restarting, how fast it loops:
    "restarting: 4 restarts in 9 s, last: tender aborted (SIGABRT)"."""
    run = runwatch.RunWatch(unit=raw.get("Unit") or "UNIT")
    seen: set[str] = set()
    first_restart: float | None = None
    for line in journal:
        entry = _json(line[4:])
        message = entry.get("MESSAGE")
        cursor = entry.get("__CURSOR")
        if not isinstance(message, str) or (isinstance(cursor, str) and cursor in seen):
            continue  # not text (journald keeps binary messages as byte arrays), or seen
        if isinstance(cursor, str):
            seen.add(cursor)
        message = sanitize(message)
        if line.startswith("Sys "):
            if message.endswith("restart counter is at 1."):
                us = to_int(entry.get("__MONOTONIC_TIMESTAMP"))
                first_restart = us / 1e6 if us is not None else None
        elif "_SYSTEMD_INVOCATION_ID" in entry:
            run.feed(bootlog.classify(message))
        else:
            run.feed_systemd(message)
    # journald may not have the exit line yet; systemd's own record of it is immediate.
    code = {"1": "exited", "2": "killed", "3": "dumped"}.get(raw.get("ExecMainCode", ""))
    status = to_int(raw.get("ExecMainStatus", ""))
    if not run.exit_seen and code and status is not None:
        run.feed_exit(code, status)
    out: dict[str, object] = {}
    if run.reason is not None:
        out["last_exit"], out["last_exit_hint"] = run.reason, run.hint
    state = "restarting" if raw.get("SubState") == "auto-restart" else "failed"
    summary = state
    now = to_float(raw.get("Now"))
    if isinstance(restarts, int) and restarts:
        summary += f": {restarts} restart{'s' if restarts != 1 else ''}"
        if first_restart is not None and now is not None and now >= first_restart:
            summary += f" in {now - first_restart:.0f} s"
    if run.short:
        summary += f"{',' if ':' in summary else ':'} last: {run.short}"
    out["crash_loop"] = summary
    return out


async def _health(conn: HostConnection, p: Profile, fields: dict[str, object]) -> dict[str, str]:
    """Does it answer, now: "active/running" is not "answers HTTP". One probe of the profile's
    check, for a running unit only; a log check was judged at boot (the last boot's record)."""
    if p.health is None:
        return {"health": "none", "health_detail": "the profile has no health check"}
    if fields.get("unit") != "active/running":
        return {}
    what = health.describe(p)
    if isinstance(p.health, LogCheck):
        boot = fields.get("last_boot")
        matched = isinstance(boot, dict) and isinstance(boot.get("healthy"), int | float)
        verdict = "matched at boot" if matched else "not matched at the last boot"
        return {"health": "ok" if matched else "unknown", "health_detail": f"{what}: {verdict}"}
    ok, said = await health.probe(conn, p)
    return {"health": "ok" if ok else "failing", "health_detail": f"{what}: {sanitize(said)}"}


def _text(value: object) -> str | None:
    return sanitize(value) if isinstance(value, str) else None


def _json(text: str) -> dict[str, object]:
    try:
        value = json.loads(text) if text else {}
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." from a hostile host
        return {}
    return value if isinstance(value, dict) else {}


async def status(pool: Pool, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    p = loaded.profile
    try:
        conn = pool.get(host)
        text = await unitstate.read(conn, p.release_dir, p.unit_name, p.service.user)
        fields = parse_status(text)
        fields.update(await _health(conn, p, fields))
        yield Status(host=host, step="status", fields=fields)
    except WorkbenchError as exc:
        yield StepFailed(
            host=host,
            step="status",
            message=exc.message,
            hint=exc.hint,
            kind=exc.kind,
            exit_code=exc.exit_code,
        )
