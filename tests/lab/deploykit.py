"""Helpers for deploy tests against the lab target: profile variants, artifacts, CLI runs."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from workbench.examples import HELLO
from workbench.lab import config, hostkeys, solo5elf, tender_double, vm

ROOT = Path(__file__).resolve().parents[2]

HEALTHY = {
    "mirage": True,
    "logs": [{"msg": "serving HTTP on port 8080"}],
    "listen": [{"port": 8080, "http": {"/health": [200, "ok\n"]}}],
}
CRASHES = {"mirage": True, "logs": [{"msg": "starting"}], "crash": "Invalid_argument boom"}


@dataclass
class Variant:
    """A profile derived from profiles/lab.yaml with its own name, tap, bridge and subnet."""

    path: Path
    name: str
    tap: str
    bridge: str
    net: int

    @property
    def unit(self) -> str:
        return f"unikernel-{self.name}.service"

    @property
    def release_dir(self) -> str:
        return f"/var/lib/workbench/{self.name}"


def variant(tmp_path: Path, n: int, **service: str) -> Variant:
    text = (ROOT / "profiles" / "lab.yaml").read_text()
    text = text.replace("name: hello", f"name: t{n}")
    text = text.replace("source: ../workbench/examples/hello", f"source: {HELLO}")
    text = text.replace("10.0.0.", f"10.0.{n}.")
    text = text.replace("service: tap100", f"service: tap1{n}")
    text = text.replace("bridge: br100", f"bridge: br1{n}")
    for key, value in service.items():
        text = text.replace(f"  {key}: unikernel", f"  {key}: {value}")
    path = tmp_path / f"t{n}.yaml"
    path.write_text(text)
    return Variant(path, f"t{n}", f"tap1{n}", f"br1{n}", n)


def artifact(tmp_path: Path, name: str, spec: dict, arch: str = "x86_64", pad: int = 0) -> Path:
    path = tmp_path / f"{name}.hvt"
    path.write_bytes(
        solo5elf.build(
            arch=arch,
            devices=[("service", "NET_BASIC")],
            pad_to=pad,
            extra_sections={".workbench.lab.guest": json.dumps(spec).encode()},
        )
    )
    return path


def tender() -> Path:
    return tender_double.build()


def cli(*args: str) -> list[str]:
    """The argv that runs workbench from this checkout."""
    return [sys.executable, "-m", "workbench", *args]


def workbench(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*args), cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def deploy_args(profile: str | Path, art: Path, tender_path: Path, *extra: str) -> list[str]:
    """`deploy --json` of a given artifact and tender; extra flags after."""
    return [
        "deploy",
        "--profile",
        str(profile),
        "--artifact",
        str(art),
        "--tender",
        str(tender_path),
        "--json",
        *extra,
    ]


def json_events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def deploy(v: Variant, art: Path, *extra: str) -> tuple[int, list[dict], str]:
    """Run deploy with --json; return the exit code, the events, and every failure's message
    and hint (from step_failed events) followed by stderr."""
    result = workbench(*deploy_args(v.path, art, tender(), *extra))
    events = json_events(result.stdout)
    return result.returncode, events, failures(events) + result.stderr


@contextlib.contextmanager
def throttled(veth: str, rate: str = "40mbit") -> Iterator[None]:
    """Shape traffic towards a lab host, so an upload lasts long enough to cut or interrupt."""
    subprocess.run(
        [
            "tc",
            "qdisc",
            "add",
            "dev",
            veth,
            "root",
            "tbf",
            "rate",
            rate,
            "burst",
            "64kb",
            "latency",
            "200ms",
        ],
        check=True,
    )
    try:
        yield
    finally:
        subprocess.run(["tc", "qdisc", "del", "dev", veth, "root"], check=False)


def failures(events: list[dict]) -> str:
    return "".join(
        f"{e['message']}\nhint: {e['hint']}\n" for e in events if e["event"] == "step_failed"
    )


def on_target(command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*hostkeys.ssh_argv(config.TARGET.address), command],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def remove(v: Variant, run: Callable[[str], object] | None = None) -> None:
    """Leave the target (or the host `run` runs on) as if this variant had never been
    deployed."""
    (run or on_target)(
        f"systemctl disable --now {v.unit} 2>/dev/null; rm -f /etc/systemd/system/{v.unit}; "
        f"rm -rf {v.release_dir} /etc/systemd/network/10-workbench-{v.tap}.* "
        f"/etc/workbench/owners/unikernel-{v.name}.json "
        f"/etc/systemd/network/10-workbench-{v.bridge}.*; systemctl daemon-reload; "
        f"ip link del {v.tap} 2>/dev/null; ip link del {v.bridge} 2>/dev/null; "
        "networkctl reload 2>/dev/null; true"
    )


def steps(events: list[dict]) -> dict[str, dict]:
    return {e["step"]: e for e in events if e["event"] == "step_finished"}


def on_vm(
    command: str, timeout: float = 300, spec: vm.Spec = vm.VM
) -> subprocess.CompletedProcess[str]:
    """Run a shell command on a VM tier (the x86_64 one unless told)."""
    return subprocess.run(
        [*vm.ssh_argv(spec), command], capture_output=True, text=True, timeout=timeout
    )


def tender_on_vm(spec: vm.Spec, props: list[str], args: str = "--mem=32 -- k.hvt") -> list[str]:
    """Run the tender double for `spec`'s arch as a transient unit on that VM (user unikernel,
    group kvm, plus `props`), on a unikernel with no devices that exits 0 after its banner;
    the unit's journal lines."""
    kernel = solo5elf.build(
        arch=spec.machine, extra_sections={".workbench.lab.guest": b'{"exit": 0}'}
    )
    for name, data in (
        ("solo5-hvt", tender_double.build(spec.machine).read_bytes()),
        ("k.hvt", kernel),
    ):
        subprocess.run(
            [*vm.ssh_argv(spec), f"mkdir -p /var/lib/wb-test && cat > /var/lib/wb-test/{name}"],
            input=data,
            check=True,
            timeout=120,
        )
    unit = f"wb-tender-{len(props)}-{zlib.crc32('|'.join(props).encode()) % 10000}"
    flags = " ".join(f"-p '{p}'" for p in props)
    return on_vm(
        "chmod 755 /var/lib/wb-test/solo5-hvt; cd /var/lib/wb-test; "
        "id unikernel >/dev/null 2>&1 || useradd --system --no-create-home -G kvm unikernel; "
        f"systemd-run --unit={unit} --wait --collect -q -p User=unikernel -p Group=kvm "
        f"-p WorkingDirectory=/var/lib/wb-test {flags} /var/lib/wb-test/solo5-hvt {args}; "
        f"journalctl -u {unit} -o cat --no-pager",
        spec=spec,
    ).stdout.splitlines()


