"""A Backend that replays event streams recorded from the lab (tests/tui/recordings), for Pilot
and snapshot tests: the screens get exactly what the engine gave the headless commands."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

from workbench.app.backend import ProfileEntry
from workbench.events import Event, from_dict

RECORDINGS = Path(__file__).with_name("recordings")

LAB = ProfileEntry(
    "lab",
    ["target"],
    {"target": "10.213.0.2"},
    "builder",
    "Local lab - nspawn systemd target and a dockerd builder (lab test doubles for Solo5/OPAM)",
    "hello",
)
BROKEN = ProfileEntry("broken", error="1 problem(s): broken.yaml:3: hosts.pi.adress: unknown field")


def recording(name: str) -> list[Event]:
    lines = (RECORDINGS / f"{name}.ndjson").read_text().splitlines()
    return [from_dict(json.loads(line)) for line in lines]


class ReplayBackend:
    """Streams are named recordings; `hold` keeps a stream open after its events (like a
    follow, or a deploy still running) until `release` is set."""

    def __init__(
        self,
        streams: dict[str, str | list[Event] | asyncio.Queue] | None = None,
        entries: list[ProfileEntry] | None = None,
    ) -> None:
        self.entries = entries if entries is not None else [LAB]
        self.streams = {
            "status": "status",
            "deploy": "deploy",
            "logs": "logs",
            "tail": "logs",
            "check": "check",
            "plan": "plan",
            "rollback": "rollback",
            "restart": "restart",
            "stop": "stop",
            "start": "start",
            "remove": "remove",
            "metrics": "metrics",
            **(streams or {}),
        }
        self.calls: list[tuple[str, str, list[str]]] = []
        self.hold: set[str] = set()
        self.release = asyncio.Event()
        self.closed = False
        self.finished: list[str] = []
        self.pending: list[ProfileEntry] | None = None  # the profiles after the next reload
        self.reloads = 0

    def profiles(self) -> list[ProfileEntry]:
        return list(self.entries)

    def changed(self) -> bool:
        return self.pending is not None

    async def reload(self) -> None:
        """What the test put in `pending` becomes the profiles (a file fixed on disk)."""
        if self.pending is not None:
            self.entries, self.pending = self.pending, None
        self.reloads += 1

    async def _play(self, what: str, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        self.calls.append((what, profile, hosts))
        source = self.streams[what]
        if isinstance(source, Exception):
            raise source
        if isinstance(source, asyncio.Queue):  # fed by the test; None ends it
            while (event := await source.get()) is not None:
                yield event
            return
        try:
            for event in recording(source) if isinstance(source, str) else source:
                yield event
            if what in self.hold:
                await self.release.wait()
        finally:
            self.finished.append(what)  # reached also when the app cancels the stream

    def status(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        return self._play("status", profile, hosts)

    def deploy(self, profile: str, hosts: list[str], *, restart: bool = False):  # type: ignore[no-untyped-def]
        return self._play("deploy", profile, hosts)

    def logs(self, profile: str, hosts: list[str], *, lines: int = 200):  # type: ignore[no-untyped-def]
        return self._play("logs", profile, hosts)

    def tail(self, profile: str, host: str, *, lines: int = 50) -> AsyncIterator[Event]:
        return self._play("tail", profile, [host])

    def check(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        return self._play("check", profile, hosts)

    def plan(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        return self._play("plan", profile, hosts)

    def rollback(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        return self._play("rollback", profile, hosts)

    def restart(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        return self._play("restart", profile, hosts)

    def stop(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        return self._play("stop", profile, hosts)

    def start(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        return self._play("start", profile, hosts)

    def remove(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        return self._play("remove", profile, hosts)

    def metrics(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        return self._play("metrics", profile, hosts)

    async def close(self) -> None:
        self.closed = True
