"""Block images on a host: made (never over an existing file) or grown, owned by the service
user, mode 0600. Sparse: a new 1 GiB image takes no disk until the unikernel writes to it."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.remote.connection import HostConnection

# $1 user, $2 group; then PATH SIZE pairs. A deploy never truncates an image someone (or
# another deploy) made meanwhile; growing only ever extends (a larger size keeps every byte).
BLOCK_SCRIPT = r"""
set -e
user=$1 group=$2; shift 2
while [ $# -gt 1 ]; do
  path=$1 size=$2; shift 2
  mkdir -p "$(dirname "$path")"
  if [ -e "$path" ]; then
    have=$(stat -L -c %s "$path")
    if [ "$have" -lt "$size" ]; then truncate -s "$size" "$path"; fi
  else
    # Made whole beside it, then linked into place: `ln` never replaces an existing file,
    # and a failure part way leaves no half-made image under the real name.
    tmp="$path.workbench-new.$$"
    rm -f "$tmp"
    (set -C; umask 077; : > "$tmp")
    if ! { truncate -s "$size" "$tmp" && chown "$user:$group" "$tmp" && chmod 0600 "$tmp"; }
    then rm -f "$tmp"; exit 1; fi
    if ! ln "$tmp" "$path"; then rm -f "$tmp"; exit 1; fi
    rm -f "$tmp"
  fi
done
"""


async def make_or_grow(
    conn: HostConnection, user: str, group: str, images: Sequence[tuple[str, int]]
) -> None:
    pairs = [w for path, size in images for w in (path, str(size))]
    await conn.run(
        ["sh", "-c", BLOCK_SCRIPT, "workbench-block", user, group, *pairs],
        what="making block images",
    )
