"""The `workbench lab` command line: its own subcommands (kept apart from cli.py, which holds
the product's)."""

from __future__ import annotations

import argparse
from typing import Any


def lab_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `lab up | down | status | ssh` to the subcommands `sub`."""
    p = sub.add_parser(
        "lab",
        parents=[common],
        help="local lab hosts to deploy to (root)",
        description="Real hosts on this machine, in network namespaces: `target` (a booted "
        "Debian, systemd-nspawn) and `builder` (sshd + dockerd with the lab build image). "
        "Solo5 and the OPAM repository are not available here, so the lab supplies test "
        "doubles for them (they say so on stderr). Needs root.",
    )

    lsub = p.add_subparsers(dest="lab_command", metavar="SUBCOMMAND", required=True)
    up = lsub.add_parser("up", parents=[common], help="bring the lab up (idempotent, cached)")
    up.add_argument(
        "--install-deps",
        action="store_true",
        help="apt-get install the Debian packages the lab needs first",
    )
    up.add_argument(
        "--with",
        dest="with_tier",
        action="append",
        choices=["pi", "vm"],
        help="also a slow tier (repeatable): pi = an arm64 Debian VM, the stand-in for a "
        "Raspberry Pi; vm = an x86_64 Debian VM with dockerd. QEMU TCG; first build a few "
        "minutes, boot under a minute",
    )
    up.add_argument(
        "--fleet",
        type=int,
        default=0,
        metavar="N",
        help="also N more targets like `target` (fleet01..), and the profile "
        "/var/lib/workbench-lab/lab-fleet.yaml deploying to all of them",
    )
    up.add_argument(
        "--nokvm",
        action="store_true",
        help="also `nokvm` (10.213.0.4): a target without /dev/kvm, as a cloud VM without "
        "nested virtualisation is, where solo5-spt runs and solo5-hvt cannot",
    )
    lsub.add_parser("down", parents=[common], help="remove everything the lab created")
    lsub.add_parser("status", parents=[common], help="what runs, and whether it answers")
    ssh = lsub.add_parser("ssh", parents=[common], help="ssh into a lab host")
    ssh.add_argument("host", choices=["target", "builder", "nokvm", "pi", "vm"])
    ssh.add_argument("remote_command", nargs=argparse.REMAINDER, help="command to run there")
