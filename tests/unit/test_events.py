"""Events read back from --json, and the batching that keeps a log flood off the UI queue."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from workbench.engine.batch import batched
from workbench.events import HostDone, LogLine, StepFinished, event_types, from_dict

RECORDINGS = Path(__file__).parents[1] / "tui" / "recordings"


def test_every_recorded_event_reads_back_equal():
    count = 0
    for path in RECORDINGS.glob("*.ndjson"):
        for line in path.read_text().splitlines():
            data = json.loads(line)
            event = from_dict(data)
            assert event.to_dict() == data
            count += 1
    assert count > 100


def test_unknown_event_is_refused():
    with pytest.raises(ValueError, match="not a workbench event: 'nope'"):
        from_dict({"event": "nope", "host": "h", "step": "s"})
    assert {"log_line", "step_finished", "host_done", "rolled_back"} <= set(event_types())


async def _source(n: int, pause_every: int = 0, pause: float = 0.0):
    for i in range(n):
        yield LogLine(host="h", step="logs", kind="app", level="info", text=str(i))
        if pause_every and i % pause_every == pause_every - 1:
            await asyncio.sleep(pause)


async def test_batches_keep_order_and_lose_nothing():
    batches = [b async for b in batched(_source(2500), interval=0.05, size=1000)]
    texts = [e.text for b in batches for e in b]
    assert texts == [str(i) for i in range(2500)]
    assert max(len(b) for b in batches) <= 1000
    assert len(batches) >= 3  # size-bound: no batch over 1000


async def test_a_slow_stream_is_flushed_by_time_not_held_back():
    got: list[tuple[float, int]] = []
    loop = asyncio.get_running_loop()
    start = loop.time()
    async for batch in batched(_source(4, pause_every=1, pause=0.2), interval=0.05):
        got.append((loop.time() - start, len(batch)))
    assert [n for _, n in got] == [1, 1, 1, 1]  # each line went out before the next came


async def test_the_streams_error_reaches_the_consumer():
    async def broken():
        yield StepFinished(host="h", step="a")
        raise RuntimeError("stream broke")

    seen = []
    with pytest.raises(RuntimeError, match="stream broke"):
        async for batch in batched(broken()):
            seen.extend(batch)
    assert [e.step for e in seen] == ["a"]


async def test_a_consumer_that_stops_cancels_the_stream():
    closed = asyncio.Event()

    async def endless():
        try:
            while True:
                yield HostDone(host="h", step="done", ok=True)
                await asyncio.sleep(0)
        finally:
            closed.set()

    async for _ in batched(endless(), interval=0.01):
        break
    await asyncio.wait_for(closed.wait(), 2)


def test_the_readme_schema_names_every_field_of_every_event():
    """The --json schema in the README is the contract: a field added to an event without a
    word there fails here."""
    import dataclasses
    import re

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| (.*) \|$", readme, re.M))
    common = {f.name for f in dataclasses.fields(HostDone) if f.name in ("host", "step", "at")}
    common.add("unikernel")
    intro = readme[readme.index("With `--json`: one JSON object") :][:400]
    assert all(f"`{name}`" in intro for name in common)
    for name, cls in event_types().items():
        own = {f.name for f in dataclasses.fields(cls)} - common
        assert name in rows, name
        assert all(f"`{field}`" in rows[name] for field in own), (name, own, rows[name])


def test_log_line_makes_what_the_dataclass_makes() -> None:
    """events.log_line, the log path's fast constructor, fills every field of LogLine, in
    LogLine's order (the --json key order), with the dataclass's own defaults."""
    import inspect
    from dataclasses import MISSING, fields

    from workbench.events import LogLine, log_line

    names = [f.name for f in fields(LogLine)]
    assert not hasattr(LogLine, "__post_init__")  # log_line does not call __init__
    made = [f.name for f in fields(LogLine) if f.default_factory is not MISSING]
    assert made == ["at"]  # the only field made per event, and log_line makes it
    taken = set(inspect.signature(log_line).parameters)
    assert taken == set(names) - {"at", "unikernel"}  # a new LogLine field must be taken too
    for kwargs in (
        {"host": "h", "step": "logs", "kind": "mirage", "level": "info", "text": "t"},
        {
            "host": "h",
            "step": "boot",
            "kind": "systemd",
            "level": "error",
            "text": "x",
            "source": "systemd",
            "hint": "do y",
            "cursor": "c",
            "time": 12.5,
            "origin": "systemd",
        },
    ):
        fast = log_line(**kwargs)
        slow = LogLine(**kwargs, at=fast.at)  # type: ignore[arg-type]
        assert fast == slow
        assert list(fast.__dict__) == names == list(slow.__dict__)
        assert fast.to_dict() == slow.to_dict()
        assert abs(fast.at - __import__("time").time()) < 60
