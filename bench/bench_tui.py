"""The TUI at a real terminal (a pty, 120x36): first paint, and under a log flood of 20,000
lines/s whether it keeps up, its CPU and memory, and how fast a key press shows on screen.

Run: .venv/bin/python bench/bench_tui.py [--seconds 20] [--rate 20000]
First paint uses `workbench ui --profile lab` (the lab need not be up: the dashboard paints
before any host answers). Key latency: the time from writing `f` to the pty until the logs
screen's filter picker has been painted (escape closes it), sampled every 0.5 s. (Until
2026-11-27 it was `l`, which cycled the level filter, to the repainted status line.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ptyterm import PtyApp

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python")


PICKER = b"Show which lines?"  # the logs screen's filter picker, painted


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def first_paint(runs: int = 5) -> list[float]:
    out = []
    for _ in range(runs):
        app = PtyApp([str(ROOT / ".venv" / "bin" / "workbench"), "ui", "--profile", "lab"])
        out.append(app.wait_for(b"health"))  # the dashboard's table header
        app.drain(0.3)
        app.close()
    return out


def flood(seconds: float, rate: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "flood.json"
        env = {"WB_BENCH_OUT": str(result), "WB_BENCH_RATE": str(rate), "PYTHONPATH": str(ROOT)}
        app = PtyApp([PY, str(ROOT / "bench" / "tui_flood_app.py")], env=env)
        app.wait_for(b"following", timeout=30)
        app.drain(2.0)  # warm up: the flood is running
        latencies, rss = [], []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            app.send(b"f")  # the filter picker opens over the flood
            app.wait_for(PICKER, timeout=10)
            latencies.append(time.perf_counter() - start)
            rss.append(rss_kib(app.pid))
            app.send(b"\x1b")  # and closes, changing nothing
            app.drain(0.5)
        bytes_out = app.received
        code = app.close()
        data = json.loads(result.read_text())
    data.update(exit=code, latencies=latencies, rss_kib=rss, terminal_bytes=bytes_out)
    return data


def ms(values: list[float]) -> str:
    q = statistics.quantiles(values, n=20)
    return (
        f"median {statistics.median(values) * 1000:.0f} ms, p95 {q[18] * 1000:.0f} ms, "
        f"max {max(values) * 1000:.0f} ms (n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=int, default=20000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    paint = first_paint()
    data = flood(args.seconds, args.rate)
    wall = data["wall_s"]
    expected = args.rate * wall
    results = {
        "first_paint_s": paint,
        "flood": data,
        "kept_up": data["received"] / max(1, data["produced"]),
    }
    if args.json:
        print(json.dumps(results))
        return
    print(f"first paint (workbench ui --profile lab): {ms(paint)}")
    print(
        f"flood {args.rate} lines/s for {wall:.1f} s: produced {data['produced']} "
        f"({data['produced'] / expected:.0%} of the rate), shown {data['received']} "
        f"({results['kept_up']:.1%} of produced)"
    )
    print(
        f"  CPU {data['cpu_s'] / wall:.0%} of a core; RSS {data['rss_kib'][0] / 1024:.0f} MiB "
        f"after warm-up, {data['rss_kib'][-1] / 1024:.0f} MiB at the end, peak "
        f"{data['max_rss_kib'] / 1024:.0f} MiB; terminal output "
        f"{data['terminal_bytes'] / wall / 1024:.0f} KiB/s"
    )
    print(f"  key press to painted filter picker: {ms(data['latencies'])}")
    sys.exit(0 if data["exit"] == 0 else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
