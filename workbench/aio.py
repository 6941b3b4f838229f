"""Run the engine's async work from the CLI, stoppable by Ctrl-C and by SIGTERM alike.

Both signals cancel the main task, so every `finally` runs (remote processes are closed, the
deploy lock released, a shielded switch completes). The handlers are installed explicitly: a
process started in the background by a non-interactive shell inherits SIGINT as ignored, and
`kill`/timeouts/supervisors send SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def run(main: Callable[[], Awaitable[None]]) -> None:
    async def wrapper() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        received: list[int] = []

        def stop(signum: int) -> None:
            received.append(signum)
            if task is not None:
                task.cancel()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop, signum)
        try:
            await main()
        except asyncio.CancelledError:
            if received:
                raise Interrupted(received[0]) from None
            raise

    asyncio.run(wrapper())


async def shielded(coro: Awaitable[T]) -> T:
    """Run to completion even if the caller is cancelled; then re-raise the cancellation."""
    task = asyncio.ensure_future(coro)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise
