"""What the lab benchmarks share: repeated timing with median and spread, the lab's SSH
details, the peer tools' environment (.venv-bench: pyinfra and ansible-core from PyPI)."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.lab import config, hostkeys  # noqa: E402

PY = ROOT / ".venv" / "bin" / "python"
WB = ROOT / ".venv" / "bin" / "workbench"
PEERS = ROOT / ".venv-bench"
PEER_PACKAGES = ["pyinfra==3.10.0", "ansible-core==2.19.14"]
TARGET = config.TARGET.address
# The lab's own ssh options (key, known_hosts, strict, batch), for ssh, scp and sftp alike.
SSH_OPTS = hostkeys.ssh_argv("")[1:-1]


def ensure_peers() -> None:
    """pyinfra and ansible-core in their own venv: the project's never depends on them."""
    if (
        not (PEERS / "bin" / "pyinfra").exists()
        or not (PEERS / "bin" / "ansible-playbook").exists()
    ):
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
        subprocess.run([str(PEERS / "bin" / "pip"), "install", "-q", *PEER_PACKAGES], check=True)


def version(argv: list[str]) -> str:
    out = subprocess.run(argv, capture_output=True, text=True)
    return (out.stdout or out.stderr).strip().splitlines()[0]


def ssh(host: str, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ssh", *SSH_OPTS, f"root@{host}", command],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run(argv: list[str], *, env: dict[str, str] | None = None, timeout: float = 600) -> float:
    """Wall-clock seconds of one command, which must succeed."""
    start = time.perf_counter()
    result = subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT
    )
    took = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(
            f"{argv[0]} failed ({result.returncode}):\n{result.stdout[-2000:]}\n"
            f"{result.stderr[-2000:]}"
        )
    return took


def repeat(fn: Callable[[int], float], runs: int) -> list[float]:
    return [fn(i) for i in range(runs)]


def summary(values: list[float]) -> dict[str, object]:
    """Median, spread and every run's value (goals such as "in every run" read them)."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
        "values": values,
    }


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    os_release = dict(
        line.split("=", 1)
        for line in Path("/etc/os-release").read_text().splitlines()
        if "=" in line
    )
    import asyncssh
    import textual

    from workbench import __version__

    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{mem / 1024 / 1024:.0f} GiB",
        "os": f"{os_release.get('PRETTY_NAME', '?').strip(chr(34))}, kernel {platform.release()}",
        "python": platform.python_version(),
        "workbench": __version__,
        "asyncssh": asyncssh.__version__,
        "textual": textual.__version__,
        "pyinfra": version([str(PEERS / "bin" / "pyinfra"), "--version"]).split()[-1],
        "ansible-core": version([str(PEERS / "bin" / "ansible-playbook"), "--version"]),
        "OpenSSH": version(["ssh", "-V"]),
        "target systemd": ssh(TARGET, "systemctl --version").stdout.splitlines()[0],
    }
