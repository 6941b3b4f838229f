"""Record the event streams the TUI tests replay, from real runs against the lab.

    python -m tests.tui.record      # needs `workbench lab up`; rewrites tests/tui/recordings/

Each recording is the `--json` stdout of one headless command: the same events the TUI gets
from the engine. Run it again when an event changes shape; the TUI tests and snapshots then
show what the change looks like on screen.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from tests.lab.deploykit import CRASHES, HEALTHY, ROOT, artifact, on_target, tender, workbench
from workbench import profiles
from workbench.engine import hostinfo

OUT = Path(__file__).with_name("recordings")


def record(name: str, *args: str, ok: tuple[int, ...] = (0,)) -> None:
    result = workbench(*args, "--json", timeout=300)
    if result.returncode not in ok:
        raise SystemExit(f"{name}: exit {result.returncode}\n{result.stderr}")
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    for line in lines:
        json.loads(line)
    (OUT / f"{name}.ndjson").write_text("\n".join(lines) + "\n")
    print(f"{name}: {len(lines)} events")


def record_metrics(lab: list[str]) -> None:
    """Three samples a second apart while the unikernel answers pings: rates that move."""
    import subprocess

    ping = ["ip", "netns", "exec", "wblab-target", "ping", "-q", "-i", "0.1", "-w", "5"]
    pinger = subprocess.Popen([*ping, "10.0.0.2"], stdout=subprocess.DEVNULL)
    try:
        record("metrics", "metrics", *lab, "--count", "4", "--interval", "1")
    finally:
        pinger.wait(20)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    lab = ["--profile", "lab"]
    # A host without this profile: plan and the first deploy show every file as new.
    managed = hostinfo.managed_paths(profiles.load(str(ROOT / "profiles" / "lab.yaml")))
    on_target(
        "systemctl disable --now unikernel-hello.service 2>/dev/null; "
        f"rm -rf /var/lib/workbench/hello {shlex.join(managed)}; "
        "ip link del tap100 2>/dev/null; ip link del br100 2>/dev/null; "
        "systemctl daemon-reload; networkctl reload; true"
    )
    record("plan", "plan", *lab)
    record("deploy", "deploy", *lab, "--no-cache")
    record("restart", "restart", *lab)
    record("logs", "logs", *lab, "--lines", "200")  # two boots: the deploy's and the restart's
    record_metrics(lab)
    tmp = Path("/tmp")
    second = artifact(tmp, "workbench-tui-second", {**HEALTHY, "logs": [{"msg": "second"}]})
    # A second release: the status and the rollback recorded next have one to go back to.
    done = workbench("deploy", *lab, "--artifact", str(second), "--tender", str(tender()))
    if done.returncode != 0:
        raise SystemExit(f"deploy of a second release: exit {done.returncode}\n{done.stderr}")
    record("status", "status", *lab)  # with a previous release to roll back to
    record("rollback", "rollback", *lab)
    bad = artifact(tmp, "workbench-tui-crashes", CRASHES)
    record(
        "deploy_rollback",
        "deploy",
        *lab,
        "--artifact",
        str(bad),
        "--tender",
        str(tender()),
        ok=(8,),
    )
    on_target("chmod 0600 /dev/kvm")
    try:
        record("check", "check", *lab, ok=(0, 4))
    finally:
        on_target("chmod 0660 /dev/kvm")
    record("stop", "stop", *lab)
    record("start", "start", *lab)
    record("remove", "remove", *lab, "--yes")
    print(f"written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
