"""`workbench build --profile P [--output DIR] [--no-cache]`: build only, print where it is."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from workbench import aio, profiles
from workbench.commands.deploy_cmd import select_hosts
from workbench.engine.build import Build
from workbench.errors import ConfigError
from workbench.eventprint import EventPrinter
from workbench.headless import Output
from workbench.remote.connection import Pool


def run(args: argparse.Namespace, out: Output) -> int:
    loaded = profiles.load(args.profile)
    if loaded.profile.unikernel.source is None:
        raise ConfigError(
            f"profile '{loaded.name}' deploys a prebuilt artifact; there is nothing to build",
            "set unikernel.source to a MirageOS directory (with config.ml) to build it",
        )
    printer = EventPrinter(out.json, out.out, out.err, show_logs=not args.quiet)
    job = Build(
        loaded,
        Pool(loaded.profile.hosts, accept_new_host_key=args.accept_new_host_key),
        use_cache=not args.no_cache,
        targets=select_hosts(loaded, args.host),
    )

    async def main() -> None:
        try:
            async for event in job.run():
                printer(event)
        finally:
            await job.pool.close()

    aio.run(main)
    if job.result is not None and args.output:
        target = Path(args.output)
        target.mkdir(parents=True, exist_ok=True)
        for path in (job.result.artifact, job.result.tender):
            shutil.copy2(path, target / Path(path).name)
        if not out.json:
            print(
                f"copied {Path(job.result.artifact).name} and {Path(job.result.tender).name} "
                f"to {target}",
                file=out.out,
            )
    return printer.exit_code
