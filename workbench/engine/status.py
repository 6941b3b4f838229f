"""`workbench status`: arch, KVM, unit state, current release and its age, uptime, restarts,
tender memory, and the last boot's timing, from one script run per host. The TUI's dashboard
refreshes from the same events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from workbench.errors import WorkbenchError
from workbench.events import Event, Status, StepFailed
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import Pool

STATUS_SCRIPT = r"""
rel=$1 unit=$2 user=$3
echo "Arch=$(uname -m)"
if [ -e /dev/kvm ]; then
  if id "$user" >/dev/null 2>&1; then
    runuser -u "$user" -- sh -c 'test -r /dev/kvm && test -w /dev/kvm' 2>/dev/null \
      && echo "Kvm=ok" || echo "Kvm=no access for $user"
  else
    echo "Kvm=present"
  fi
else
  echo "Kvm=missing"
fi
systemctl show "$unit" -p ActiveState -p SubState -p NRestarts -p MainPID \
  -p ExecMainStartTimestampMonotonic -p MemoryCurrent -p Result 2>/dev/null
echo "Now=$(cut -d' ' -f1 /proc/uptime)"
pid=$(systemctl show -P MainPID "$unit" 2>/dev/null)
[ -n "$pid" ] && [ "$pid" != 0 ] && echo "RSS=$(ps -o rss= -p "$pid" | tr -d ' ')"
echo "Current=$(readlink "$rel/current" 2>/dev/null)"
echo "Previous=$(readlink "$rel/previous" 2>/dev/null)"
echo "Release=$(tr -d '\n' < "$rel/current/release.json" 2>/dev/null)"
echo "LastBoot=$(tr -d '\n' < "$rel/last-boot.json" 2>/dev/null)"
"""


def parse_status(text: str) -> dict[str, object]:
    raw = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    fields: dict[str, object] = {
        "arch": raw.get("Arch") or None,
        "kvm": raw.get("Kvm") or None,
        "unit": f"{raw.get('ActiveState', '?')}/{raw.get('SubState', '?')}",
    }
    current = raw.get("Current", "").rsplit("/", 1)[-1]
    fields["release"] = current or None
    release = _json(raw.get("Release", ""))
    if release:
        fields["release_created"] = release.get("created")
        artifact = release.get("artifact") or {}
        fields["artifact"] = artifact.get("name") if isinstance(artifact, dict) else None
    fields["previous"] = raw.get("Previous", "").rsplit("/", 1)[-1] or None
    now = raw.get("Now", "")
    start = raw.get("ExecMainStartTimestampMonotonic", "0")
    if raw.get("ActiveState") == "active" and start.isdigit() and int(start) and now:
        fields["uptime_s"] = round(float(now) - int(start) / 1e6, 1)
    restarts = raw.get("NRestarts", "")
    fields["restarts"] = int(restarts) if restarts.isdigit() else None
    rss = raw.get("RSS", "")
    mem = raw.get("MemoryCurrent", "")
    if mem.isdigit():
        fields["memory_kib"] = int(mem) // 1024
    elif rss.isdigit():
        fields["memory_kib"] = int(rss)
    boot = _json(raw.get("LastBoot", ""))
    if boot:
        fields["last_boot"] = {**(boot.get("phases") or {}), "healthy": boot.get("healthy_after")}
    return fields


def _json(text: str) -> dict[str, object]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


async def status(pool: Pool, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    p = loaded.profile
    try:
        conn = pool.get(host)
        out = await conn.run(
            [
                "sh",
                "-c",
                STATUS_SCRIPT,
                "workbench-status",
                p.release_dir,
                p.unit_name,
                p.service.user,
            ],
            what="reading the unit's status",
        )
        yield Status(host=host, step="status", fields=parse_status(out.stdout))
    except WorkbenchError as exc:
        yield StepFailed(
            host=host,
            step="status",
            message=exc.message,
            hint=exc.hint,
            kind=exc.kind,
            exit_code=exc.exit_code,
        )
