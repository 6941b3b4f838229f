"""Coalesce a fast event stream into batches, so a unikernel that logs per packet cannot flood
a front end with one message per line: a batch goes out every `interval` seconds, or as soon as
`size` items are waiting. The producer waits while a full batch is unread (back-pressure), so
memory stays bounded whatever the rate."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

T = TypeVar("T")


async def batched(
    stream: AsyncIterator[T], *, interval: float = 0.05, size: int = 1000
) -> AsyncGenerator[list[T], None]:
    pending: list[T] = []
    ready = asyncio.Event()  # something is pending (or the stream ended)
    full = asyncio.Event()  # `size` items are pending: send now
    room = asyncio.Event()  # the consumer took the batch: the producer may go on
    room.set()
    ended = False

    async def pump() -> None:
        nonlocal ended
        try:
            async for item in stream:
                pending.append(item)
                ready.set()
                if len(pending) >= size:
                    full.set()
                    room.clear()
                    await room.wait()
        finally:
            ended = True
            ready.set()
            full.set()
            # Cancelled while waiting for room, the stream is still open at its last item:
            # closed here, so its own `finally` (closing remote processes) runs now.
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()

    task = asyncio.create_task(pump())
    try:
        while True:
            await ready.wait()
            if not ended:
                # asyncio.timeout, not wait_for: 3.11's wait_for drops a cancel that arrives as
                # `full` is set, and a follow would then outlive the screen that cancelled it.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(interval):
                        await full.wait()
            batch = pending[:]
            pending.clear()
            ready.clear()
            full.clear()
            room.set()
            if batch:
                yield batch
            if ended and not pending:
                break
        await task  # the stream's own error, if it raised one
    finally:
        if not task.done():
            task.cancel()
            # Until the stream's own `finally` has run (closing remote processes): on a loop
            # that ends with this generator (app/offloop.py) it would otherwise be cut short.
            with contextlib.suppress(asyncio.CancelledError):
                await task
