"""The log path from the lab target to the screen: a line written by a unit's process on the
host (stdout -> journald, as a unikernel's console is) until it reaches workbench, vs a raw
`ssh HOST journalctl -f`; then 20,000 lines/s for 10 s: what each reader receives, how far
behind it ends, workbench's CPU and peak memory; and the TUI's key-press latency during that
flood, the TUI following the real journal over SSH."""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from labbench import ROOT, SSH_OPTS, TARGET, WB, ssh
from ptyterm import PtyApp

from workbench.examples import HELLO

UNIT = "unikernel-logbench"
EMITTER = r"""
import sys, time
rate, secs = int(sys.argv[1]), float(sys.argv[2])
out = sys.stdout
start = time.time()
n = 0
while True:
    elapsed = time.time() - start
    if elapsed >= secs:
        break
    due = int(elapsed * rate)
    while n < due:
        n += 1
        out.write(f"wb-bench seq={n} t={time.time_ns()}\n")
    out.flush()
    time.sleep(0.001 if rate > 500 else 0.5 / rate)
out.write(f"wb-bench done n={n}\n")
out.flush()
"""


def emit(rate: int, seconds: float) -> None:
    """Start the emitter as a transient unit (journald's rate limit off for it)."""
    ssh(
        TARGET,
        f"systemctl stop {UNIT} 2>/dev/null; systemctl reset-failed {UNIT} 2>/dev/null; true",
    )
    result = ssh(
        TARGET,
        f"systemd-run --unit={UNIT} --collect "
        f"--property=LogRateLimitIntervalSec=0 /usr/bin/python3 -u -c '{EMITTER}' "
        f"{rate} {seconds}",
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr)


