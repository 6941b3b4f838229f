"""`workbench deploy --profile P [--artifact PATH] [--tender PATH]`: with neither an artifact
nor --artifact, the profile's source is built first (`workbench build`, cached)."""

from __future__ import annotations

import argparse

from workbench import aio, profiles
from workbench.engine.deploy import DeployOptions
from workbench.engine.pipeline import deploy_all
from workbench.engine.release import jobs
from workbench.errors import ConfigError
from workbench.eventprint import EventPrinter
from workbench.headless import Output
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import Pool


def select_hosts(loaded: LoadedProfile, wanted: list[str] | None) -> list[str]:
    targets = list(loaded.profile.targets)
    if not wanted:
        return targets
    unknown = [h for h in wanted if h not in targets]
    if unknown:
        raise ConfigError(
            f"{', '.join(unknown)} is not a target of profile '{loaded.name}'",
            f"targets: {', '.join(targets)}",
        )
    return wanted


def printer_for(loaded: LoadedProfile, out: Output, show_logs: bool = True) -> EventPrinter:
    """The printer for a whole profile's run: lines say [host/unikernel] when it has several."""
    several = len(loaded.profile.all_unikernels) > 1
    return EventPrinter(out.json, out.out, out.err, show_logs=show_logs, several=several)


def run(args: argparse.Namespace, out: Output) -> int:
    loaded = profiles.load(args.profile)
    todo = jobs(loaded, args.unikernel or (), args.artifact, args.tender)
    hosts = select_hosts(loaded, args.host)
    printer = printer_for(loaded, out, show_logs=not args.quiet)

    async def main() -> None:
        pool = Pool(loaded.profile.hosts, accept_new_host_key=args.accept_new_host_key)
        options = DeployOptions(restart=args.restart, rollback=not args.no_rollback)
        try:
            async for event in deploy_all(
                todo,
                pool,
                hosts,
                options,
                use_cache=not args.no_cache,
                parallel=args.parallel,
                rolling=args.rolling,
            ):
                printer(event)
        finally:
            await pool.close()

    aio.run(main)
    return printer.exit_code
