"""`workbench remove --profile P [--unikernel NAME]... [--purge] [--yes]`: confirm, then take
the unikernels off their hosts, `after:` dependants first."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator

from workbench import profiles
from workbench.commands.deploy_cmd import select_hosts
from workbench.commands.hostops_cmd import run_streams
from workbench.engine import remove
from workbench.errors import ConfigError, WorkbenchError
from workbench.events import Event
from workbench.headless import Output
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import Pool


def run(args: argparse.Namespace, out: Output) -> int:
    loaded = profiles.load(args.profile)
    views = loaded.views(args.unikernel or ())
    hosts = select_hosts(loaded, args.host)
    if not args.yes:
        _confirm(views, hosts, args.purge, out)

    def stream(pool: Pool, lp: LoadedProfile, host: str) -> AsyncIterator[Event]:
        return remove.remove(pool, lp, host, purge=args.purge)

    return run_streams(args, out, stream, order="reverse")


def _confirm(views: list[LoadedProfile], hosts: list[str], purge: bool, out: Output) -> None:
    units = ", ".join(v.profile.unit_name for v in views)
    where = ", ".join(hosts)
    what = "and their releases and block images" if purge else "(their releases are kept)"
    question = f"Remove {units} from {where}, with their taps {what}? [y/N] "
    if not sys.stdin.isatty():
        raise ConfigError(
            f"remove would delete {units} on {where}, and there is no terminal to ask on",
            "add --yes to confirm (scripts, CI)",
        )
    print(question, end="", file=out.err, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise WorkbenchError("not removed: the answer was not yes")
