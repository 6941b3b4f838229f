"""Take one unikernel off a host: its unit, its taps and their files, its owner record; the
bridge and NAT too when nothing else uses them; its releases and block images on --purge.

One script, inputs as positional parameters (never formatted into the text). It prints what it
did as `done WHAT` lines, and `kept-bridge WHY` when the bridge stays.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.remote.connection import HostConnection

# $1 unit, $2 unit file, $3 owner record, $4 bridge ("" for none), $5 "shared" to remove the
# bridge's files when no other port is on it, $6 nft table, $7 release dir to purge (""),
# then: taps, "--", tap files, "--", shared files, "--", block images to purge.
REMOVE_SCRIPT = r"""
unit=$1 unitfile=$2 record=$3 bridge=$4 shared=$5 table=$6 purge=$7; shift 7
taps=; while [ "$1" != -- ]; do taps="$taps $1"; shift; done; shift
tapfiles=; while [ "$1" != -- ]; do tapfiles="$tapfiles $1"; shift; done; shift
sharedfiles=; while [ "$1" != -- ]; do sharedfiles="$sharedfiles $1"; shift; done; shift
say() { printf '%s\n' "$*"; }
if systemctl cat "$unit" >/dev/null 2>&1 || [ -e "$unitfile" ]; then
  systemctl disable --now "$unit" >/dev/null 2>&1
  if systemctl is-active -q "$unit"; then
    echo "$unit is still running after systemctl disable --now: nothing was removed" >&2
    exit 3
  fi
  rm -f "$unitfile"
  systemctl daemon-reload
  systemctl reset-failed "$unit" >/dev/null 2>&1
  say "done unit"
fi
# ifdown first where ifupdown made it (its post-down deletes the tap), then whatever is left.
for t in $taps; do
  ip link show dev "$t" >/dev/null 2>&1 || continue
  command -v ifdown >/dev/null 2>&1 && ifdown --force "$t" >/dev/null 2>&1
  ip link show dev "$t" >/dev/null 2>&1 && ip link del dev "$t"
  say "done tap $t"
done
for f in $tapfiles; do [ -e "$f" ] && rm -f "$f" && say "done file $f"; done
if [ -n "$bridge" ] && [ "$shared" = shared ]; then
  others=$(ls /sys/class/net/"$bridge"/brif 2>/dev/null | tr '\n' ' ')
  if [ -n "$others" ]; then
    say "kept-bridge ports still on it: $others"
  else
    had=; ip link show dev "$bridge" >/dev/null 2>&1 && had=yes
    command -v ifdown >/dev/null 2>&1 && ifdown --force "$bridge" >/dev/null 2>&1
    nft delete table ip "$table" >/dev/null 2>&1 && say "done nat $table"
    ip link show dev "$bridge" >/dev/null 2>&1 && ip link del dev "$bridge"
    [ -n "$had" ] && say "done bridge"
    for f in $sharedfiles; do [ -e "$f" ] && rm -f "$f" && say "done file $f"; done
  fi
fi
if systemctl is-active -q systemd-networkd 2>/dev/null; then networkctl reload; fi
[ -e "$record" ] && rm -f "$record" && say "done owner"
if [ -n "$purge" ]; then
  # The images first, each named (a default one lives inside the release dir).
  for f in "$@"; do [ -e "$f" ] && rm -f "$f" && say "done block $f"; done
  [ -e "$purge" ] && rm -rf "$purge" && say "done purge $purge"
fi
true
"""


@dataclass(frozen=True)
class Removal:
    unit: str
    unit_file: str
    record: str
    bridge: str  # "" in tap-only mode
    drop_shared: bool  # remove the bridge and its files if no port is left on it
    nat_table: str
    taps: tuple[str, ...]
    tap_files: tuple[str, ...]
    shared_files: tuple[str, ...]
    purge_dir: str = ""  # the release directory, on --purge
    block: tuple[str, ...] = ()  # block images, on --purge


@dataclass(frozen=True)
class Removed:
    lines: tuple[str, ...]

    def did(self, what: str) -> list[str]:
        prefix = f"done {what}"
        return [line[len(prefix) :].strip() for line in self.lines if line.startswith(prefix)]

    @property
    def kept_bridge(self) -> str | None:
        why = [line for line in self.lines if line.startswith("kept-bridge ")]
        return why[0].removeprefix("kept-bridge ") if why else None


async def remove(conn: HostConnection, r: Removal) -> Removed:
    argv = [
        "sh",
        "-c",
        REMOVE_SCRIPT,
        "workbench-remove",
        r.unit,
        r.unit_file,
        r.record,
        r.bridge,
        "shared" if r.drop_shared else "",
        r.nat_table,
        r.purge_dir,
        *r.taps,
        "--",
        *r.tap_files,
        "--",
        *r.shared_files,
        "--",
        *r.block,
    ]
    out = await conn.run(argv, timeout=120, what=f"removing {r.unit}")
    return Removed(tuple(out.stdout.splitlines()))
