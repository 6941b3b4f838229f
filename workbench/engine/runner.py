"""Run per-host event streams together: bounded parallelism, or one host at a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TypeVar

from workbench.events import Event, HostDone

K = TypeVar("K")  # a host name, or (host, unikernel) when a profile has several


async def run_hosts(
    hosts: Sequence[K],
    run: Callable[[K], AsyncIterator[Event]],
    *,
    parallel: int = 4,
    rolling: bool = False,
) -> AsyncIterator[Event]:
    """Yield the events of every host's run as they come.

    rolling: one host at a time, stopping after the first host that fails.
    """
    if rolling:
        for host in hosts:
            failed = False
            async for event in run(host):
                if isinstance(event, HostDone) and not event.ok:
                    failed = True
                yield event
            if failed:
                return
        return
    queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=1000)
    limit = asyncio.Semaphore(max(1, parallel))

    async def one(host: K) -> None:
        try:
            async with limit:
                async for event in run(host):
                    await queue.put(event)
        except asyncio.CancelledError:
            # The consumer is gone (Ctrl-C): no end marker. Waiting to put one into a full
            # queue would never end and would hold up the cancellation.
            raise
        except BaseException:
            await queue.put(None)  # a bug: let the consumer reach `await task` and raise it
            raise
        await queue.put(None)

    tasks = [asyncio.create_task(one(h)) for h in hosts]
    remaining = len(tasks)
    try:
        while remaining:
            item = await queue.get()
            if item is None:
                remaining -= 1
                continue
            yield item
        for task in tasks:
            await task  # surface a bug in a host's run instead of losing it
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def tagged(events: AsyncIterator[Event], unikernel: str) -> AsyncIterator[Event]:
    """`events` with their `unikernel` set. Each event is new and not yet seen by anyone, so it
    is set in place: a copy per event would cost every log line of `logs -f` a dataclass copy."""
    async for event in events:
        object.__setattr__(event, "unikernel", unikernel)
        yield event
