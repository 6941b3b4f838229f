"""Releases on a host: switching `current`, pruning old ones, the boot record, the service
user, and asking a release's tender its version."""

from __future__ import annotations

from workbench.remote import files
from workbench.remote.connection import HostConnection

SWITCH_SCRIPT = (
    'set -e; cd "$1"; ln -sfn "releases/$2" current.workbench-new; '
    "mv -T current.workbench-new current; "
    'if [ -n "$3" ]; then ln -sfn "releases/$3" previous.workbench-new; '
    "mv -T previous.workbench-new previous; fi; sync ."
)

PRUNE_SCRIPT = (
    'cd "$1/releases" 2>/dev/null || exit 0; n=0; '
    "for r in $(ls -1t); do n=$((n+1)); "
    '[ "$r" = "$2" ] || [ "$r" = "$3" ] || [ $n -le "$4" ] || rm -rf -- "$r"; done'
)


async def switch_current(conn: HostConnection, release_dir: str, rid: str, old: str | None) -> None:
    """Point `current` at releases/RID (and `previous` at OLD), each by an atomic rename."""
    await conn.run(
        ["sh", "-c", SWITCH_SCRIPT, "workbench-switch", release_dir, rid, old or ""],
        what="switching current",
    )


async def current(conn: HostConnection, release_dir: str) -> str | None:
    """The release `current` points at, if any."""
    out = await conn.run(["readlink", f"{release_dir}/current"], check=False, sudo=False)
    return out.stdout.strip().rsplit("/", 1)[-1] or None


async def prune(
    conn: HostConnection, release_dir: str, keep: int, current: str, previous: str | None
) -> None:
    """Remove releases beyond the newest `keep`, never the current or the previous one."""
    await conn.run(
        [
            "sh",
            "-c",
            PRUNE_SCRIPT,
            "workbench-prune",
            release_dir,
            current,
            previous or "",
            str(keep),
        ],
        check=False,
        what="pruning old releases",
    )


async def write_boot_record(conn: HostConnection, release_dir: str, text: str) -> None:
    await files.write_text(conn, f"{release_dir}/last-boot.json", text)


async def tender_version_text(conn: HostConnection, path: str) -> str:
    """What `TENDER --version` prints (Solo5 tenders print it on stderr)."""
    result = await conn.run([path, "--version"], check=False, sudo=False, what=f"{path} --version")
    return result.stderr + result.stdout


async def create_service_user(conn: HostConnection, user: str, group: str) -> None:
    await conn.run(
        [
            "sh",
            "-c",
            'getent group "$1" >/dev/null || groupadd --system "$1"',
            "workbench-group",
            group,
        ],
        what=f"creating group {group}",
    )
    await conn.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--gid",
            group,
            "--groups",
            "kvm",
            user,
        ],
        what=f"creating user {user}",
    )


POINTERS_SCRIPT = (
    'echo "current=$(readlink "$1/current")"; echo "previous=$(readlink "$1/previous")"; '
    'echo "releases=$(ls -1 "$1/releases" 2>/dev/null | grep -v "^[.]" | tr "\\n" " ")"'
)


async def pointers(conn: HostConnection, release_dir: str) -> tuple[str, str, list[str]]:
    """(current, previous, releases on the host); "" for a pointer that is not set."""
    out = await conn.run(
        ["sh", "-c", POINTERS_SCRIPT, "workbench-releases", release_dir], what="reading releases"
    )
    info = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    return (
        info.get("current", "").rsplit("/", 1)[-1],
        info.get("previous", "").rsplit("/", 1)[-1],
        info.get("releases", "").split(),
    )


# The tender each release holds (solo5-hvt, solo5-spt), or the host's QEMU for a virtio kernel
# (which no release holds), or "qemu:FILE" for a generic guest (what the unit boots: a kernel,
# a raw or a qcow2 disk): the runtime it was deployed for.
TENDERS_SCRIPT = (
    'rel=$1; shift; for r in "$@"; do t=; for f in "$rel/releases/$r"/solo5-*; do '
    '[ -f "$f" ] && t=${f##*/}; done; for f in "$rel/releases/$r"/*.virtio; do '
    '[ -f "$f" ] && t=qemu-system-x86_64; done; for f in disk.raw disk.qcow2 kernel; do '
    '[ -f "$rel/releases/$r/$f" ] && t=qemu:$f; done; printf "%s=%s\\n" "$r" "$t"; done'
)


async def tenders(conn: HostConnection, release_dir: str, *rids: str) -> dict[str, str]:
    """Release -> the name of the tender in it, qemu-system-x86_64 for a virtio one ("" when
    it has none, or is not there)."""
    out = await conn.run(
        ["sh", "-c", TENDERS_SCRIPT, "workbench-tenders", release_dir, *rids],
        what="reading the releases' tenders",
    )
    found = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    return {rid: found.get(rid, "") for rid in rids}
