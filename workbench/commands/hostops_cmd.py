"""`workbench check | plan | status | logs | restart | stop | start | rollback --profile P`:
the host-side commands that are not deploy. Each runs an engine stream per target host and
prints its events."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Callable, Sequence

from workbench import aio, profiles
from workbench.commands.deploy_cmd import select_hosts
from workbench.engine import check, lifecycle, logs, restart, rollback, status
from workbench.engine.pipeline import plan_all
from workbench.engine.release import resolve_artifact, resolve_tender
from workbench.engine.runner import run_hosts
from workbench.errors import ConfigError
from workbench.eventprint import EventPrinter
from workbench.events import Event
from workbench.headless import Output
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import Pool

Stream = Callable[[Pool, LoadedProfile, str], AsyncIterator[Event]]


def _run(
    args: argparse.Namespace,
    out: Output,
    stream: Stream,
    *,
    extra_hosts: Sequence[str] = (),
    show_logs: bool = True,
) -> int:
    loaded = profiles.load(args.profile)
    hosts = select_hosts(loaded, args.host) + list(extra_hosts)
    printer = EventPrinter(out.json, out.out, out.err, show_logs=show_logs)

    async def main() -> None:
        pool = Pool(loaded.profile.hosts, accept_new_host_key=args.accept_new_host_key)
        try:
            async for event in run_hosts(
                hosts, lambda h: stream(pool, loaded, h), parallel=getattr(args, "parallel", 8)
            ):
                printer(event)
        finally:
            await pool.close()

    aio.run(main)
    return printer.exit_code


def run_check(args: argparse.Namespace, out: Output) -> int:
    loaded = profiles.load(args.profile)
    artifact = resolve_artifact(loaded, args.artifact) if args.artifact else None
    builder = loaded.profile.build.host
    extra = [builder] if builder and builder not in loaded.profile.targets else []

    def stream(pool: Pool, lp: LoadedProfile, host: str) -> AsyncIterator[Event]:
        if host in extra:
            return check.check_builder(pool, lp, host)
        return check.check_target(pool, lp, host, artifact)

    return _run(args, out, stream, extra_hosts=extra)


def run_plan(args: argparse.Namespace, out: Output) -> int:
    loaded = profiles.load(args.profile)
    artifact = resolve_artifact(loaded, args.artifact)
    if artifact is None and args.tender:
        raise ConfigError(
            "--tender goes with --artifact: a source build brings its own tender",
            "drop --tender, or pass both --artifact and --tender",
        )
    tender = resolve_tender(loaded, args.tender)
    hosts = select_hosts(loaded, args.host)
    printer = EventPrinter(out.json, out.out, out.err, show_logs=not args.quiet)

    async def main() -> None:
        pool = Pool(loaded.profile.hosts, accept_new_host_key=args.accept_new_host_key)
        try:
            async for event in plan_all(
                loaded,
                pool,
                hosts,
                artifact,
                tender,
                use_cache=not args.no_cache,
                force_restart=args.restart,
            ):
                printer(event)
        finally:
            await pool.close()

    aio.run(main)
    return printer.exit_code


def run_status(args: argparse.Namespace, out: Output) -> int:
    return _run(args, out, status.status)


def run_restart(args: argparse.Namespace, out: Output) -> int:
    return _run(args, out, restart.restart)


def run_stop(args: argparse.Namespace, out: Output) -> int:
    return _run(args, out, lifecycle.stop)


def run_start(args: argparse.Namespace, out: Output) -> int:
    return _run(args, out, lifecycle.start)


def run_rollback(args: argparse.Namespace, out: Output) -> int:
    return _run(args, out, rollback.rollback)


def run_logs(args: argparse.Namespace, out: Output) -> int:
    def stream(pool: Pool, lp: LoadedProfile, host: str) -> AsyncIterator[Event]:
        return logs.follow(pool, lp, host, lines=args.lines, since=args.since, follow=args.follow)

    return _run(args, out, stream)
