"""`make mutation`: mutmut over the pure decision modules, in a scratch copy of the tree.

Runs `mutmut run` (config: [tool.mutmut] in pyproject.toml) in a copy of the tracked files, so
the checkout is never mutated, then prints the kill rate per module and the survivors' names;
`--diffs PATTERN` also prints the diff of each survivor whose name contains PATTERN (mutmut
takes about a second a diff). The figures go to docs/TESTING.md by hand, with the reasons.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = [sys.executable, "-m", "mutmut"]


def copy_tree(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--diffs", metavar="PATTERN", help="show these survivors' diffs")
    args = parser.parse_args()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="workbench-mutation-") as tmp:
        work = Path(tmp)
        copy_tree(work)
        run = subprocess.run([*MUTMUT, "run", "--max-children", "2"], cwd=work)
        if run.returncode not in (0, 1):
            return run.returncode
        out = subprocess.run(
            [*MUTMUT, "results", "--all", "true"], cwd=work, capture_output=True, text=True
        ).stdout
        results = [
            (m["name"], m["status"])
            for line in out.splitlines()
            if (m := re.match(r"\s*(?P<name>\S+):\s*(?P<status>[\w ]+?)\s*$", line))
        ]
        per_module: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        for name, status in results:
            per_module[name.split(".x_", 1)[0].split("__mutmut_")[0]][status] += 1
        total = collections.Counter(status for _, status in results)
        print(f"\n{'module':<48} {'killed':>7} {'survived':>9} {'other':>6} {'rate':>6}")
        for module, counts in sorted(per_module.items()):
            _row(module, counts)
        _row("all", total)
        survivors = [name for name, status in results if status == "survived"]
        print("\nsurvivors:", *survivors, sep="\n  ")
        for name in survivors:
            if args.diffs and args.diffs in name:
                shown = subprocess.run(
                    [*MUTMUT, "show", name], cwd=work, capture_output=True, text=True
                ).stdout
                print(f"\n## {name}\n{shown.strip()}")
    print(f"\n{time.monotonic() - start:.0f} s")
    return 0


def _row(module: str, counts: collections.Counter[str]) -> None:
    killed, survived = counts["killed"], counts["survived"]
    other = sum(counts.values()) - killed - survived
    rate = killed / max(1, killed + survived)
    print(f"{module:<48} {killed:>7} {survived:>9} {other:>6} {rate:>6.0%}")


if __name__ == "__main__":
    sys.exit(main())
