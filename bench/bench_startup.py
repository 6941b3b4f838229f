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


DEPLOY_PATH = "import workbench.cli, workbench.headless, workbench.commands.deploy_cmd"


def deploy_imports(runs: int = 5) -> tuple[list[float], dict[str, float]]:
    """Seconds of imports on `workbench deploy`'s path (`-X importtime`, the sum of the
    top-level imports), each run; and the median run's self time by top-level package."""
    totals, profiles = [], []
    for _ in range(runs + 1):  # the first warms the page cache
        err = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "-X", "importtime", "-c", DEPLOY_PATH],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        total, by_package = 0, {}  # microseconds
        for line in err.splitlines():
            if not line.startswith("import time:") or "|" not in line:
                continue
            self_us, cumulative, name = line[len("import time:") :].split("|")
            if not self_us.strip().isdigit():
                continue  # the header
            if not name[1:].startswith(" "):  # top level: its cumulative holds the rest
                # The interpreter's own start-up (encodings, io, site and its .pth hooks)
                # comes before `site` ends; only what follows is the deploy path's.
                total = 0 if name.strip() == "site" else total + int(cumulative)
            package = name.strip().split(".")[0]
            by_package[package] = by_package.get(package, 0) + int(self_us)
        totals.append(total / 1e6)
        profiles.append(by_package)
    totals, profiles = totals[1:], profiles[1:]
    mid = sorted(range(runs), key=lambda i: totals[i])[runs // 2]
    top = sorted(profiles[mid].items(), key=lambda kv: -kv[1])[:12]
    return totals, {k: v / 1e6 for k, v in top}


def main() -> None:
    for label, cmd in CASES:
        t = timed(cmd)
        print(
            f"{label:<24} median {statistics.median(t) * 1000:6.1f} ms  "
            f"(min {min(t) * 1000:.1f}, max {max(t) * 1000:.1f})"
        )
    totals, top = deploy_imports()
    print(f"deploy-path imports     median {statistics.median(totals) * 1000:6.1f} ms")
    for package, seconds in top.items():
        print(f"  {package:<22} {seconds * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
