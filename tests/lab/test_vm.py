"""The slow tier `vm`: a full x86_64 Debian VM under QEMU TCG, with systemd and dockerd."""

from __future__ import annotations

import shlex
import subprocess
import time

import pytest

from tests.lab.deploykit import (
    HEALTHY,
    ROOT,
    artifact,
    deploy_acting,
    deploy_args,
    json_events,
    on_vm,
    tender_on_vm,
    workbench,
)
from tests.lab.test_faults import CHECK_RELEASE, record
from workbench.lab import tender_double, vm

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def test_vm_runs_systemd_and_dockerd(full_vm):
    out = on_vm(
        "systemctl is-system-running --wait; uname -m; "
        "docker info --format '{{.ServerVersion}} {{.CgroupVersion}}'"
    ).stdout.split()
    assert out[0] in ("running", "degraded")
    assert out[1] == "x86_64"
    assert len(out) == 4 and out[3] in ("1", "2")
    # A real container run: an image of /usr/bin/echo and the libraries ldd names, imported.
    result = on_vm(
        "set -e; d=$(mktemp -d); "
        "for f in /usr/bin/echo $(ldd /usr/bin/echo | grep -o '/[^ ]*'); do "
        "mkdir -p $d$(dirname $f); cp -L $f $d$f; done; "
        "tar -C $d -c . | docker import - wb-lab/tiny >/dev/null; "
        "docker run --rm wb-lab/tiny /usr/bin/echo vm-docker-ok"
    )
    assert "vm-docker-ok" in result.stdout, result.stderr


def test_deploy_to_the_vm(full_vm, tmp_path):
    art = artifact(tmp_path, "app", HEALTHY)
    result = workbench(
        *deploy_args("lab-vm", art, tender_double.build("x86_64"), "--quiet"), timeout=600
    )
    events = json_events(result.stdout)
    assert result.returncode == 0, [e for e in events if e["event"] == "step_failed"]
    assert [e for e in events if e["event"] == "health_result"][-1]["ok"]
    assert on_vm("systemctl is-active unikernel-hello").stdout.strip() == "active"


def test_without_device_allow_kvm_the_tender_cannot_open_it(full_vm):
    """systemd enforces DevicePolicy here (cgroup v2; the nspawn target's cgroup v1 does not):
    the unit's DeviceAllow=/dev/kvm rw is what lets the tender open it, and without it the
    tender fails with the real text, before the unikernel starts."""

    def run(*props: str) -> list[str]:
        return tender_on_vm(vm.VM, ["DevicePolicy=closed", *props])

    denied = run("DeviceAllow=/dev/net/tun rw")
    assert "solo5-hvt: Could not open: /dev/kvm: Operation not permitted" in denied, denied
    assert not any(line.startswith("Solo5:") for line in denied)
    allowed = run("DeviceAllow=/dev/net/tun rw", "DeviceAllow=/dev/kvm rw")
    assert "Solo5: solo5_exit(0) called" in allowed, allowed


