"""`workbench lab up | down | status | ssh HOST [COMMAND...]`."""

from __future__ import annotations

import argparse
import os

from workbench.headless import Output
from workbench.lab import config, manager


def run(args: argparse.Namespace, out: Output) -> int:
    action = args.lab_command
    progress = out.diag if not out.json else (lambda _msg: None)
    if action == "up":
        state = manager.up(
            progress,
            install=args.install_deps,
            tiers=tuple(args.with_tier or ()),
            fleet_size=args.fleet,
            nokvm=args.nokvm,
        )
        return _status(out, state)
    if action == "down":
        manager.down(progress)
        if out.json:
            out.data({"event": "lab_down"})
        return 0
    if action == "status":
        return _status(out, None)
    if action == "ssh":
        argv = manager.ssh_command(args.host, args.remote_command)
        os.execvp(argv[0], argv)
    raise AssertionError(action)


def _status(out: Output, state: dict[str, object] | None) -> int:
    hosts = manager.status()
    if out.json:
        out.data({"hosts": hosts, **({"timings": state["timings"]} if state else {})})
    else:
        for name, info in hosts.items():
            if not info["running"]:
                out.line(f"{name:<8} {info['address']:<11} down")
                continue
            if info["kind"] == "nspawn":
                extra = f"systemd {info.get('systemd')}"
            elif name == "builder":
                extra = f"docker {info.get('docker')}, image {info.get('image') or '-'}"
            else:
                extra = "QEMU TCG VM"
            ssh = "ssh ok" if info["ssh"] else "ssh not answering"
            out.line(f"{name:<8} {info['address']:<14} up  {info.get('arch', '?')}  {ssh}  {extra}")
        if state:
            timings = state["timings"]
            assert isinstance(timings, dict)
            out.line("up in " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
        out.line(
            f"key {config.KEY}, known_hosts {config.KNOWN_HOSTS}; "
            "log in with `workbench lab ssh target`"
        )
    all_up = all(info["running"] and info["ssh"] for info in hosts.values())
    return 0 if all_up or state is None else 9
