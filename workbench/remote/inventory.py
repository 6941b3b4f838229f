"""Every workbench unikernel on a host, whoever deployed it: one script run that reads each
owner record (workbench/owners.py) and its unit's state. What `workbench ps` shows."""

from __future__ import annotations

from workbench.remote.connection import HostConnection

# A record's file name is its unit's without `.service`; its release dir is read from the
# record (our own compact JSON) only to find `current`, and checked against the parsed record.
PS_SCRIPT = r"""
now=$(cut -d' ' -f1 /proc/uptime)
for f in /etc/workbench/owners/*.json; do
  [ -f "$f" ] || continue
  unit=$(basename "$f" .json).service
  rec=$(head -c 4096 "$f" | tr -d '\n\r')
  rel=$(printf '%s' "$rec" | sed -n 's/.*"release_dir":"\([^"]*\)".*/\1/p')
  echo "== $unit"
  echo "Record=$rec"
  systemctl show "$unit" -p ActiveState -p SubState -p NRestarts -p UnitFileState \
    -p ExecMainStartTimestampMonotonic -p MemoryCurrent 2>/dev/null
  pid=$(systemctl show -P MainPID "$unit" 2>/dev/null)
  [ -n "$pid" ] && [ "$pid" != 0 ] && echo "RSS=$(ps -o rss= -p "$pid" | tr -d ' ')"
  echo "Now=$now"
  echo "ReleaseDir=$rel"
  [ -n "$rel" ] && echo "Current=$(readlink "$rel/current" 2>/dev/null)"
  # The tender in the current release names its runtime (solo5-hvt, solo5-spt); a virtio
  # kernel runs under the host's QEMU.
  for t in "$rel"/current/solo5-*; do [ -n "$rel" ] && [ -f "$t" ] && echo "Tender=${t##*/}"; done
  for t in "$rel"/current/*.virtio; do
    [ -n "$rel" ] && [ -f "$t" ] && echo "Tender=qemu-system-x86_64"
  done
  for t in disk.raw disk.qcow2 kernel; do
    [ -n "$rel" ] && [ -f "$rel/current/$t" ] && echo "Tender=qemu"
  done
done
true
"""


async def read(conn: HostConnection) -> str:
    out = await conn.run(["sh", "-c", PS_SCRIPT, "workbench-ps"], what="listing unikernels")
    return out.stdout
