"""app/offloop.py: an engine stream on its own loop in a thread, consumed on the TUI's."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from workbench.app import offloop
from workbench.errors import ConnectError


def test_every_item_arrives_in_order_from_another_thread_and_the_stream_is_closed() -> None:
    seen: dict[str, object] = {}

    async def source() -> AsyncIterator[int]:
        seen["thread"] = threading.current_thread().name
        seen["loop"] = asyncio.get_running_loop()
        try:
            for i in range(5000):
                yield i
                if i % 100 == 0:
                    await asyncio.sleep(0)
        finally:
            seen["closed"] = True

    async def main() -> list[int]:
        got = [i async for i in offloop.stream(source, name="t-order", size=64)]
        assert seen["loop"] is not asyncio.get_running_loop()
        return got

    assert asyncio.run(main()) == list(range(5000))
    assert seen == {**seen, "thread": "t-order", "closed": True}
    assert not any(t.name == "t-order" for t in threading.enumerate())


def test_the_streams_error_is_raised_to_the_consumer_after_what_came_before() -> None:
    async def source() -> AsyncIterator[int]:
        yield 1
        yield 2
        raise ConnectError("connection lost while following the journal", host="target")

    async def main() -> list[int]:
        got: list[int] = []
        with pytest.raises(ConnectError, match="connection lost"):
            async for i in offloop.stream(source):
                got.append(i)
        return got

    assert asyncio.run(main()) == [1, 2]


def test_a_consumer_that_stops_cancels_the_stream_and_its_finally_runs() -> None:
    closed = threading.Event()

    async def source() -> AsyncIterator[int]:
        try:
            i = 0
            while True:  # a follow: never ends by itself
                yield i
                i += 1
                await asyncio.sleep(0)
        finally:
            await asyncio.sleep(0.01)  # closing a remote process takes a round trip
            closed.set()

    async def main() -> None:
        gen = offloop.stream(source, name="t-cancel")
        async for i in gen:
            if i == 3000:
                break
        await gen.aclose()

    asyncio.run(main())
    assert closed.is_set()
    assert not any(t.name == "t-cancel" for t in threading.enumerate())


def test_a_slow_consumer_holds_the_stream_back_instead_of_piling_up_its_items() -> None:
    made = 0

    async def source() -> AsyncIterator[int]:
        nonlocal made
        while True:
            made += 1
            yield made
            if made % 50 == 0:
                await asyncio.sleep(0)

    async def main() -> int:
        gen = offloop.stream(source, size=100, depth=2)
        async for i in gen:
            if i == 1:
                await asyncio.sleep(0.5)  # the thread runs on meanwhile, up to its bound
                ahead = made
                break
        await gen.aclose()
        return ahead

    # depth batches queued, one being handed over, one filling, plus what `batched` holds
    assert asyncio.run(main()) <= (2 + 3) * 100 + 100


def test_a_consumer_that_leaves_before_the_thread_has_begun_leaves_no_stream_running() -> None:
    began = threading.Event()

    async def source() -> AsyncIterator[int]:
        began.set()
        while True:
            yield 1
            await asyncio.sleep(0)

    async def main() -> None:
        gen = offloop.stream(source, name="t-early")
        first = asyncio.ensure_future(gen.__anext__())
        await asyncio.sleep(0)  # the thread is starting: cancelled right away
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first

    asyncio.run(main())
    assert not any(t.name == "t-early" for t in threading.enumerate())
    # Either it never began, or it began and was stopped: nothing runs on.


def test_a_stream_that_cannot_even_start_says_so_to_the_consumer() -> None:
    def start() -> AsyncIterator[int]:
        raise ConnectError("no such profile host", host="x")

    async def main() -> None:
        with pytest.raises(ConnectError, match="no such profile host"):
            async for _ in offloop.stream(start):
                pass

    asyncio.run(main())


def test_batched_closes_the_stream_it_waits_on_when_it_is_cancelled() -> None:
    """Cancelled while its pump waits for room, the stream's own finally still runs (it
    closes remote processes): before, it ran only when the loop shut down, if at all."""
    from workbench.engine.batch import batched

    closed = asyncio.Event()

    async def source() -> AsyncIterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            await asyncio.sleep(0)  # a round trip to close a remote process
            closed.set()

    async def main() -> None:
        batches = batched(source(), interval=10, size=10)
        async for _ in batches:
            break  # the pump has the next ten and waits for room
        await batches.aclose()
        assert closed.is_set()

    asyncio.run(main())
