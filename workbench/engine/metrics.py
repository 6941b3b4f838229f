"""`workbench metrics` / `top`: sample a host every INTERVAL seconds and say what each of its
workbench unikernels uses. A host that cannot be reached is a gap with its reason, and the
sampling goes on (the connection is made again on the next sample)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from workbench.errors import WorkbenchError
from workbench.events import Event, HostMetrics, UnikernelMetrics
from workbench.remote import sampling
from workbench.remote.connection import Pool
from workbench.samples import HostSample, host_fields, parse_sample, unit_fields


def events_of(host: str, cur: HostSample, prev: HostSample | None) -> list[Event]:
    """The events of one sample: the host's, then one per unikernel (rates against `prev`)."""
    dt = None
    if prev is not None and prev.now is not None and cur.now is not None:
        dt = cur.now - prev.now
    before = {u.owner.unit: u for u in prev.units} if prev is not None else {}
    out: list[Event] = [
        HostMetrics(
            host=host,
            step="metrics",
            fields={**host_fields(cur), "unikernels": len(cur.units), "gaps": []},
        )
    ]
    for unit in cur.units:
        fields = unit_fields(unit, cur.now, before.get(unit.owner.unit), dt)
        out.append(
            UnikernelMetrics(
                host=host, step="metrics", unikernel=unit.owner.unikernel, fields=fields
            )
        )
    return out


async def sample(
    pool: Pool, host: str, *, interval: float = 5.0, count: int = 0, label: str = ""
) -> AsyncIterator[Event]:
    """Samples of `host` forever (or `count` of them), `interval` seconds apart; the events
    name it `label` (default: its name), for hosts of several profiles that share a name."""
    name = label or host
    prev: HostSample | None = None
    taken = 0
    while True:
        try:
            cur = parse_sample(await sampling.read(pool.get(host)))
        except WorkbenchError as exc:
            gap = exc.message + (f" ({exc.hint})" if exc.hint else "")
            yield HostMetrics(host=name, step="metrics", fields={"unikernels": 0, "gaps": [gap]})
            prev = None  # rates across a gap would average over it
        else:
            for event in events_of(name, cur, prev):
                yield event
            prev = cur
        taken += 1
        if count and taken >= count:
            return
        await asyncio.sleep(interval)
