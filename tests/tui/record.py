"""Record the event streams the TUI tests replay, from real runs against the lab.

    python -m tests.tui.record      # needs `workbench lab up`; rewrites tests/tui/recordings/

Each recording is the `--json` stdout of one headless command: the same events the TUI gets
from the engine. Run it again when an event changes shape; the TUI tests and snapshots then
show what the change looks like on screen.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.lab.deploykit import CRASHES, HEALTHY, ROOT, artifact, on_target, tender, workbench

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


def main() -> None:
    OUT.mkdir(exist_ok=True)
    lab = ["--profile", "lab"]
    on_target(
        "systemctl disable --now unikernel-hello.service 2>/dev/null; "
        "rm -rf /var/lib/workbench/hello /etc/systemd/system/unikernel-hello.service; "
        "systemctl daemon-reload; true"
    )
    record("plan", "plan", *lab)
    record("deploy", "deploy", *lab, "--no-cache")
    record("status", "status", *lab)
    record("logs", "logs", *lab, "--lines", "200")
    record("restart", "restart", *lab)
    tmp = Path("/tmp")
    second = artifact(tmp, "workbench-tui-second", {**HEALTHY, "logs": [{"msg": "second"}]})
    record("deploy_second", "deploy", *lab, "--artifact", str(second), "--tender", str(tender()))
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
    print(f"written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
