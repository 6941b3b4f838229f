"""The state of a unikernel's unit on a host, in one script run: what `workbench status` and
the dashboard show. The text is parsed by `engine/status.parse_status`."""

from __future__ import annotations

from workbench.remote.connection import HostConnection

# $1 release dir, $2 unit, $3 service user.
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
  -p ExecMainStartTimestampMonotonic -p MemoryCurrent -p Result -p ExecMainCode \
  -p ExecMainStatus 2>/dev/null
echo "Now=$(cut -d' ' -f1 /proc/uptime)"
# virtio/qemu: what the unit runs QEMU with (kvm or tcg), as deploy decided it.
accel=$(grep -o -- ' -accel [a-z]*' "/etc/systemd/system/$unit" 2>/dev/null | head -n 1)
[ -n "$accel" ] && echo "Accel=${accel##* }"
echo "Unit=$unit"
# A unit that is not running: its last run's first and last lines (each auto-restart is a new
# invocation; systemd's own lines carry INVOCATION_ID) and systemd's recent restarts.
case "$(systemctl show -P SubState "$unit" 2>/dev/null)" in auto-restart|failed|dead)
  inv=$(systemctl show -P InvocationID "$unit" 2>/dev/null)
  if [ -n "$inv" ]; then
    q="_SYSTEMD_INVOCATION_ID=$inv + INVOCATION_ID=$inv"
    { journalctl $q -o json --output-fields=MESSAGE,_SYSTEMD_INVOCATION_ID --no-pager \
        2>/dev/null | head -n 20
      journalctl $q -n 20 -o json --output-fields=MESSAGE,_SYSTEMD_INVOCATION_ID --no-pager \
        2>/dev/null; } | sed 's/^/Run /'
  fi
  journalctl UNIT="$unit" _PID=1 -n 40 -o json --output-fields=MESSAGE --no-pager 2>/dev/null \
    | sed 's/^/Sys /'
esac
pid=$(systemctl show -P MainPID "$unit" 2>/dev/null)
[ -n "$pid" ] && [ "$pid" != 0 ] && echo "RSS=$(ps -o rss= -p "$pid" | tr -d ' ')"
echo "Current=$(readlink "$rel/current" 2>/dev/null)"
echo "Previous=$(readlink "$rel/previous" 2>/dev/null)"
echo "Release=$(tr -d '\n' < "$rel/current/release.json" 2>/dev/null)"
echo "PreviousRelease=$(tr -d '\n' < "$rel/previous/release.json" 2>/dev/null)"
echo "LastBoot=$(tr -d '\n' < "$rel/last-boot.json" 2>/dev/null)"
"""


async def read(conn: HostConnection, release_dir: str, unit: str, user: str) -> str:
    out = await conn.run(
        ["sh", "-c", STATUS_SCRIPT, "workbench-status", release_dir, unit, user],
        what="reading the unit's status",
    )
    return out.stdout