def test_the_target_rebooted_mid_deploy(full_vm, tmp_path):
    """Fault matrix (docs/RELIABILITY.md): the host goes down mid-upload without syncing
    (`systemctl reboot -ff`: what the guest has not written out is lost, as in a power cut).
    The deploy fails as a lost connection; the host comes back on a whole release (the old one,
    or the new one if it got that far), running (the unit is enabled); the next deploy
    completes and leaves no staging directory."""
    tender = tender_double.build("x86_64")
    old = artifact(tmp_path, "old", HEALTHY)
    result = workbench(*deploy_args("lab-vm", old, tender, "--quiet"), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    before = on_vm("readlink /var/lib/workbench/hello/current").stdout.strip()
    unique = {**HEALTHY, "logs": [{"msg": f"built {time.time()}"}]}  # never on the host yet
    big = artifact(tmp_path, "big", unique, pad=12 * 1024 * 1024)
    code, events = deploy_acting(
        "lab-vm",
        big,
        lambda e: e["event"] == "upload_progress" and e["done"] > 1024 * 1024,
        # detached: the guest vanishes at once, and this command's own session with it
        lambda _p: on_vm(
            "nohup sh -c 'sleep 0.2; systemctl reboot -ff' >/dev/null 2>&1 &", timeout=30
        ),
        tender_path=tender,
    )
    assert code in (3, 4, 5)
    rebooted = time.monotonic()
    while time.monotonic() - rebooted < 300:
        state = on_vm("systemctl is-system-running --wait", timeout=120).stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(2)
    back = round(time.monotonic() - rebooted, 1)
    check = on_vm(f"python3 -c {shlex.quote(CHECK_RELEASE)} /var/lib/workbench/hello/current")
    assert check.returncode == 0, f"current is not a whole release: {check.stderr}"
    after = f"releases/{check.stdout.strip()}"
    assert on_vm("systemctl is-active unikernel-hello").stdout.strip() == "active"
    start = time.monotonic()
    result = workbench(*deploy_args("lab-vm", big, tender, "--quiet"), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    leftovers = on_vm("ls -A /var/lib/workbench/hello/releases").stdout.split()
    assert not [e for e in leftovers if e.startswith(".")], leftovers
    reached = [e["step"] for e in events if e["event"] == "step_started"][-1]
    record(
        "target went down during a deploy (reboot -ff)",
        lost="nothing",
        deploy_had_reached=reached,
        current_after_reboot="old" if after == before else "new",
        host_back_after_s=back,
        recovery_deploy_s=round(time.monotonic() - start, 1),
    )


# -- several unikernels across a reboot (issue: many unikernels per host) ----------------------


def multi_profile(tmp_path) -> str:  # type: ignore[no-untyped-def]
    """lab-vm.yaml with three unikernels on br100: web after db, and spare."""
    text = (ROOT / "profiles" / "lab-vm.yaml").read_text()
    head = text[: text.index("\nbuild:")]
    tail = text[text.index("\nnetwork:") :]
    tender = tender_double.build("x86_64")
    items = []
    for n, (name, after) in enumerate((("web", "[db]"), ("db", "[]"), ("spare", "[]")), start=3):
        art = artifact(tmp_path, name, HEALTHY)
        items.append(
            f"  - name: {name}\n    artifact: {art}\n    tender: {tender}\n    memory: 32\n"
            f'    args: ["--ipv4=10.0.0.{n}/24", "--ipv4-gateway=10.0.0.1"]\n'
            f"    networks: {{service: tap10{n}}}\n    after: {after}\n"
        )
    path = tmp_path / "vm-multi.yaml"
    path.write_text(head + "\n\nunikernels:\n" + "".join(items) + tail)
    return str(path)


def units(*names: str) -> str:
    return " ".join(f"unikernel-{n}.service" for n in names)


def test_after_a_reboot_every_enabled_unikernel_is_back_in_order(full_vm, tmp_path):
    path = multi_profile(tmp_path)
    result = workbench("deploy", "--profile", path, "--json", "--quiet", timeout=900)
    done = [
        (e["unikernel"], e["ok"]) for e in json_events(result.stdout) if e["event"] == "host_done"
    ]
    assert result.returncode == 0 and done == [("db", True), ("web", True), ("spare", True)], (
        result.stderr
    )
    stop = workbench("stop", "--profile", path, "--unikernel", "spare", timeout=300)
    assert stop.returncode == 0, stop.stderr

    boot = on_vm("cat /proc/sys/kernel/random/boot_id").stdout.strip()
    on_vm("nohup sh -c 'sleep 0.5; systemctl reboot' >/dev/null 2>&1 &", timeout=30)
    time.sleep(5)
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        try:
            state = on_vm("systemctl is-system-running --wait", timeout=120).stdout.strip()
        except subprocess.TimeoutExpired:
            continue
        if state in ("running", "degraded"):
            break
        time.sleep(3)
    assert on_vm("cat /proc/sys/kernel/random/boot_id").stdout.strip() not in ("", boot)
    show = on_vm(
        f"systemctl show -P ActiveState -P NRestarts -P ActiveEnterTimestampMonotonic "
        f"{units('db', 'web', 'spare')}"
    ).stdout.split()
    # systemctl prints each unit's properties in its own order; read them by unit.
    per_unit = [show[i : i + 3] for i in range(0, 9, 3)]
    states = [next(w for w in u if not w.isdigit()) for u in per_unit]
    assert states == ["active", "active", "inactive"], show
    started = [max(int(w) for w in u if w.isdigit()) for u in per_unit[:2]]
    assert started[0] <= started[1], "web started before db, which it is after"
    restarts = [min(int(w) for w in u if w.isdigit()) for u in per_unit[:2]]
    assert restarts == [0, 0], "a unikernel needed a restart to come back (its tap?)"
    journal = on_vm("journalctl -b -q -o cat -u unikernel-db -u unikernel-web").stdout
    assert "Could not" not in journal and "ENOENT" not in journal, journal
    assert on_vm("systemctl is-enabled unikernel-spare").stdout.strip() == "disabled"
