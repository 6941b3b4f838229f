"""Files on a remote host: atomic text writes, and release uploads that are verified before
they can ever become current.

An upload goes to a staging directory; a finalize script (run with sudo when the login user is
not root) checks every file's sha256, then renames the directory into place. A connection cut
mid-copy leaves only a staging directory, which the next deploy removes; no partial release can
be switched to.
"""

from __future__ import annotations

import os
import secrets
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from workbench.errors import ConnectError, RemoteCommandError, WorkbenchError
from workbench.numbers import to_int
from workbench.remote.connection import HostConnection

# Data reaches the disk before the rename that makes it visible, and the rename before we go
# on: a power cut on a Pi right after a deploy must not leave an empty file in place.
WRITE_SCRIPT = (
    'set -e; mkdir -p "$(dirname "$1")"; tmp="$1.workbench-tmp"; trap \'rm -f "$tmp"\' EXIT; '
    'cat > "$tmp"; '
    'chmod "$2" "$tmp"; sync "$tmp"; mv -f "$tmp" "$1"; sync "$(dirname "$1")"'
)

# $1 stage dir, $2 final dir, $3 release.json content; then pairs: NAME SHA256 MODE ...
FINALIZE_SCRIPT = r"""
set -e
stage=$1 final=$2 meta=$3; shift 3
parent=$(dirname "$final")
mkdir -p "$parent"
tmp="$parent/.tmp-$(basename "$final")-$$"
rm -rf "$tmp"
case "$stage" in
  "$parent"/*) mv -T "$stage" "$tmp" ;;
  *) mkdir -p "$tmp"; cp -a "$stage"/. "$tmp"/; rm -rf "$stage" ;;
esac
while [ $# -gt 0 ]; do
  name=$1 sum=$2 mode=$3; shift 3
  if ! echo "$sum  $tmp/$name" | sha256sum -c --quiet -; then
    echo "hash mismatch: $name" >&2; rm -rf "$tmp"; exit 3
  fi
  chmod "$mode" "$tmp/$name"
done
printf '%s\n' "$meta" > "$tmp/release.json"
chown -R root:root "$tmp" 2>/dev/null || true
chmod 0755 "$tmp"
sync "$tmp"/* "$tmp"
rm -rf "$final"
mv -T "$tmp" "$final"
sync "$parent"
"""

VERIFY_SCRIPT = r"""
dir=$1; shift
while [ $# -gt 0 ]; do
  echo "$2  $dir/$1" | sha256sum -c --quiet - 2>/dev/null || exit 3
  shift 2
done
"""


@dataclass(frozen=True)
class UploadFile:
    local: Path
    name: str
    sha256: str
    size: int
    mode: str  # "0755"


async def write_text(conn: HostConnection, path: str, content: str, mode: str = "0644") -> None:
    """Replace `path` atomically (temp file + rename in the same directory)."""
    await conn.run(
        ["sh", "-c", WRITE_SCRIPT, "workbench-write", path, mode],
        input=content,
        what=f"writing {path}",
    )


async def read_text(conn: HostConnection, path: str) -> str:
    return (await conn.run(["cat", path], what=f"reading {path}")).stdout


async def verify(conn: HostConnection, directory: str, files: list[UploadFile]) -> bool:
    pairs = [w for f in files for w in (f.name, f.sha256)]
    result = await conn.run(
        ["sh", "-c", VERIFY_SCRIPT, "workbench-verify", directory, *pairs],
        check=False,
        what="verifying a release",
    )
    return result.ok


def _has_holes(path: Path, size: int) -> bool:
    """Whether the local file has a hole (a sparse disk image), which asyncssh copies sparse."""
    try:
        with path.open("rb") as f:
            return os.lseek(f.fileno(), 0, os.SEEK_HOLE) < size
    except OSError:  # no SEEK_HOLE on this file system: it has no holes we could see
        return False


