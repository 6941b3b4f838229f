"""An engine stream on an event loop of its own, in a thread, for the TUI.

A journal flood is mostly Python per line: SSH decryption in asyncssh, journald's JSON, the
classification. On the TUI's loop that work came in callbacks of tens of milliseconds between
which a key press waited (the loop was saturated at 20,000 lines/s: median 0.3-0.5 s from key
to screen). On a loop of its own it shares the interpreter with the TUI by the GIL's switch
interval (5 ms) instead: the TUI stays responsive and the lines, if it cannot keep up, come
later (SSH's flow control holds journalctl back; nothing is lost).

The stream's connections must belong to that loop, so `start` makes everything it uses
(its own connection pool) when it is called there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar, cast

from workbench.engine.batch import batched

T = TypeVar("T")
_END = object()


class _Link:
    """What the two loops share: the stop flag, and the thread's loop and task once they are
    there (under the lock, so that a stop before they are is never missed)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None

    def register(self) -> bool:
        """Called first thing on the thread's loop: False when the consumer already left."""
        with self.lock:
            self.loop, self.task = asyncio.get_running_loop(), asyncio.current_task()
            return not self.stop.is_set()

    def cancel(self) -> None:
        with self.lock:
            self.stop.set()
            if self.loop is not None and self.task is not None:
                with contextlib.suppress(RuntimeError):  # its loop has already ended
                    self.loop.call_soon_threadsafe(self.task.cancel)


async def stream(
    start: Callable[[], AsyncIterator[T]],
    *,
    name: str = "workbench-stream",
    interval: float = 0.05,
    size: int = 1000,
    depth: int = 4,
) -> AsyncGenerator[T, None]:
    """The items of `start()`, run on its own loop in a thread, yielded on the caller's loop.
    At most `depth` batches wait here (then the thread waits: memory stays bounded). An error
    of the stream is raised here after the items before it; when this generator is closed or
    cancelled, the stream is cancelled there, and this returns once its `finally` blocks
    (closing remote processes and connections) have run and the thread has ended."""
    home = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=depth)
    link = _Link()

    async def produce() -> None:
        if not link.register():
            return
        batches = batched(start(), interval=interval, size=size)
        try:
            async for batch in batches:
                if link.stop.is_set():  # a cancel that was lost on the way: stop anyway
                    return
                put = asyncio.run_coroutine_threadsafe(queue.put(batch), home)
                await asyncio.wrap_future(put)
        finally:
            await batches.aclose()  # the stream's `finally` runs before this loop ends

    thread = threading.Thread(
        target=_run, args=(produce, home, queue, link), name=name, daemon=True
    )
    try:
        thread.start()
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            for value in cast(list[T], item):
                yield value
    finally:
        link.cancel()
        # The thread may wait for room to hand a batch over: make room until it has ended.
        while thread.is_alive():
            while not queue.empty():
                queue.get_nowait()
            await asyncio.to_thread(thread.join, 0.05)


def _run(
    produce: Callable[[], Coroutine[Any, Any, None]],
    home: asyncio.AbstractEventLoop,
    queue: asyncio.Queue[object],
    link: _Link,
) -> None:
    """The thread: run the stream to its end, then always tell the consumer how it ended (a
    consumer that has left is not told)."""
    outcome: object = _END
    try:
        asyncio.run(produce())
    except BaseException as exc:  # the stream's error, for the consumer to raise
        outcome = exc
    if link.stop.is_set() or home.is_closed():
        return
    with contextlib.suppress(
        RuntimeError, TimeoutError, asyncio.CancelledError, concurrent.futures.CancelledError
    ):
        # Waits for room: the consumer is reading, or leaving (then it empties the queue).
        asyncio.run_coroutine_threadsafe(queue.put(outcome), home).result(timeout=30)
