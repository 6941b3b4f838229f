"""What every workbench screen shares: running engine jobs in workers and turning their errors
into notifications (never a crash)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial

from textual.screen import Screen
from textual.worker import Worker, WorkerState

from workbench.app.backend import Backend
from workbench.app.messages import JobEnded, pump
from workbench.events import Event


class WorkbenchScreen(Screen[None]):
    @property
    def backend(self) -> Backend:
        return self.app.backend  # type: ignore[attr-defined]

    def start_job(
        self, job: str, start: Callable[[], AsyncIterator[Event]], *, interval: float = 0.05
    ) -> Worker[None]:
        """Run an engine stream in an async worker (asyncssh lives on this loop); its events
        come back as EngineEvents messages to this screen. One job of a name at a time."""
        return self.run_worker(
            # A partial, not a coroutine: one that is cancelled before it starts (a newer job
            # of the same name) is then never created, instead of never awaited.
            partial(pump, self, job, start, interval=interval),
            name=job,
            group=job,
            exclusive=True,
            exit_on_error=False,
        )

    def on_job_ended(self, message: JobEnded) -> None:
        if message.error:
            hint = f"\n{message.hint}" if message.hint else ""
            self.notify(
                f"{message.error}{hint}",
                title=f"{message.job} failed",
                severity="error",
                timeout=12,
            )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.notify(
                f"{type(error).__name__}: {error}\nThis is a bug in workbench: please report it "
                "(the headless command with --debug shows the traceback).",
                title=f"{event.worker.name} stopped",
                severity="error",
                timeout=20,
            )