async def upload_release(
    conn: HostConnection,
    final_dir: str,
    files: list[UploadFile],
    metadata: str,
    progress: Callable[[int, int], None] | None = None,
    remote_copies: list[tuple[str, str, str, str]] | None = None,
) -> None:
    """Upload `files` and copy `remote_copies` (source path on the host, name, sha256, mode)
    into a staging directory, then verify and rename it to `final_dir`."""
    token = secrets.token_hex(4)
    if conn.host.use_sudo:
        home = (await conn.run(["sh", "-c", "echo $HOME"], sudo=False)).stdout.strip()
        stage = f"{home}/.cache/workbench/upload-{Path(final_dir).parts[-3]}-{token}"
    else:
        stage = f"{Path(final_dir).parent}/.incoming-{token}"
    await conn.run(["mkdir", "-p", stage], sudo=False, what="creating the upload directory")
    total = sum(f.size for f in files)
    done = 0
    try:
        ssh = await conn.connection()
        async with ssh.start_sftp_client() as sftp:
            for item in files:
                base = done

                def handler(
                    _src: bytes, _dst: bytes, copied: int, _total: int, base: int = base
                ) -> None:
                    if progress is not None:
                        progress(base + copied, total)

                # No block_size: asyncssh negotiates OpenSSH's limits (a 256 KiB block plus
                # its header exceeds sftp-server's message cap and the server hangs up).
                dest = f"{stage}/{item.name}"
                await sftp.put(str(item.local), dest, progress_handler=handler)
                if _has_holes(item.local, item.size):
                    # asyncssh's sparse copy (2.24) skips holes but does not extend the file
                    # over a trailing one: a 1 GiB disk image arrived as its first 4 MiB.
                    await sftp.truncate(dest, item.size)
                done += item.size
    except (OSError, asyncssh.Error) as exc:
        conn.invalidate()  # the connection is suspect; the next command reconnects
        if done == 0 and not await _has_sftp_server(conn):
            raise ConnectError(
                f"{conn.host.address} does not offer SFTP ({exc})",
                "install the SFTP server there (Debian: apt-get install openssh-sftp-server) "
                "or enable `Subsystem sftp` in its sshd_config",
                host=conn.name,
            ) from None
        # SFTP (v3) has no "disk full" status: sftp-server reports ENOSPC as plain "Failure".
        free = await _free_kib(conn, stage)
        if free is not None and free < 1024:
            raise RemoteCommandError(
                f"upload to {conn.host.address} failed: no space left on the file system "
                f"holding {stage} ({free} KiB free, {total - done} bytes still to copy)",
                "free space there, lower releases.keep, or move releases.root; nothing was "
                "switched to, and the next deploy removes the partial copy",
                host=conn.name,
            ) from None
        raise ConnectError(
            f"upload to {conn.host.address} failed: {exc}",
            "the release was not switched to; rerun deploy (it resumes from a clean state)",
            host=conn.name,
        ) from None
    for source, name, _sha, _mode in remote_copies or []:
        await conn.run(["cp", source, f"{stage}/{name}"], sudo=False, what=f"copying {source}")
    pairs = [w for f in files for w in (f.name, f.sha256, f.mode)]
    pairs += [w for _src, name, sha, mode in remote_copies or [] for w in (name, sha, mode)]
    result = await conn.run(
        ["sh", "-c", FINALIZE_SCRIPT, "workbench-finalize", stage, final_dir, metadata, *pairs],
        check=False,
        what="finalizing the release",
    )
    if not result.ok:
        detail = result.stderr.strip() or f"exit {result.exit_status}"
        raise RemoteCommandError(
            f"the uploaded release failed verification: {detail}",
            "the copy was corrupted or cut; nothing was switched, rerun deploy",
            host=conn.name,
        )


async def _free_kib(conn: HostConnection, directory: str) -> int | None:
    """Free KiB on the file system holding `directory`, or None if it cannot be told."""
    try:
        result = await conn.run(
            ["df", "-Pk", directory], check=False, sudo=False, timeout=15, what="df"
        )
    except WorkbenchError:  # the connection may be what failed
        return None
    lines = result.stdout.splitlines()
    fields = lines[-1].split() if result.ok and len(lines) >= 2 else []
    return to_int(fields[3]) if len(fields) >= 4 else None


async def _has_sftp_server(conn: HostConnection) -> bool:
    paths = [
        "/usr/lib/openssh/sftp-server",
        "/usr/libexec/openssh/sftp-server",
        "/usr/lib/sftp-server",
        "/usr/libexec/sftp-server",
    ]
    script = 'for p in "$@"; do [ -x "$p" ] && exit 0; done; exit 1'
    try:
        result = await conn.run(
            ["sh", "-c", script, "sftp-check", *paths],
            check=False,
            sudo=False,
            what="looking for sftp-server",
        )
    except ConnectError:
        return True  # cannot tell; report the transfer error itself
    return result.ok


async def clean_stale_uploads(conn: HostConnection, release_dir: str) -> None:
    """Remove staging directories that an interrupted deploy of this unikernel left behind (we
    hold its deploy lock, so none of them is in use): beside the releases, and for a sudo user
    in its ~/.cache/workbench."""
    await conn.run(
        [
            "sh",
            "-c",
            'rm -rf "$1"/releases/.incoming-* "$1"/releases/.tmp-*',
            "workbench-clean",
            release_dir,
        ],
        check=False,
        what="removing stale uploads",
    )
    if conn.host.use_sudo:
        name = Path(release_dir).name
        await conn.run(
            ["sh", "-c", 'rm -rf "$HOME/.cache/workbench/upload-$1-"*', "workbench-clean", name],
            check=False,
            sudo=False,
            what="removing stale uploads",
        )


def shell_quote(words: list[str]) -> str:
    return shlex.join(words)
