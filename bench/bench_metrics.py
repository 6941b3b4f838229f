"""What a metrics sample costs a host: the sampling script's CPU on the host (children's user +
system time over many runs, read with getrusage by python3 on the host) and the round trip of
one sample over an open connection next to a bare `true` over the same connection. On the lab
target with three unikernels deployed, and on the arm64 VM tier (emulated by QEMU TCG, so its
figures are many times a real Pi's) with one."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from labbench import ROOT, WB

from tests.lab.deploykit import HEALTHY, artifact, remove, variant
from workbench import profiles
from workbench.lab import manager, tender_double, vm
from workbench.remote.connection import Pool
from workbench.remote.sampling import SAMPLE_SCRIPT

# Run the script N times as children of one python3 on the host; their CPU per run, in ms.
CPU_PROBE = r"""
import resource, subprocess, sys, time
n = int(sys.argv[1])
t0 = time.perf_counter()
for _ in range(n):
    subprocess.run(["sh", "-c", script, "sample"], stdout=subprocess.DEVNULL, check=True)
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print((ru.ru_utime + ru.ru_stime) / n * 1000, wall / n * 1000)
"""
VARIANTS = (111, 112, 113)  # numbers no lab test uses


async def _round_trips(profile: str, host: str, n: int) -> dict[str, list[float]]:
    loaded = profiles.load(profile)
    pool = Pool(loaded.profile.hosts)
    conn = pool.get(host)
    out: dict[str, list[float]] = {"sample": [], "true": []}
    try:
        await conn.connection()
        for _ in range(n):
            for name, argv in (
                ("sample", ["sh", "-c", SAMPLE_SCRIPT, "workbench-sample"]),
                ("true", ["true"]),
            ):
                t = time.perf_counter()
                await conn.run(argv)
                out[name].append((time.perf_counter() - t) * 1000)
    finally:
        await pool.close()
    return out


def _host_cpu(ssh_argv: list[str], n: int) -> tuple[float, float]:
    probe = f"script = {SAMPLE_SCRIPT!r}\n{CPU_PROBE}"
    result = subprocess.run(
        [*ssh_argv, "python3", "-", str(n)],
        input=probe, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    cpu, wall = (float(x) for x in result.stdout.split())
    return cpu, wall


def _measure(profile: str, host: str, ssh_argv: list[str], runs: int, cpu_runs: int) -> dict:
    trips = asyncio.run(_round_trips(profile, host, runs))
    cpu, wall = _host_cpu(ssh_argv, cpu_runs)
    units = subprocess.run(
        [*ssh_argv, "ls /etc/workbench/owners | wc -l"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "unikernels": int(units or 0),
        "host_cpu_ms": cpu,
        "host_wall_ms": wall,
        "sample_ms": statistics.median(trips["sample"]),
        "true_ms": statistics.median(trips["true"]),
        "runs": runs,
        "cpu_runs": cpu_runs,
    }


def main(runs: int = 5) -> dict:
    from workbench.lab import hostkeys

    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        tender = tender_double.build()
        variants = [variant(tmp_path, n) for n in VARIANTS]
        try:
            for v in variants:
                remove(v)
                art = artifact(tmp_path, v.name, HEALTHY)
                subprocess.run(
                    [str(WB), "deploy", "--profile", str(v.path), "--artifact", str(art),
                     "--tender", str(tender)],
                    check=True, capture_output=True, cwd=ROOT, timeout=300,
                )  # fmt: skip
            ssh = hostkeys.ssh_argv(manager.config.TARGET.address)
            out["lab target (x86_64, nspawn)"] = _measure(
                str(variants[0].path), "target", ssh, runs * 4, 200
            )
        finally:
            for v in variants:
                remove(v)
        out["arm64 VM (QEMU TCG, emulated)"] = _arm64(tmp_path, runs)
    return out


def _arm64(tmp_path: Path, runs: int) -> dict:
    spec = vm.SPECS["pi"]
    was = vm.running(spec)
    vm.up(spec, progress=lambda _m: None)
    try:
        art = artifact(tmp_path, "pi_metrics", HEALTHY, arch="aarch64")
        tend = tender_double.build(spec.machine)
        subprocess.run(
            [str(WB), "deploy", "--profile", "lab-pi", "--artifact", str(art), "--tender",
             str(tend)],
            check=True, capture_output=True, cwd=ROOT, timeout=900,
        )  # fmt: skip
        return _measure("lab-pi", "pi", vm.ssh_argv(spec), runs, 20)
    finally:
        if not was:
            vm.down(spec)
