"""Copy a block image off a host and back over SFTP, hash-verified at both ends.

SFTP runs as the login user, who (with sudo) cannot read a 0600 image of the service user: the
copy goes through a staging file the login user owns, made and put in place by root. A push
lands beside the image and replaces it with one rename, so the image is never half-written.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from pathlib import Path

import asyncssh

from workbench.errors import ConnectError, RemoteCommandError
from workbench.remote.connection import HostConnection

Progress = Callable[[int, int], None]

# $1 image, $2 stage, $3 login user: copy the image to a stage only the login user can read,
# and hash that copy (a --live image changes after it is copied).
STAGE_OUT = 'set -e; umask 077; cp --sparse=always "$1" "$2"; chown "$3" "$2"; sha256sum "$2"'
# $1 stage, $2 image, $3 sha256, $4 user, $5 group: verify, then one rename over the image.
PUT_BACK = r"""
set -e
stage=$1 img=$2 sha=$3 user=$4 group=$5
have=$(sha256sum "$stage" | cut -d' ' -f1)
if [ "$have" != "$sha" ]; then rm -f "$stage"; echo "sha256 $have, expected $sha" >&2; exit 3; fi
new="$img.workbench-new"
cp --sparse=always "$stage" "$new"; rm -f "$stage"
chown "$user:$group" "$new"; chmod 0600 "$new"; sync "$new"
mv -f "$new" "$img"; sync "$(dirname "$img")"
"""


async def _stage(conn: HostConnection, name: str) -> str:
    home = (await conn.run(["sh", "-c", 'echo "$HOME"'], sudo=False)).stdout.strip()
    await conn.run(["mkdir", "-p", f"{home}/.cache/workbench"], sudo=False)
    return f"{home}/.cache/workbench/{name}-{secrets.token_hex(4)}"


def _sha256(path: Path) -> tuple[str, int]:
    """The file's sha256 and size (in a thread: an image can be gigabytes)."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


async def pull(conn: HostConnection, image: str, local: Path) -> tuple[str, int]:
    """Copy `image` to `local` (via a temporary file, renamed when verified); its sha256 and
    size."""
    stage = await _stage(conn, "block-pull")
    login = conn.host.user
    try:
        out = await conn.run(
            ["sh", "-c", STAGE_OUT, "workbench-block-pull", image, stage, login],
            timeout=3600,
            what=f"copying {image} for download",
        )
        want = out.stdout.split()[0] if out.stdout.split() else ""
        part = local.with_name(local.name + ".part")
        try:
            ssh = await conn.connection()
            async with ssh.start_sftp_client() as sftp:
                await sftp.get(stage, str(part))
        except (OSError, asyncssh.Error) as exc:
            part.unlink(missing_ok=True)
            raise ConnectError(
                f"downloading {image} from {conn.host.address} failed: {exc}",
                "nothing was written to the local file; run the command again",
                host=conn.name,
            ) from None
        got, size = await asyncio.to_thread(_sha256, part)
        if got != want:
            part.unlink(missing_ok=True)
            raise RemoteCommandError(
                f"the copy of {image} does not match the host's: sha256 {got}, host {want}",
                "the transfer was corrupted; run the command again",
                host=conn.name,
            )
        part.replace(local)
        return got, size
    finally:
        await conn.run(["rm", "-f", stage], sudo=False, check=False)


async def push(conn: HostConnection, local: Path, image: str, user: str, group: str) -> str:
    """Put `local` in place of `image` (verified on the host, then one rename); its sha256."""
    sha, _ = await asyncio.to_thread(_sha256, local)
    stage = await _stage(conn, "block-push")
    try:
        ssh = await conn.connection()
        async with ssh.start_sftp_client() as sftp:
            await sftp.put(str(local), stage)
    except (OSError, asyncssh.Error) as exc:
        await conn.run(["rm", "-f", stage], sudo=False, check=False)
        raise ConnectError(
            f"uploading {local} to {conn.host.address} failed: {exc}",
            "the image on the host was not touched; run the command again",
            host=conn.name,
        ) from None
    result = await conn.run(
        ["sh", "-c", PUT_BACK, "workbench-block-push", stage, image, sha, user, group],
        check=False,
        timeout=3600,
        what=f"putting {image} in place",
    )
    if not result.ok:
        await conn.run(["rm", "-f", stage], sudo=False, check=False)
        raise RemoteCommandError(
            f"the uploaded image failed verification ({result.stderr.strip()}); "
            f"{image} was not touched",
            "the transfer was corrupted; run the command again",
            host=conn.name,
        )
    return sha