class Reader:
    """A reader process whose stdout lines are timestamped as they arrive."""

    def __init__(self, argv: list[str], parse) -> None:  # type: ignore[no-untyped-def]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, bufsize=1
        )
        self.parse = parse
        self.samples: list[tuple[int, int]] = []  # (received ns, written ns)
        self.seqs: Counter[int] = Counter()  # the emitter's sequence numbers seen, how often
        self.done_at: float | None = None
        self.cpu0 = self._cpu()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            now = time.time_ns()
            text = self.parse(line)
            if text is None:
                continue
            if "wb-bench done" in text:
                self.done_at = time.monotonic()
                continue
            if "t=" in text:
                self.samples.append((now, int(text.rsplit("t=", 1)[1].split()[0])))
                self.seqs.update(_seqs([text]))

    def _cpu(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks

    def peak_rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> float:
        cpu = self._cpu() - self.cpu0
        self.proc.terminate()
        self.proc.wait(10)
        return cpu


def workbench_reader(profile: Path) -> Reader:
    def parse(line: str) -> str | None:
        if not line.startswith("{"):
            return None
        event = json.loads(line)
        return event.get("text") if event.get("event") == "log_line" else None

    argv = [str(WB), "logs", "--profile", str(profile), "-f", "--lines", "0", "--json"]
    return Reader(argv, parse)


def ssh_reader() -> Reader:
    argv = ["ssh", *SSH_OPTS, f"root@{TARGET}", f"journalctl -u {UNIT} -f -n 0 -o cat"]
    return Reader(argv, lambda line: line)


def latencies(reader: Reader) -> dict[str, float]:
    ms = sorted((got - sent) / 1e6 for got, sent in reader.samples)
    return {
        "median_ms": statistics.median(ms),
        "p95_ms": ms[int(len(ms) * 0.95) - 1],
        "max_ms": ms[-1],
        "n": len(ms),
    }


def journal_cursor() -> str:
    """The target journal's newest cursor: the next flood's lines come after it."""
    out = ssh(TARGET, "journalctl -n 0 --show-cursor --no-pager").stdout
    return out.strip().rsplit("-- cursor: ", 1)[-1]


def journal_seqs(cursor: str) -> set[int]:
    """The emitter's sequence numbers the target's journal holds from `cursor` on: what a reader
    could have received of this flood (journald itself may drop a few lines of one)."""
    result = ssh(
        TARGET,
        # --cursor, not --after-cursor: the cursor is another unit's entry, and systemd 252's
        # --after-cursor then skips the first entry that matches -u (measured: seq=1 missing).
        f"journalctl -u {UNIT} --cursor '{cursor}' -o cat --no-pager",
        timeout=300,
    )
    seqs = set(_seqs(result.stdout.splitlines()))
    if result.returncode != 0 or not seqs:
        raise RuntimeError(f"the target's journal has no flood lines: {result.stderr[-500:]}")
    return seqs


def _seqs(lines: list[str]) -> list[int]:
    """N of every `wb-bench seq=N t=...` line (a truncated one is not counted)."""
    out = []
    for line in lines:
        if line.startswith("wb-bench seq="):
            number = line[len("wb-bench seq=") :].split(" ", 1)[0]
            if number.isdigit():
                out.append(int(number))
    return out


def flood_pass(make_reader, rate: int, seconds: float) -> dict[str, float]:  # type: ignore[no-untyped-def]
    cursor = journal_cursor()
    reader = make_reader()
    time.sleep(2.5)  # journalctl -f is following
    emit(rate, seconds)
    started = time.monotonic()
    deadline = started + seconds + 30
    while reader.done_at is None and time.monotonic() < deadline:
        time.sleep(0.1)
    ended = reader.done_at
    peak = reader.peak_rss_kib()
    cpu = reader.stop()
    got = len(reader.samples)
    expected = rate * seconds
    stored = journal_seqs(cursor)
    return {
        "received": got,
        "expected": expected,
        "in_journal": len(stored),
        # Lines the journal had that this reader never showed, and lines it showed twice.
        "lost": len(stored - reader.seqs.keys()),
        "duplicated": sum(n - 1 for n in reader.seqs.values()),
        # Shown but not in the journal after the cursor: a window that is wrong, not a loss.
        "not_in_journal": len(reader.seqs.keys() - stored),
        "cpu_s": cpu,
        "cpu_share": cpu / max(0.001, (ended or time.monotonic()) - started),
        "behind_s": (ended - started - seconds) if ended else float("nan"),
        "peak_rss_kib": peak,
        **{f"latency_{k}": v for k, v in latencies(reader).items()},
    }


def tui_pass(profile: Path, rate: int, seconds: float) -> dict[str, object]:
    app = PtyApp([str(WB), "ui", "--profile", str(profile)])
    app.wait_for(b"health")  # the dashboard's table header
    app.drain(1.0)
    app.send(b"l")  # the dashboard's one host: its logs
    app.wait_for(b"following")
    emit(rate, seconds)
    app.drain(2.0)
    samples = []
    end = time.monotonic() + seconds - 3
    while time.monotonic() < end:
        start = time.perf_counter()
        app.send(b"f")  # the filter picker opens over the flood
        app.wait_for(b"Show which lines?", timeout=15)
        samples.append(time.perf_counter() - start)
        app.send(b"\x1b")  # and closes, changing nothing
        app.drain(0.5)
    rss = 0
    for line in Path(f"/proc/{app.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            rss = int(line.split()[1])
    app.close(b"\x1bq")
    ms = sorted(s * 1000 for s in samples)
    return {"median_ms": statistics.median(ms), "max_ms": ms[-1], "n": len(ms), "peak_rss_kib": rss}


JOURNALD_CONF = "/etc/systemd/journald.conf.d/wb-bench.conf"


def journald_rate_limit(on: bool) -> None:
    """journald drops a unit's lines beyond its rate limit (10,000 per 30 s, scaled by free
    space) and, in a container, ignores the per-unit override: off for the flood, back after."""
    if on:
        ssh(TARGET, f"rm -f {JOURNALD_CONF}; systemctl restart systemd-journald")
    else:
        ssh(
            TARGET,
            f"mkdir -p {JOURNALD_CONF.rsplit('/', 1)[0]}; printf '[Journal]\\n"
            f"RateLimitIntervalSec=0\\n' > {JOURNALD_CONF}; systemctl restart systemd-journald",
        )


def main(rate: int = 20_000, seconds: float = 10) -> dict[str, object]:
    journald_rate_limit(False)
    try:
        return _main(rate, seconds)
    finally:
        journald_rate_limit(True)


def _main(rate: int, seconds: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as name:
        profile = Path(name) / "logbench.yaml"
        text = (ROOT / "profiles" / "lab.yaml").read_text().replace("name: hello", "name: logbench")
        profile.write_text(text.replace("../workbench/examples/hello", str(HELLO)))
        # Latency: both readers at once, a line every 50 ms.
        wb, raw = workbench_reader(profile), ssh_reader()
        time.sleep(2.5)
        emit(20, 10)
        time.sleep(12)
        wb.stop(), raw.stop()
        results: dict[str, object] = {
            "latency": {"workbench": latencies(wb), "ssh journalctl -f": latencies(raw)}
        }
        results["flood"] = {
            "workbench": flood_pass(lambda: workbench_reader(profile), rate, seconds),
            "ssh journalctl -f": flood_pass(ssh_reader, rate, seconds),
        }
        results["tui"] = tui_pass(profile, rate, seconds + 5)
        ssh(TARGET, f"systemctl stop {UNIT} 2>/dev/null; true")
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
