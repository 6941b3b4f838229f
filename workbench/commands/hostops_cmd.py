"""`workbench check | plan | status | logs | restart | stop | start | rollback --profile P`:
the host-side commands that are not deploy. Each runs an engine stream per target host and
prints its events."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Literal

from workbench import aio, profiles, statustext
from workbench.commands.deploy_cmd import printer_for, select_hosts
from workbench.engine import check, lifecycle, logs, restart, rollback, status
from workbench.engine.pipeline import plan_all
from workbench.engine.release import jobs
from workbench.engine.runner import run_hosts, tagged
from workbench.events import Event, Status
from workbench.headless import Output
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import Pool

Stream = Callable[[Pool, LoadedProfile, str], AsyncIterator[Event]]


def run_streams(
    args: argparse.Namespace,
    out: Output,
    stream: Stream,
    *,
    extra_hosts: Sequence[str] = (),
    show_logs: bool = True,
    order: Literal["together", "after", "reverse"] = "together",
    table: list[Status] | None = None,
) -> int:
    """`stream` for every selected unikernel of the profile on every selected host. together:
    all at once (read-only, or following); after: on each host one unikernel at a time,
    `after:` ones first (start, restart, rollback); reverse: the other way round (stop).
    With `table`, Status events are kept there instead of printed (for one aligned table)."""
    loaded = profiles.load(args.profile)
    views = loaded.views(args.unikernel or ())
    hosts = select_hosts(loaded, args.host) + list(extra_hosts)
    printer = printer_for(loaded, out, show_logs=show_logs)
    parallel = getattr(args, "parallel", 8)

    def one(pool: Pool, host: str, view: LoadedProfile) -> AsyncIterator[Event]:
        return tagged(stream(pool, view, host), view.profile.unikernel.name)

    async def main() -> None:
        pool = Pool(loaded.profile.hosts, accept_new_host_key=args.accept_new_host_key)
        events: AsyncIterator[Event]
        if order == "together":
            pairs = [(h, v) for h in hosts for v in views]
            events = run_hosts(pairs, lambda hv: one(pool, *hv), parallel=parallel * len(views))
        else:
            seq = views if order == "after" else views[::-1]

            async def in_turn(host: str) -> AsyncIterator[Event]:
                for view in seq:
                    async for event in one(pool, host, view):
                        yield event

            events = run_hosts(hosts, in_turn, parallel=parallel)
        try:
            async for event in events:
                if table is not None and isinstance(event, Status):
                    table.append(event)
                else:
                    printer(event)
        finally:
            await pool.close()

    aio.run(main)
    return printer.exit_code


def run_check(args: argparse.Namespace, out: Output) -> int:
    loaded = profiles.load(args.profile)
    views = loaded.views(args.unikernel or ())
    artifact = None
    if args.artifact:  # one unikernel's: `jobs` says so when the profile has several
        artifact = jobs(loaded, args.unikernel or (), args.artifact)[0].artifact
    builder = loaded.profile.build.host
    extra = [builder] if builder and builder not in loaded.profile.targets else []
    first = views[0].profile.unikernel.name

    def stream(pool: Pool, lp: LoadedProfile, host: str) -> AsyncIterator[Event]:
        if host in extra:
            # One builder check for the profile, not one per unikernel.
            ours = lp.profile.unikernel.name == first
            return check.check_builder(pool, lp, host) if ours else _nothing()
        return check.check_target(pool, lp, host, artifact)

    return run_streams(args, out, stream, extra_hosts=extra)


async def _nothing() -> AsyncIterator[Event]:
    return
    yield  # an async generator that yields nothing


def run_plan(args: argparse.Namespace, out: Output) -> int:
    loaded = profiles.load(args.profile)
    todo = jobs(loaded, args.unikernel or (), args.artifact, args.tender)
    hosts = select_hosts(loaded, args.host)
    printer = printer_for(loaded, out, show_logs=not args.quiet)

    async def main() -> None:
        pool = Pool(loaded.profile.hosts, accept_new_host_key=args.accept_new_host_key)
        try:
            async for event in plan_all(
                todo,
                pool,
                hosts,
                use_cache=not args.no_cache,
                force_restart=args.restart,
            ):
                printer(event)
        finally:
            await pool.close()

    aio.run(main)
    return printer.exit_code


def run_status(args: argparse.Namespace, out: Output) -> int:
    """`--json` streams the events; plain output is one aligned table once every host answered
    (a host that did not is on stderr as it fails)."""
    if out.json:
        return run_streams(args, out, status.status)
    rows: list[Status] = []
    code = run_streams(args, out, status.status, table=rows)
    if rows:
        several = len({e.unikernel for e in rows}) > 1
        order = {h: i for i, h in enumerate(profiles.load(args.profile).profile.targets)}
        rows.sort(key=lambda e: (order.get(e.host, len(order)), e.host, e.unikernel))
        for line in statustext.table(
            [(e.host, e.unikernel, dict(e.fields)) for e in rows], several=several
        ):
            out.line(line)
    return code


def run_restart(args: argparse.Namespace, out: Output) -> int:
    return run_streams(args, out, restart.restart, order="after")


def run_stop(args: argparse.Namespace, out: Output) -> int:
    return run_streams(args, out, lifecycle.stop, order="reverse")


def run_start(args: argparse.Namespace, out: Output) -> int:
    return run_streams(args, out, lifecycle.start, order="after")


def run_rollback(args: argparse.Namespace, out: Output) -> int:
    return run_streams(args, out, rollback.rollback, order="after")


def run_logs(args: argparse.Namespace, out: Output) -> int:
    def stream(pool: Pool, lp: LoadedProfile, host: str) -> AsyncIterator[Event]:
        return logs.follow(pool, lp, host, lines=args.lines, since=args.since, follow=args.follow)

    return run_streams(args, out, stream)
