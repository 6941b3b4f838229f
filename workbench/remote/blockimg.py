"""Block images on a host: made (never over an existing file) or grown, owned by the service
user, mode 0600. Sparse: a new 1 GiB image takes no disk until the unikernel writes to it."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.remote.connection import HostConnection

# $1 user, $2 group; then PATH SIZE pairs. `set -C` makes `>` refuse an existing file, so a
# deploy never truncates an image someone (or another deploy) made meanwhile; growing only
# ever extends (truncate to a larger size keeps every byte).
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
    (set -C; umask 077; : > "$path")
    truncate -s "$size" "$path"
    chown "$user:$group" "$path"
    chmod 0600 "$path"
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
