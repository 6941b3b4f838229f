"""`workbench ps [--profile P] [--host NAME]...`: every workbench unikernel on the hosts, as a
table (or one `status` event per unikernel with --json). Without --profile: the targets of
every profile found, each host once."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

from workbench import aio, profiles
from workbench.commands.deploy_cmd import select_hosts
from workbench.engine import ps
from workbench.engine.runner import run_hosts
from workbench.errors import ConfigError, ProfileError
from workbench.eventprint import EventPrinter
from workbench.events import Event, HostDone, Status
from workbench.headless import Output
from workbench.numbers import human_seconds
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import Pool
from workbench.textsafe import sanitize

HEADER = (
    "HOST", "UNIKERNEL", "PROFILE", "STATE", "RUNTIME", "RELEASE", "UPTIME", "RESTARTS",
    "MEMORY", "TAPS",
)  # fmt: skip


def hosts_of(args: argparse.Namespace) -> list[tuple[LoadedProfile, str]]:
    """(profile, host) to ask, each machine once (by address, port and user)."""
    if args.profile:
        loaded = profiles.load(args.profile)
        return [(loaded, h) for h in select_hosts(loaded, args.host)]
    if args.host:
        raise ConfigError("--host names a profile's target", "add --profile P")
    out: list[tuple[LoadedProfile, str]] = []
    seen: set[tuple[str, int, str]] = set()
    for path in profiles.discover():
        try:
            loaded = profiles.load_file(path)
        except ProfileError:
            continue  # `workbench profiles` says what is wrong with it
        for name in loaded.profile.targets:
            h = loaded.profile.hosts[name]
            if (h.address, h.port, h.user) not in seen:
                seen.add((h.address, h.port, h.user))
                out.append((loaded, name))
    return out


def run(args: argparse.Namespace, out: Output) -> int:
    todo = hosts_of(args)
    printer = EventPrinter(out.json, out.out, out.err)
    rows: list[Status] = []

    async def main() -> None:
        pools: dict[str, Pool] = {}

        def one(item: tuple[LoadedProfile, str]) -> AsyncIterator[Event]:
            loaded, host = item
            if loaded.name not in pools:
                pools[loaded.name] = Pool(
                    loaded.profile.hosts, accept_new_host_key=args.accept_new_host_key
                )
            return ps.ps(pools[loaded.name], host)

        try:
            async for event in run_hosts(todo, one, parallel=8):
                if isinstance(event, Status) and not out.json:
                    rows.append(event)
                elif not isinstance(event, HostDone) or out.json or not event.ok:
                    printer(event)
        finally:
            for pool in pools.values():
                await pool.close()

    aio.run(main)
    if not out.json:
        _table(rows, out)
    return printer.exit_code


def _table(rows: list[Status], out: Output) -> None:
    if not rows:
        out.line("no workbench unikernels on these hosts")
        return
    table = [HEADER]
    for r in sorted(rows, key=lambda r: (r.host, r.unikernel)):
        f = r.fields
        memory = f.get("memory_kib")
        enabled = f.get("enabled")
        state = str(f.get("state")) + ("" if enabled == "enabled" else f" ({enabled or '?'})")
        table.append(
            (
                r.host,
                r.unikernel,
                str(f.get("profile")),
                state,
                str(f.get("runtime") or "-"),
                str(f.get("release") or "-"),
                human_seconds(f.get("uptime_s")),
                str(f.get("restarts") if f.get("restarts") is not None else "-"),
                f"{memory // 1024} MiB" if isinstance(memory, int) else "-",
                _words(f.get("taps")),
            )
        )
    # Cells hold what hosts said: cleaned before they are measured, so a line break or an
    # escape in a record can neither add a row nor skew the columns.
    cells = [[sanitize(cell) for cell in row] for row in table]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    for row in cells:
        out.line("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _words(value: object) -> str:
    return " ".join(str(v) for v in value) or "-" if isinstance(value, list) else "-"
