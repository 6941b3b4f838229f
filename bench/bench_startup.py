"""Start-up time of the headless CLI: `workbench --help` and `workbench profiles`.

Run: .venv/bin/python bench/bench_startup.py   (median of 15 runs each, wall clock)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WB = ROOT / ".venv" / "bin" / "workbench"


def timed(cmd: list[str], runs: int = 15) -> list[float]:
    subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)  # warm the page cache
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)
        out.append(time.perf_counter() - start)
    return out


CASES = [
    ("python -c pass (floor)", [sys.executable, "-c", "pass"]),
    ("workbench --help", [str(WB), "--help"]),
    ("workbench profiles", [str(WB), "profiles"]),
]


def main() -> None:
    for label, cmd in CASES:
        t = timed(cmd)
        print(
            f"{label:<24} median {statistics.median(t) * 1000:6.1f} ms  "
            f"(min {min(t) * 1000:.1f}, max {max(t) * 1000:.1f})"
        )


if __name__ == "__main__":
    main()
