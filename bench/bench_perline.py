"""Python's cost per journal line on `logs -f --json`: parse journald's JSON, classify, make the
event, write its JSON line (to memory: no pipe, no SSH). Median and min of 5 passes over 50,000
lines, in microseconds.

Run: .venv/bin/python bench/bench_perline.py [ROOT]  (ROOT: a checkout to measure, e.g. a git
worktree of an older commit, to compare two in the same run; default this one)
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parents[1]))

from workbench.engine import bootwatch
from workbench.eventprint import EventPrinter
from workbench.remote import journal

CURSOR = "s=6a1c0f2b9e3d4c5b8a7f6e5d4c3b2a19;i={:x};b=0f1e2d3c4b5a69788796a5b4c3d2e1f0;m=1;t=5;x=7"


def lines(n: int = 50_000) -> list[str]:
    """What `journalctl -o json --output-fields=...` prints for a MirageOS log flood."""
    return [
        json.dumps(
            {
                "__CURSOR": CURSOR.format(i),
                "__REALTIME_TIMESTAMP": str(1795758361194109 + i),
                "__MONOTONIC_TIMESTAMP": str(73594123456 + i),
                "_PID": "123",
                "SYSLOG_IDENTIFIER": "hello",
                "PRIORITY": "6",
                "MESSAGE": f"2026-11-22T10:06:35-00:00: [INFO] [spam] line {i} " + "x" * 40,
            }
        )
        for i in range(n)
    ]


def measure(runs: int = 5) -> list[float]:
    data, out = lines(), io.StringIO()
    printer = EventPrinter(True, out=out)
    per_line = []
    for _ in range(runs):
        start = time.perf_counter()
        for text in data:
            entry = journal.parse_entry(text)
            assert entry is not None
            printer(bootwatch.to_event("target", "logs", entry))
        per_line.append((time.perf_counter() - start) / len(data) * 1e6)
        out.seek(0)
        out.truncate()
    return per_line


if __name__ == "__main__":
    us = measure()
    print(f"{statistics.median(us):.1f} us per line median of 5 (min {min(us):.1f})")
