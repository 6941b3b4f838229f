"""`workbench metrics [--profile P] [--interval S] [--count N] [--json | --serve ADDR:PORT]` and
`workbench top`: what every workbench unikernel on the hosts uses, sampled every S seconds
(one remote command per host per sample; see remote/sampling.py)."""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import AsyncIterator
from typing import TextIO

from workbench import aio
from workbench.commands.ps_cmd import hosts_of
from workbench.engine import metrics
from workbench.engine.runner import run_hosts
from workbench.errors import ConfigError
from workbench.eventprint import EventPrinter
from workbench.events import Event, HostMetrics, UnikernelMetrics
from workbench.headless import Output
from workbench.numbers import human_bytes, human_seconds
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import Pool
from workbench.samples import tap_rate
from workbench.textsafe import sanitize

TOP_HEADER = (
    "HOST", "UNIKERNEL", "PROFILE", "STATE", "CPU", "MEMORY", "RX/S", "TX/S", "RESTARTS", "UPTIME",
)  # fmt: skip


def unikernel_row(e: UnikernelMetrics) -> tuple[str, ...]:
    f = e.fields
    cpu = f.get("cpu_percent")
    return (
        e.host,
        e.unikernel,
        str(f.get("profile", "-")),
        str(f.get("state", "-")),
        f"{cpu:.1f}%" if isinstance(cpu, int | float) else "-",
        human_bytes(f.get("memory_bytes")),
        human_bytes(tap_rate(f, "rx_bytes_per_s")),
        human_bytes(tap_rate(f, "tx_bytes_per_s")),
        str(f.get("restarts") if f.get("restarts") is not None else "-"),
        human_seconds(f.get("uptime_s")),
    )


