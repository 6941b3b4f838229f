"""`workbench deploy --profile P [--artifact PATH] [--tender PATH]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench import aio, profiles
from workbench.artifacts.elf import ArtifactInfo, inspect, require_target
from workbench.engine.deploy import DeployOptions, HostDeploy, TenderSource, local_tender
from workbench.engine.runner import run_hosts
from workbench.errors import ConfigError
from workbench.eventprint import EventPrinter
from workbench.headless import Output
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import Pool


def resolve_artifact(loaded: LoadedProfile, arg: str | None) -> ArtifactInfo:
    p = loaded.profile
    path = Path(arg) if arg else p.unikernel.artifact
    if path is None:
        raise ConfigError(
            f"profile '{loaded.name}' builds from source ({p.unikernel.source}), and building "
            "is not part of deploy yet",
            "build it (mirage configure -t hvt && make depend && make build) and pass "
            "--artifact dist/NAME.hvt --tender $(opam var bin)/solo5-hvt",
        )
    info = inspect(path)
    require_target(info, p.build.target)
    return info


def resolve_tender(loaded: LoadedProfile, arg: str | None) -> TenderSource | None:
    path = Path(arg) if arg else loaded.profile.unikernel.tender
    return local_tender(path) if path is not None else None


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


def run(args: argparse.Namespace, out: Output) -> int:
    loaded = profiles.load(args.profile)
    info = resolve_artifact(loaded, args.artifact)
    tender = resolve_tender(loaded, args.tender)
    hosts = select_hosts(loaded, args.host)
    options = DeployOptions(restart=args.restart, rollback=not args.no_rollback)
    printer = EventPrinter(out.json, out.out, out.err, show_logs=not args.quiet)

    async def main() -> None:
        pool = Pool(loaded.profile.hosts, accept_new_host_key=args.accept_new_host_key)
        try:

            def one(host: str):  # type: ignore[no-untyped-def]
                return HostDeploy(loaded, host, pool, info, tender, options).run()

            async for event in run_hosts(hosts, one, parallel=args.parallel, rolling=args.rolling):
                printer(event)
        finally:
            await pool.close()

    aio.run(main)
    return printer.exit_code
