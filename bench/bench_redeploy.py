"""Redeploy against the lab target: nothing changed, and a new artifact, by workbench, pyinfra
and ansible-core doing the same job (upload the artifact and tender, template the unit,
daemon-reload, restart only on change). Each tool's whole command is timed, start to exit.

workbench does more in that time: preflight facts, a verified release directory, an atomic
switch, and after a restart it follows the boot and waits for the HTTP health check."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from labbench import PEERS, ROOT, SSH_OPTS, TARGET, WB, config, repeat, run, ssh, summary

from tests.lab.deploykit import HEALTHY, artifact, remove, tender, variant

PEER_TAPS = {"pyinfra": ("tap151", 51), "ansible": ("tap152", 52)}


def pyinfra_inventory(tmp: Path, hosts: list[str]) -> Path:
    path = tmp / "inventory.py"
    data = {
        "ssh_user": "root",
        "ssh_key": str(config.KEY),
        "ssh_known_hosts_file": str(config.KNOWN_HOSTS),
        "ssh_strict_host_key_checking": "yes",
    }
    path.write_text(f"hosts = {[(h, data) for h in hosts]!r}\n")
    return path


def ansible_inventory(tmp: Path, hosts: list[str]) -> Path:
    path = tmp / "inventory.ini"
    common = f"-o UserKnownHostsFile={config.KNOWN_HOSTS} -o StrictHostKeyChecking=yes"
    path.write_text(
        "\n".join(
            f"{h} ansible_user=root ansible_ssh_private_key_file={config.KEY} "
            f"ansible_ssh_common_args='{common}' ansible_python_interpreter=/usr/bin/python3"
            for h in hosts
        )
        + "\n"
    )
    return path


def peer_vars(tool: str, art: Path, tend: Path) -> dict[str, str]:
    tap, net = PEER_TAPS[tool]
    return {
        "uname": f"peer{tool}",
        "unit": f"peer-{tool}.service",
        "dir": f"/var/lib/benchpeer/{tool}",
        "artifact": str(art),
        "tender": str(tend),
        "template": str(ROOT / "bench" / "peers" / "unit.j2"),
        "tap": tap,
        "net": str(net),
    }


def pyinfra_argv(inventory: Path, values: dict[str, str], parallel: int = 10) -> list[str]:
    data = [arg for k, v in values.items() for arg in ("--data", f"{k}={v}")]
    return [
        str(PEERS / "bin" / "pyinfra"),
        "-y",
        "--parallel",
        str(parallel),
        str(inventory),
        str(ROOT / "bench" / "peers" / "pyinfra_deploy.py"),
        *data,
    ]


def ansible_argv(inventory: Path, values: dict[str, str], tmp: Path, forks: int = 5) -> list[str]:
    extra = tmp / "vars.json"
    extra.write_text(json.dumps(values))
    return [
        str(PEERS / "bin" / "ansible-playbook"),
        "-i",
        str(inventory),
        "-f",
        str(forks),
        "-e",
        f"@{extra}",
        str(ROOT / "bench" / "peers" / "playbook.yml"),
    ]


ANSIBLE_ENV = {
    **os.environ,
    "ANSIBLE_HOST_KEY_CHECKING": "True",
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_RETRY_FILES_ENABLED": "0",
}


def started(unit: str, host: str = TARGET) -> str:
    return ssh(host, f"systemctl show -P ExecMainStartTimestampMonotonic {unit}").stdout.strip()


def prepare_peers(hosts: list[str]) -> None:
    """The peers' taps (workbench makes its own network; the peers' job does not include it)."""
    script = " ".join(
        f"ip link show {tap} >/dev/null 2>&1 || ip tuntap add dev {tap} mode tap user unikernel "
        f"group kvm; ip link set {tap} up;"
        for tap, _ in PEER_TAPS.values()
    )
    for host in hosts:
        result = ssh(
            host,
            script + " systemctl stop peer-pyinfra peer-ansible 2>/dev/null; "
            "rm -rf /var/lib/benchpeer; true",
        )
        if result.returncode != 0:
            raise RuntimeError(f"{host}: {result.stderr}")


def main(runs: int = 5) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        v = variant(tmp, 50)
        remove(v)
        arts = [
            artifact(tmp, "a", HEALTHY),
            artifact(tmp, "b", {**HEALTHY, "logs": [{"msg": "version b"}]}),
        ]
        tend = tender()
        # The first deploy creates the service user and network; not measured.
        wb = [str(WB), "deploy", "--profile", str(v.path), "--tender", str(tend), "--quiet"]
        run([*wb, "--artifact", str(arts[0])])
        prepare_peers([TARGET])
        results: dict[str, object] = {}
        # The floor of any tool that talks to the host: OpenSSH connecting and running `true`.
        results["ssh true"] = summary(
            repeat(lambda i: run(["ssh", *SSH_OPTS, f"root@{TARGET}", "true"]), runs)
        )
        results["workbench"] = {
            "noop": summary(repeat(lambda i: run([*wb, "--artifact", str(arts[0])]), runs)),
            "new": summary(
                repeat(lambda i: run([*wb, "--artifact", str(arts[(i + 1) % 2])]), runs)
            ),
        }
        inv_py, inv_an = pyinfra_inventory(tmp, [TARGET]), ansible_inventory(tmp, [TARGET])

        def peer(tool: str, i: int, changed: bool) -> float:
            art = arts[(i + 1) % 2] if changed else arts[0]
            values = peer_vars(tool, art, tend)
            before = started(values["unit"])
            if tool == "pyinfra":
                took = run(pyinfra_argv(inv_py, values))
            else:
                took = run(ansible_argv(inv_an, values, tmp), env=ANSIBLE_ENV)
            # Same job or no comparison: a change restarts the unit, no change does not.
            if (started(values["unit"]) != before) != changed:
                raise RuntimeError(
                    f"{tool} {'did not restart' if changed else 'restarted'} {values['unit']}"
                )
            return took

        for tool in ("pyinfra", "ansible"):
            peer(tool, 1, True)  # first run: the directory, the unit; not measured
            peer(tool, 0, False)
            results[tool] = {
                "noop": summary(repeat(lambda i, t=tool: peer(t, 0, False), runs)),
                "new": summary(repeat(lambda i, t=tool: peer(t, i, True), runs)),
            }
        ssh(
            TARGET,
            "systemctl stop peer-pyinfra peer-ansible; rm -f /etc/systemd/system/peer-*.service; "
            "systemctl daemon-reload; rm -rf /var/lib/benchpeer",
        )
        remove(v)
    return results


if __name__ == "__main__":
    print(json.dumps(main(3), indent=1))
