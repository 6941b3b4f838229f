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
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from workbench.engine.batch import batched

T = TypeVar("T")
_END = object()


async def stream(
    start: Callable[[], AsyncIterator[T]],
    *,
    name: str = "workbench-stream",
    interval: float = 0.05,
    size: int = 1000,
    depth: int = 4,
) -> AsyncIterator[T]:
    """The items of `start()`, run on its own loop in a thread, yielded on the caller's loop.
    At most `depth` batches wait here (then the thread waits: memory stays bounded). An error
    of the stream is raised here; cancelling this generator cancels the stream there, and its
    `finally` blocks (closing remote processes and connections) run before it returns."""
    home = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=depth)
    ready = threading.Event()
    box: dict[str, object] = {}  # the thread's loop and task

    async def produce() -> None:
        box["task"] = asyncio.current_task()
        box["loop"] = asyncio.get_running_loop()
        ready.set()
        batches = batched(start(), interval=interval, size=size)
        try:
            async for batch in batches:
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(queue.put(batch), home))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the consumer raises it
            _hand_over(home, queue, exc)
            return
        finally:
            await batches.aclose()  # the stream's `finally` runs before this loop ends
        _hand_over(home, queue, _END)

    thread = threading.Thread(target=_run, args=(produce,), name=name, daemon=True)
    thread.start()
    await asyncio.to_thread(ready.wait)
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            for value in item:  # type: ignore[attr-defined]
                yield value
    finally:
        loop, task = box.get("loop"), box.get("task")
        if isinstance(loop, asyncio.AbstractEventLoop) and isinstance(task, asyncio.Task):
            with contextlib.suppress(RuntimeError):  # its loop has already ended
                loop.call_soon_threadsafe(task.cancel)
        # The thread may wait for room to hand a batch over: make room until it ends.
        while thread.is_alive():
            while not queue.empty():
                queue.get_nowait()
            await asyncio.to_thread(thread.join, 0.05)


def _run(produce: Callable[[], object]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(produce())  # type: ignore[arg-type]


def _hand_over(home: asyncio.AbstractEventLoop, queue: asyncio.Queue[object], item: object) -> None:
    """Put the last item on the consumer's loop (waiting for room), unless it has gone."""
    with contextlib.suppress(RuntimeError, asyncio.CancelledError, TimeoutError):
        asyncio.run_coroutine_threadsafe(queue.put(item), home).result(timeout=30)
