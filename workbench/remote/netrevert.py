"""Apply a network change that can cut the operator off (bridge-uplink), with a dead man's
switch: before anything changes, the host schedules its own revert; only a fresh SSH
connection after the change, within network.confirm_timeout seconds, cancels it.

The revert restores every managed file (or removes it if it did not exist), takes the uplink
out of the bridge, removes a bridge that did not exist before, and re-applies the backend's
config, so the host's own uplink configuration is back.
"""

from __future__ import annotations

import asyncio
import shlex
import time

from workbench.errors import ConnectError, RemoteCommandError, RemoteTimeout
from workbench.remote.connection import HostConnection

BACKUP_SCRIPT = r"""
set -e
backup=$1; shift
mkdir -p "$backup"
i=0
for p in "$@"; do
  if [ -e "$p" ]; then cp -a "$p" "$backup/$i"; fi
  i=$((i+1))
done
"""


# The host speaks first after its addresses moved between the bridge and the uplink (which
# have different MACs): a ping to the default gateway refreshes the gateway's ARP entry for us.
# Without it the LAN (or QEMU's user network) keeps sending to the old MAC and the host stays
# unreachable until that entry expires, however right its configuration is.
ANNOUNCE = (
    "sleep 2\n"
    "gw=$(ip route show default | awk '{print $3; exit}')\n"
    '[ -n "$gw" ] && ping -c 3 -W 1 "$gw" >/dev/null 2>&1'
)


def revert_script(
    backup: str, paths: list[str], backend: str, uplink: str, bridge: str, bridge_existed: bool
) -> str:
    q = shlex.quote
    lines = ["#!/bin/sh", "# workbench: undo a bridge-uplink change that was not confirmed"]
    for i, path in enumerate(paths):
        lines.append(
            f"if [ -e {q(f'{backup}/{i}')} ]; then cp -a {q(f'{backup}/{i}')} "
            f"{q(path)}; else rm -f {q(path)}; fi"
        )
    if backend == "ifupdown":
        lines.append(f"ifdown --force {q(bridge)} 2>/dev/null")
    lines.append(f"ip link set dev {q(uplink)} nomaster 2>/dev/null")
    if not bridge_existed:
        lines.append(f"ip link del {q(bridge)} 2>/dev/null")
    if backend == "ifupdown":
        lines.append(f"ifup {q(uplink)} 2>/dev/null")
    else:
        lines += ["networkctl reload", f"networkctl reconfigure {q(uplink)}"]
    lines += ANNOUNCE.splitlines()
    lines.append(f"echo reverted > {q(f'{backup}/reverted')}")
    return "\n".join(lines) + "\n"


def timer_unit(name: str) -> str:
    return f"workbench-netrevert-{name}"


async def arm(
    conn: HostConnection,
    backup: str,
    paths: list[str],
    script: str,
    unit: str,
    seconds: int,
) -> None:
    """Back up the files and schedule the revert (and the announcement that follows the change)
    before anything is changed, so both run even if the change takes our connection away."""
    from workbench.remote import files

    await conn.run(
        ["sh", "-c", BACKUP_SCRIPT, "workbench-netbackup", backup, *paths],
        what="backing up the network config",
    )
    await files.write_text(conn, f"{backup}/revert.sh", script, mode="0755")
    for name in (unit, f"{unit}-announce"):
        await conn.run(
            ["systemctl", "reset-failed", f"{name}.timer", f"{name}.service"],
            check=False,
            what="clearing an old timer",
        )
    await conn.run(
        [
            "systemd-run",
            f"--unit={unit}",
            f"--on-active={seconds}",
            "--timer-property=AccuracySec=1s",
            "/bin/sh",
            f"{backup}/revert.sh",
        ],
        what="scheduling the automatic revert",
    )
    await conn.run(
        [
            "systemd-run",
            f"--unit={unit}-announce",
            "--on-active=3",
            "--timer-property=AccuracySec=1s",
            "/bin/sh",
            "-c",
            ANNOUNCE,
        ],
        what="scheduling the gateway announcement",
    )


async def confirm(conn: HostConnection, unit: str, deadline: float) -> bool:
    """Prove the host is still reachable with a NEW connection, then cancel the revert."""
    await conn.close()  # the old connection may be half dead behind a changed network
    while time.monotonic() < deadline:
        try:
            remaining = max(1.0, deadline - time.monotonic())
            await asyncio.wait_for(conn.connection(), remaining)
            await conn.run(
                ["systemctl", "stop", f"{unit}.timer"],
                timeout=10,
                what="confirming the network change",
            )
            return True
        except (ConnectError, RemoteTimeout, RemoteCommandError, TimeoutError):
            await conn.close()
            await asyncio.sleep(1)
    return False


async def await_revert(
    conn: HostConnection,
    backup: str,
    seconds_left: float,
) -> bool:
    """Wait for the host to revert itself, reconnect, and tell whether it did."""
    await asyncio.sleep(max(0.0, seconds_left) + 5)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            await asyncio.wait_for(conn.connection(), 15)
            result = await conn.run(
                ["cat", f"{backup}/reverted"], check=False, what="checking the revert"
            )
            return result.ok
        except (ConnectError, RemoteTimeout, TimeoutError):
            await conn.close()
            await asyncio.sleep(2)
    return False
