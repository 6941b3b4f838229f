"""Deploy a new artifact to 1, 8 and 32 lab hosts at once (`lab up --fleet 32`: booted
Debian targets, systemd-nspawn, one network namespace each) with --parallel N: total time and
what each extra host costs. Every deploy includes the restart, boot follow and HTTP health
check on every host."""

from __future__ import annotations

import json
import resource
import statistics
import tempfile
from pathlib import Path

from bench_redeploy import (
    ANSIBLE_ENV,
    ansible_argv,
    ansible_inventory,
    peer_vars,
    prepare_peers,
    pyinfra_argv,
    pyinfra_inventory,
)
from labbench import WB, config, repeat, run, ssh, summary

from tests.lab.deploykit import HEALTHY, artifact, tender
from workbench.lab import fleet


def peers(
    tmp: Path, hosts: list[str], arts: list[Path], tend: Path, sizes: list[int], runs: int
) -> dict[str, dict[str, dict[str, float]]]:
    """pyinfra and ansible-core doing the redeploy job on the same hosts, as parallel as
    workbench (--parallel N / -f N). Their job has no health check (see bench_redeploy)."""
    biggest = max(sizes)
    addresses = [config.fleet_host(int(h[5:])).address for h in hosts[:biggest]]
    prepare_peers(addresses)
    out: dict[str, dict[str, dict[str, float]]] = {"pyinfra": {}, "ansible": {}}
    for n in sizes:
        inv_py = pyinfra_inventory(tmp, addresses[:n])
        inv_an = ansible_inventory(tmp, addresses[:n])
        for tool in out:

            def once(
                i: int, tool: str = tool, n: int = n, inv_py: Path = inv_py, inv_an: Path = inv_an
            ) -> float:
                values = peer_vars(tool, arts[i % 2], tend)
                if tool == "pyinfra":
                    return run(pyinfra_argv(inv_py, values, parallel=n), timeout=900)
                return run(ansible_argv(inv_an, values, tmp, forks=n), env=ANSIBLE_ENV, timeout=900)

            once(1)  # directories and units first; not measured
            out[tool][str(n)] = summary(repeat(once, runs))
    for address in addresses:
        ssh(
            address,
            "systemctl stop peer-pyinfra peer-ansible; rm -f "
            "/etc/systemd/system/peer-*.service; systemctl daemon-reload; "
            "rm -rf /var/lib/benchpeer",
        )
    return out


def main(sizes: tuple[int, ...] = (1, 8, 32), runs: int = 3) -> dict[str, object]:
    if not fleet.PROFILE.exists():
        raise SystemExit("no lab fleet: run `workbench lab up --fleet 32` first")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        arts = [
            artifact(tmp, "a", HEALTHY),
            artifact(tmp, "b", {**HEALTHY, "logs": [{"msg": "version b"}]}),
        ]
        tend = tender()
        biggest = max(sizes)
        hosts = [f"fleet{i:02d}" for i in range(1, biggest + 1)]

        cpu: dict[int, list[float]] = {}  # n -> workbench's own CPU (user + system) per run

        def deploy(n: int, art: Path) -> tuple[float, float]:
            """Wall seconds, and CPU seconds of the children waited for (workbench's process)."""
            selected = [a for h in hosts[:n] for a in ("--host", h)]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            took = run(
                [
                    str(WB),
                    "deploy",
                    "--profile",
                    str(fleet.PROFILE),
                    "--artifact",
                    str(art),
                    "--tender",
                    str(tend),
                    "--parallel",
                    str(n),
                    "--quiet",
                    *selected,
                ],
                timeout=900,
            )
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            return took, used

        # First deploys (user, network, unit) are not what is measured.
        deploy(biggest, arts[0])
        results: dict[str, object] = {}
        current = 0
        for n in sizes:

            def once(_i: int, n: int = n) -> float:
                nonlocal current
                current = 1 - current
                # Hosts beyond n keep the other artifact: each measured run changes n hosts.
                took, used = deploy(n, arts[current])
                cpu.setdefault(n, []).append(used)
                return took

            results[str(n)] = summary(repeat(once, runs))
            deploy(biggest, arts[current])  # all hosts on the same artifact again
        results["peers"] = peers(tmp, hosts, arts, tend, [n for n in sizes if n > 1], runs)
    one = results[str(min(sizes))]["median"]  # type: ignore[index]
    for n in sizes:
        entry = results[str(n)]  # type: ignore[assignment]
        entry["per_host"] = entry["median"] / n  # type: ignore[index]
        entry["cpu_per_host_s"] = statistics.median(cpu[n]) / n  # type: ignore[index]
        if n > min(sizes):
            entry["each_extra_host"] = (entry["median"] - one) / (n - min(sizes))  # type: ignore[index]
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
