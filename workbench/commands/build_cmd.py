"""`workbench build --profile P [--output DIR] [--no-cache]`: build only, print where it is."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from workbench import aio, profiles
from workbench.commands.deploy_cmd import printer_for, select_hosts
from workbench.engine.build import Build
from workbench.engine.runner import tagged
from workbench.errors import ConfigError
from workbench.headless import Output
from workbench.remote.connection import Pool


def run(args: argparse.Namespace, out: Output) -> int:
    loaded = profiles.load(args.profile)
    views = [v for v in loaded.views(args.unikernel or ()) if v.profile.unikernel.source]
    if not views:
        raise ConfigError(
            f"profile '{loaded.name}' deploys a prebuilt artifact; there is nothing to build",
            "set unikernel.source to a MirageOS directory (with config.ml) to build it",
        )
    printer = printer_for(loaded, out, show_logs=not args.quiet)
    pool = Pool(loaded.profile.hosts, accept_new_host_key=args.accept_new_host_key)
    targets = select_hosts(loaded, args.host)
    built: list[Build] = []

    async def main() -> None:
        try:
            for view in views:
                job = Build(view, pool, use_cache=not args.no_cache, targets=targets)
                async for event in tagged(job.run(), view.profile.unikernel.name):
                    printer(event)
                built.append(job)
        finally:
            await pool.close()

    aio.run(main)
    for job in built:
        if job.result is not None and args.output:
            target = Path(args.output)
            target.mkdir(parents=True, exist_ok=True)
            paths = [p for p in (job.result.artifact, job.result.tender) if p]
            for path in paths:
                shutil.copy2(path, target / Path(path).name)
            if not out.json:
                names = " and ".join(Path(path).name for path in paths)
                print(f"copied {names} to {target}", file=out.out)
    return printer.exit_code
