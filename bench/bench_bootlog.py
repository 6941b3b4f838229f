"""Throughput of workbench.bootlog.classify on real Solo5 output mixed with MirageOS log lines.

Run: .venv/bin/python bench/bench_bootlog.py   (prints lines/s; median of 5 runs)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reference import captures
from workbench.bootlog import classify

# A running MirageOS unikernel mostly prints log lines; boots and errors are rarer.
MIRAGE = [
    "2026-11-22T10:06:35-00:00: [INFO] [netif] Plugging into service with mac "
    "46:1c:42:e5:8f:d9 mtu 1500",
    "2026-11-22T10:06:35-00:00: [INFO] [http] GET /health 200 (0.1 ms)",
    "2026-11-22T10:06:35-00:00: [DEBUG] [tcp.pcb] new connection from 10.0.0.1:51234",
    "2019-01-23 12:12:36 -00:00: INF [application] request served",
]


def corpus(n: int) -> list[str]:
    ref = [line for cap in captures() for line in cap.lines]
    mix = ref + MIRAGE * (len(ref) * 3 // len(MIRAGE))
    return (mix * (n // len(mix) + 1))[:n]


def measure(runs: int = 5) -> list[float]:
    """lines/s of each run."""
    lines = corpus(200_000)
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        for line in lines:
            classify(line)
        rates.append(len(lines) / (time.perf_counter() - start))
    return rates


def main() -> None:
    lines = corpus(200_000)
    rates = measure()
    med = statistics.median(rates)
    print(
        f"bootlog.classify: {med:,.0f} lines/s median of 5 "
        f"(min {min(rates):,.0f}, max {max(rates):,.0f}); {len(lines):,} lines per run, "
        f"Python {sys.version.split()[0]}"
    )


if __name__ == "__main__":
    main()
