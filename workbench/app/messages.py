"""Messages from the engine's workers to the screens: events in batches, and a job's end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from textual.message import Message
from textual.message_pump import MessagePump

from workbench.engine.batch import batched
from workbench.errors import WorkbenchError
from workbench.events import Event


class EngineEvents(Message):
    """A batch of a job's events, in order."""

    def __init__(self, job: str, events: list[Event]) -> None:
        super().__init__()
        self.job = job
        self.events = events


class JobEnded(Message):
    """A job's stream ended: normally, with a WorkbenchError (message, hint), or cancelled."""

    def __init__(
        self,
        job: str,
        *,
        error: str | None = None,
        hint: str | None = None,
        cancelled: bool = False,
    ) -> None:
        super().__init__()
        self.job = job
        self.error = error
        self.hint = hint
        self.cancelled = cancelled


async def pump(
    target: MessagePump,
    job: str,
    start: Callable[[], AsyncIterator[Event]],
    *,
    interval: float = 0.05,
) -> None:
    """Run the stream `start()` returns and post its events to `target` in batches (the body
    of a worker). A WorkbenchError, also from `start()` itself, ends the job with its message.

    Cancelling the worker cancels the engine's stream, as Ctrl-C does in the headless path:
    remote processes are closed and a shielded switch/restart completes first.
    """
    try:
        async for batch in batched(start(), interval=interval):
            target.post_message(EngineEvents(job, batch))
    except WorkbenchError as exc:
        target.post_message(JobEnded(job, error=exc.message, hint=exc.hint))
        return
    except asyncio.CancelledError:
        target.post_message(JobEnded(job, cancelled=True))
        raise
    target.post_message(JobEnded(job))
