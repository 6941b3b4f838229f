"""One metrics sample of a host: every workbench unikernel on it (from the owner records) and the
host itself, in one script run. Parsed by `workbench.samples.parse_sample`.

Cheap on purpose, as it runs every few seconds on a Pi: one `systemctl show` for all the units
and shell builtins (`read`) for every file, so no process is started per unikernel or per tap.
"""

from __future__ import annotations

from workbench.remote.connection import HostConnection

# Sections: host lines (`key=value`), then per unit `== UNIT` and its lines; `tap=NAME ...` has
# the counters of one interface the unit's record names, in STATS order.
SAMPLE_SCRIPT = r"""
kv() { printf '%s=%s\n' "$1" "$2"; }
read -r up _ < /proc/uptime; kv now "$up"
read -r l1 l5 l15 _ < /proc/loadavg; kv load "$l1 $l5 $l15"
kv cpus "$(getconf _NPROCESSORS_ONLN 2>/dev/null)"
kv clk_tck "$(getconf CLK_TCK 2>/dev/null)"
while read -r k v _; do
  case $k in MemTotal:) kv mem_total_kb "$v";; MemAvailable:) kv mem_available_kb "$v";; esac
done < /proc/meminfo
for z in /sys/class/thermal/thermal_zone*; do
  [ -r "$z/temp" ] || continue
  t=; ty=; read -r t 2>/dev/null < "$z/temp"; read -r ty 2>/dev/null < "$z/type"
  [ -n "$t" ] && kv "temp:${ty:-${z##*/}}" "$t"
done
if command -v vcgencmd >/dev/null 2>&1; then kv throttled "$(vcgencmd get_throttled 2>&1)"; fi
set --
for f in /etc/workbench/owners/*.json; do
  [ -f "$f" ] || continue; n=${f##*/}; set -- "$@" "${n%.json}.service"
done
[ $# -gt 0 ] || exit 0
props=$(systemctl show -p Id -p ActiveState -p SubState -p NRestarts \
  -p ExecMainStartTimestampMonotonic -p ControlGroup -p MainPID -- "$@" 2>/dev/null)
emit() {
  [ -n "$id" ] || return 0
  echo "== $id"
  rec=; read -r rec 2>/dev/null < "/etc/workbench/owners/${id%.service}.json"
  kv Record "$rec"
  kv state "$as/$ss"; kv restarts "$nr"; kv started_usec "$st"
  # cgroup v2 (unified), or the v2 tree of a hybrid layout (cpu.stat) and v1's memory tree.
  cg=
  for base in /sys/fs/cgroup /sys/fs/cgroup/unified; do
    [ -n "$cgroup" ] && [ -f "$base$cgroup/cpu.stat" ] && cg=$base$cgroup && break
  done
  if [ -n "$cg" ]; then
    while read -r a b; do [ "$a" = usage_usec ] && kv cpu_usec "$b"; done < "$cg/cpu.stat"
  fi
  v1=/sys/fs/cgroup/memory$cgroup
  if [ -n "$cg" ] && [ -r "$cg/memory.current" ]; then
    read -r m < "$cg/memory.current"; kv memory "$m"
    [ -r "$cg/memory.peak" ] && read -r m < "$cg/memory.peak" && kv memory_peak "$m"
  elif [ -n "$cgroup" ] && [ -r "$v1/memory.usage_in_bytes" ]; then
    read -r m < "$v1/memory.usage_in_bytes"; kv memory "$m"
    read -r m < "$v1/memory.max_usage_in_bytes" && kv memory_peak "$m"
  elif [ "$as" = active ]; then
    kv memory_gap "no memory cgroup for the unit: the tender's RSS instead"
  fi 2>/dev/null
  if [ -n "$pid" ] && [ "$pid" != 0 ]; then
    while read -r a b _; do [ "$a" = VmRSS: ] && kv rss_kb "$b"; done < "/proc/$pid/status"
    # No cgroup CPU figure: the tender's own (utime + stime, in clock ticks).
    if [ -z "$cg" ] && read -r st_line < "/proc/$pid/stat"; then
      set -- ${st_line##*) }; kv cpu_ticks "${12} ${13}"
    fi
  fi 2>/dev/null
  for t in /sys/class/net/*; do
    n=${t##*/}
    case $rec in *"\"$n\""*) ;; *) continue;; esac
    s=$t/statistics; line=$n
    for c in rx_bytes tx_bytes rx_packets tx_packets rx_errors tx_errors rx_dropped tx_dropped
    do v=; read -r v 2>/dev/null < "$s/$c"; line="$line ${v:--}"; done
    kv tap "$line"
  done
  id= as= ss= nr= st= cgroup= pid=
}
id= as= ss= nr= st= cgroup= pid=
while IFS='=' read -r k v; do
  case $k in
    '') emit;;
    Id) id=$v;; ActiveState) as=$v;; SubState) ss=$v;; NRestarts) nr=$v;;
    ExecMainStartTimestampMonotonic) st=$v;; ControlGroup) cgroup=$v;; MainPID) pid=$v;;
  esac
done <<EOF
$props
EOF
emit
"""


async def read(conn: HostConnection) -> str:
    out = await conn.run(["sh", "-c", SAMPLE_SCRIPT, "workbench-sample"], what="sampling metrics")
    return out.stdout