def host_line(e: HostMetrics) -> str:
    f = e.fields
    parts = [e.host]
    load = f.get("load")
    if isinstance(load, list) and load:
        parts.append("load " + " ".join(f"{v:.2f}" if isinstance(v, float) else "-" for v in load))
    avail, total = f.get("memory_available_bytes"), f.get("memory_total_bytes")
    if total is not None:
        parts.append(f"memory {human_bytes(avail)} free of {human_bytes(total)}")
    temps = f.get("temperatures_c")
    if isinstance(temps, dict) and temps:
        parts.append(", ".join(f"{zone} {deg:.1f} C" for zone, deg in temps.items()))
    words = f.get("throttled_words")
    if isinstance(words, list) and words:
        parts.append("THROTTLING: " + ", ".join(str(w) for w in words))
    gaps = f.get("gaps")
    if isinstance(gaps, list) and gaps:
        parts.append("no sample: " + "; ".join(str(g) for g in gaps))
    return sanitize("  ".join(parts))


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    cells = [[sanitize(c) for c in row] for row in [TOP_HEADER, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(TOP_HEADER))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


def parse_serve(text: str) -> tuple[str, int]:
    """`ADDR:PORT` (`[v6]:PORT` for IPv6) with a literal address: 127.0.0.1:9464; a port alone
    is on the loopback address (nothing else reaches it unless asked for)."""
    if text.isdigit():
        text = f"127.0.0.1:{text}"
    addr, sep, port = text.rpartition(":")
    addr = addr.removeprefix("[").removesuffix("]")
    try:
        ipaddress.ip_address(addr)
        number = int(port)
    except ValueError:
        number = -1
    if not sep or not 0 < number < 65536:
        raise ConfigError(
            f"--serve {text!r}: not ADDRESS:PORT",
            "e.g. --serve 127.0.0.1:9464 (an IP address, not a name; [::1]:9464 for IPv6)",
        )
    return addr, number


async def _samples(
    args: argparse.Namespace, todo: list[tuple[LoadedProfile, str]], count: int
) -> AsyncIterator[Event]:
    pools: dict[str, Pool] = {}
    # Two profiles may give two machines one name: such hosts are told apart as PROFILE:HOST.
    names = [host for _loaded, host in todo]

    def one(pair: tuple[LoadedProfile, str]) -> AsyncIterator[Event]:
        loaded, host = pair
        if loaded.name not in pools:
            pools[loaded.name] = Pool(
                loaded.profile.hosts, accept_new_host_key=args.accept_new_host_key
            )
        label = host if names.count(host) == 1 else f"{loaded.name}:{host}"
        return metrics.sample(
            pools[loaded.name], host, interval=args.interval, count=count, label=label
        )

    try:
        async for event in run_hosts(todo, one, parallel=len(todo) or 1):
            yield event
    finally:
        for pool in pools.values():
            await pool.close()


def _check_interval(args: argparse.Namespace) -> None:
    if not 0.2 <= args.interval <= 3600:
        raise ConfigError(f"--interval {args.interval}: between 0.2 and 3600 seconds", None)


def _todo(args: argparse.Namespace) -> list[tuple[LoadedProfile, str]]:
    _check_interval(args)
    todo = hosts_of(args)
    if not todo:
        raise ConfigError(
            "no hosts to sample: no profile with targets was found",
            "pass --profile P, or add a profile to ./profiles (see `workbench profiles`)",
        )
    return todo


# --count N: the exit code when a host's last sample did not come (as for any unreachable host).
NO_SAMPLE_EXIT = 3


def run_metrics(args: argparse.Namespace, out: Output) -> int:
    todo = _todo(args)
    if getattr(args, "serve", None):
        return _serve(args, out, todo)
    printer = EventPrinter(out.json, out.out, out.err)
    gaps: dict[str, bool] = {}

    async def main() -> None:
        async for event in _samples(args, todo, args.count):
            if isinstance(event, HostMetrics):
                gaps[event.host] = "uptime_s" not in event.fields  # no sample came
            if out.json:
                printer(event)
            elif isinstance(event, HostMetrics):
                out.line(host_line(event))
            elif isinstance(event, UnikernelMetrics):
                out.line("  ".join(unikernel_row(event)))
            out.out.flush()

    aio.run(main)
    return NO_SAMPLE_EXIT if any(gaps.values()) else 0


def _serve(args: argparse.Namespace, out: Output, todo: list[tuple[LoadedProfile, str]]) -> int:
    """Serve until interrupted (or --count samples); the page keeps the last of each host."""
    from prometheus_client import start_http_server  # only this path needs it

    from workbench.exporter import Latest, registry

    addr, port = parse_serve(args.serve)
    latest = Latest()
    try:
        server, _thread = start_http_server(port, addr=addr, registry=registry(latest))
    except OSError as exc:
        raise ConfigError(
            f"cannot serve on {args.serve}: {exc.strerror or exc}",
            "pick a free port, or an address of this machine",
        ) from None
    out.diag(f"serving Prometheus metrics on http://{args.serve}/metrics (Ctrl-C stops)")

    async def main() -> None:
        async for event in _samples(args, todo, args.count):
            latest.add(event)
            if isinstance(event, HostMetrics) and event.fields.get("gaps"):
                out.diag(host_line(event))

    try:
        aio.run(main)
    finally:
        server.shutdown()
        server.server_close()
    return 0


def run_top(args: argparse.Namespace, out: Output) -> int:
    todo = _todo(args)
    live = out.out.isatty() and not out.json
    if not live:
        return run_metrics(args, out)
    hosts: dict[str, str] = {}
    rows: dict[tuple[str, str], tuple[str, ...]] = {}

    async def main() -> None:
        async for event in _samples(args, todo, args.count):
            if isinstance(event, HostMetrics):
                hosts[event.host] = host_line(event)
                for key in [k for k in rows if k[0] == event.host]:
                    del rows[key]  # this sample says which unikernels are there now
            elif isinstance(event, UnikernelMetrics):
                rows[(event.host, event.unikernel)] = unikernel_row(event)
            _draw(out.out, hosts, rows, args.interval)

    aio.run(main)
    return 0


def _draw(
    stream: TextIO,
    hosts: dict[str, str],
    rows: dict[tuple[str, str], tuple[str, ...]],
    every: float,
) -> None:
    lines = [f"workbench top: every {every:g} s, Ctrl-C stops", *hosts.values(), ""]
    lines += _table([rows[k] for k in sorted(rows)])
    # Only our own controls: home and clear-to-end; every line above was sanitized.
    stream.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
    stream.flush()