def deploy_acting(
    profile: str | Path,
    art: Path,
    when: Callable[[dict], bool],
    act: Callable[[subprocess.Popen[str]], object],
    *,
    tender_path: Path | None = None,
    extra: tuple[str, ...] = (),
) -> tuple[int, list[dict]]:
    """Run `deploy --json` and call `act(process)` once, at the first event for which
    `when(event)` holds (interrupt it, kill it, break the host...); read on to the end.
    Returns the exit code and every event."""
    proc = subprocess.Popen(
        cli(*deploy_args(profile, art, tender_path or tender(), *extra)),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    events: list[dict] = []
    acted = False
    for line in proc.stdout:
        event = json.loads(line)
        events.append(event)
        if not acted and when(event):
            act(proc)
            acted = True
    proc.wait(timeout=300)
    assert acted, "the deploy ended before the moment came"
    return proc.returncode, events


def assert_followed_without_loss(v: Variant, events: list[dict]) -> list[str]:
    """The log lines a follower showed are every journal entry of the unit from its first to
    its last, in order, each once. Returns their cursors."""
    got = [e["cursor"] for e in events if e["event"] == "log_line"]
    assert len(got) == len(set(got)), "a line was shown twice"
    truth = on_target(
        f"journalctl -u {v.unit} -o json --no-pager --after-cursor '{got[0]}'"
    ).stdout.splitlines()
    cursors = [json.loads(line)["__CURSOR"] for line in truth]
    assert got == [got[0], *cursors[: cursors.index(got[-1]) + 1]], "a line was lost"
    return got


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    """Poll `condition` until it holds: tests wait on what they need, never on a guessed
    sleep. The deadline only catches a hang; `what` says what never happened."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.1)


def followed(path: Path) -> list[dict]:
    """The events a `logs --follow --json` writing to `path` has written so far (whole lines)."""
    text = path.read_text()
    whole = text[: text.rfind("\n") + 1].splitlines()
    return [json.loads(line) for line in whole if line.startswith("{")]


def after_reconnect(events: list[dict]) -> list[dict]:
    """The log lines shown after the follower's last reconnect."""
    marks = [i for i, e in enumerate(events) if e.get("step") == "reconnect"]
    return [e for e in events[marks[-1] :] if e["event"] == "log_line"] if marks else []
