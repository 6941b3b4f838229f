"""virtio under real QEMU (TCG): the lab's own multiboot test guest (workbench/lab/guest/)
booted directly on this machine, and deployed to the lab target, whose QEMU the unit runs as
deploy renders it -- boot phases, a log health check, the stable MAC as the guest reads it,
and a guest that exits nonzero rolled back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.lab.deploykit import failures, json_events, on_target, remove, steps, variant
from tests.lab.deploykit import workbench as wb
from workbench import diskimage
from workbench.artifacts import inspect, qemu
from workbench.lab import testguest

pytestmark = pytest.mark.lab
# Disk images as small as `workbench image --size` allows: 1 GiB ones only cost hashing time.
SMALL = diskimage.MIN_SIZE

NET = [("service", "NET_BASIC")]


def log_health(profile_text: str, pattern: str, timeout: int) -> str:
    """The profile text with its `health:` replaced by a log check (the guest serves no HTTP)."""
    head, _, _ = profile_text.partition("\nhealth:\n")
    tail = profile_text.split("\nreleases:\n", 1)[1]
    check = f"\nhealth:\n  kind: log\n  pattern: '{pattern}'\n  timeout: {timeout}\n\nreleases:\n"
    return head + check + tail


def test_the_guest_boots_under_real_qemu_and_says_its_status_on_the_console(tmp_path):
    kernel = testguest.build([], tmp_path / "g.virtio")
    argv = qemu.virtio_argv(
        host=qemu.VirtioHost(qemu="qemu-system-x86_64", kvm=False),
        kernel=str(kernel),
        info=inspect(kernel),
        unikernel="g",
        memory=32,
        networks={},
        block={},
        args=["--log=a,b", "--exit=3"],
    )
    run = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    lines = run.stdout.replace("\r", "").splitlines()
    # Every guest exit is 83 to QEMU; the guest's own status is on the console only.
    assert run.returncode == qemu.GUEST_EXIT, (run.returncode, run.stderr)
    assert "Solo5: solo5_exit(3) called" in lines, lines
    # Measured: QEMU 7.2 passes -append's commas through, so workbench does not double them.
    assert "Command line is: '--log=a,b --exit=3'" in lines, lines
    assert "[application] a,b" in lines


@pytest.fixture
def virtio_profile(lab, tmp_path):
    v = variant(tmp_path, 6)  # a number no other lab test uses
    text = v.path.read_text()
    text = text.replace("  memory: 64\n", "  memory: 64\n  accel: tcg\n")  # never KVM in the lab
    text = text.replace('  args: ["', '  args: ["--log=ready", "')
    text = log_health(text, "ready", 60)
    v.path.write_text(text)
    remove(v)
    yield v
    remove(v)


def deploy(profile: Path, kernel: Path) -> tuple[int, list[dict], str]:
    args = ["deploy", "--profile", str(profile), "--artifact", str(kernel), "--json"]
    result = wb(*args)
    events = json_events(result.stdout)
    return result.returncode, events, failures(events) + result.stderr


def test_a_virtio_unikernel_deploys_under_qemu_and_a_crash_rolls_back(virtio_profile, tmp_path):
    v = virtio_profile
    where = on_target("command -v qemu-system-x86_64").stdout.strip()
    assert where == "/usr/bin/qemu-system-x86_64"
    good = testguest.build(NET, tmp_path / "app.virtio")
    code, events, err = deploy(v.path, good)
    assert code == 0, err
    release = events[-1]["release"]
    by_step = steps(events)
    assert "TCG, emulated" in by_step["tender"]["detail"], by_step["tender"]
    assert by_step["upload"]["detail"].startswith(f"release {release}: {v.name}.virtio ")
    checks = {e["name"]: e for e in events if e["event"] == "fact"}
    assert checks["qemu"]["ok"] is True and checks["virtio"]["ok"] is True
    # The release is the kernel and its record: no tender (the host's QEMU runs it).
    listing = on_target(f"ls -A {v.release_dir}/current/").stdout.split()
    assert listing == ["release.json", f"{v.name}.virtio"], listing
    unit = on_target(f"cat /etc/systemd/system/{v.unit}").stdout
    assert "ExecStart=/usr/bin/qemu-system-x86_64 -accel tcg -cpu Westmere " in unit
    assert "LockPersonality=yes" in unit.splitlines()
    # The guest reads the MAC the unit gave it: stable, derived from the host's machine-id.
    machine_id = on_target("cat /etc/machine-id").stdout.strip()
    mac = qemu.stable_mac(machine_id, v.name, "service")
    assert f"mac={mac}" in unit
    journal = on_target(f"journalctl -u {v.unit} -o cat --no-pager").stdout
    assert f"Solo5: PCI:00:02: configured, mac={mac}" in journal, journal
    assert "[application] ready" in journal
    health = [e for e in events if e["event"] == "health_result"]
    assert health and health[-1]["ok"] is True, events
    phases = {e["phase"] for e in events if e["event"] == "boot_phase"}
    assert {"banner", "memory_map", "app_start"} <= phases, phases
    status = wb("status", "--profile", str(v.path), "--json")
    fields = [e for e in json_events(status.stdout) if e["event"] == "status"]
    assert fields and fields[0]["fields"]["runtime"] == "virtio", status.stdout

    # A release whose guest exits 3: QEMU exits 83, the console says 3, deploy rolls back.
    bad = testguest.build(NET, tmp_path / "bad.virtio", builtin_args="--log=crashing --exit=3")
    code, events, err = deploy(v.path, bad)
    assert code != 0
    # The reason is the guest's own status from its console line, not QEMU's 83.
    assert "the unikernel exited with status 3" in err, err
    rolled = [e for e in events if e["event"] == "rolled_back"]
    assert rolled and rolled[0]["to_release"] == release, err
    assert on_target(f"readlink {v.release_dir}/current").stdout.strip().endswith(release)
    assert on_target(f"systemctl is-active {v.unit}").stdout.strip() == "active"


def test_an_image_from_workbench_image_boots_to_the_guest_in_qemu(tmp_path):
    kernel = testguest.build([], tmp_path / "g.virtio")
    image = diskimage.make(
        kernel, ["--log=booted-from-disk", "--exit=0"], tmp_path, "g", size=SMALL
    )
    argv = [
        "qemu-system-x86_64", "-accel", "tcg", "-cpu", "Westmere", "-m", "64M", "-nodefaults",
        "-no-user-config", "-machine", "acpi=off", "-display", "none", "-serial", "stdio",
        "-device", "isa-debug-exit", "-drive", f"file={image},format=raw,if=ide",
    ]  # fmt: skip
    run = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    lines = run.stdout.replace("\r", "").splitlines()
    assert run.returncode == qemu.GUEST_EXIT, (run.returncode, run.stderr, lines)
    # SeaBIOS -> syslinux's MBR -> syslinux -> mboot.c32 (-aout) -> the guest, on COM1.
    assert "Loading unikernel.bin... ok" in lines, lines
    assert "Solo5: Bindings version v0.12.1 (workbench lab test guest)" in lines
    assert "Command line is: '--log=booted-from-disk --exit=0'" in lines
    assert "Solo5: solo5_exit(0) called" in lines


@pytest.fixture
def generic_profile(lab, tmp_path):
    v = variant(tmp_path, 7)  # a number no other lab test uses
    v.path.with_suffix(".base").write_text(v.path.read_text())
    yield v
    remove(v)


def as_qemu_guest(v, boot: str, path: Path, keep_args: bool) -> None:
    """Make the variant a `runtime: qemu` unikernel booting `path` (boot: disk or kernel)."""
    text = v.path.with_suffix(".base").read_text()
    source = next(line for line in text.splitlines() if line.startswith("  source: "))
    qemu_block = f"  runtime: qemu\n  accel: tcg\n  qemu:\n    {boot}: {path}\n"
    text = text.replace(source + "\n", qemu_block)
    if keep_args:
        text = text.replace('  args: ["', '  args: ["--log=ready", "')
    else:
        text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("  args: ")) + "\n"
    text = log_health(text, "ready", 8)
    v.path.write_text(text)


def qemu_deploy(profile: Path) -> tuple[int, list[dict], str]:
    result = wb("deploy", "--profile", str(profile), "--json")
    events = json_events(result.stdout)
    return result.returncode, events, failures(events) + result.stderr


def test_a_qemu_guest_boots_from_its_disk_image_and_a_broken_image_rolls_back(
    generic_profile, tmp_path
):
    v = generic_profile
    kernel = testguest.build(NET, tmp_path / "g.virtio")
    good = diskimage.make(kernel, ["--log=ready"], tmp_path / "good", "g", size=SMALL)
    as_qemu_guest(v, "disk", good, keep_args=False)
    remove(v)
    code, events, err = qemu_deploy(v.path)
    assert code == 0, err
    release = events[-1]["release"]
    unit = on_target(f"cat /etc/systemd/system/{v.unit}").stdout
    assert f"file={v.release_dir}/current/disk.raw,format=raw,if=none,snapshot=on" in unit
    journal = on_target(f"journalctl -u {v.unit} -o cat --no-pager").stdout
    # SeaBIOS -> syslinux -> mboot.c32 -> the guest, its console in the journal.
    assert "Loading unikernel.bin... ok" in journal and "[application] ready" in journal
    mac = qemu.stable_mac(on_target("cat /etc/machine-id").stdout.strip(), v.name, "service")
    assert f"configured, mac={mac}" in journal
    # snapshot=on: the release's image is never written, so it stays verified.
    listing = on_target(f"sha256sum {v.release_dir}/current/disk.raw").stdout.split()[0]
    assert listing == inspect_sha(good)
    status = wb("status", "--profile", str(v.path), "--json")
    fields = [e for e in json_events(status.stdout) if e["event"] == "status"]
    assert fields and fields[0]["fields"]["runtime"] == "qemu", status.stdout

    silent = testguest.build(NET, tmp_path / "s.virtio", builtin_args="--log=broken --exit=3")
    bad = diskimage.make(silent, [], tmp_path / "bad", "g", size=SMALL)
    as_qemu_guest(v, "disk", bad, keep_args=False)
    code, events, err = qemu_deploy(v.path)
    assert code != 0
    rolled = [e for e in events if e["event"] == "rolled_back"]
    assert rolled and rolled[0]["to_release"] == release, err
    assert on_target(f"readlink {v.release_dir}/current").stdout.strip().endswith(release)


def test_a_qemu_guest_boots_from_a_kernel_with_its_args(generic_profile, tmp_path):
    v = generic_profile
    as_qemu_guest(v, "kernel", testguest.build(NET, tmp_path / "k.virtio"), keep_args=True)
    remove(v)
    code, _events, err = qemu_deploy(v.path)
    assert code == 0, err
    journal = on_target(f"journalctl -u {v.unit} -o cat --no-pager").stdout
    assert "Command line is: '--log=ready --ipv4=10.0.7.2/24 --ipv4-gateway=10.0.7.1'" in journal


def inspect_sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def two_on_one_bridge(lab, tmp_path):
    v = variant(tmp_path, 8)  # a number no other lab test uses
    text = v.path.read_text()
    start, end = text.index("\nunikernel:\n"), text.index("\nnetwork:\n")
    guests = "".join(
        f"  - name: t8{n}\n    runtime: qemu\n    accel: tcg\n    memory: 32\n"
        f"    qemu: {{kernel: {tmp_path / 'g.virtio'}}}\n    args: ['--log=ready']\n"
        f"    networks: {{service: tap18{n}}}\n"
        for n in "ab"
    )
    text = text[:start] + "\nunikernels:\n" + guests + text[end:]
    text = log_health(text, "ready", 20)
    v.path.write_text(text)
    testguest.build(NET, tmp_path / "g.virtio")
    wb("remove", "--profile", str(v.path), "--purge", "--yes")
    yield v
    wb("remove", "--profile", str(v.path), "--purge", "--yes")


def test_two_guests_on_one_bridge_get_macs_of_their_own(two_on_one_bridge):
    v = two_on_one_bridge
    code, _events, err = qemu_deploy(v.path)
    assert code == 0, err
    machine_id = on_target("cat /etc/machine-id").stdout.strip()
    seen = {}
    for name in ("t8a", "t8b"):
        journal = on_target(f"journalctl -u unikernel-{name}.service -o cat --no-pager").stdout
        macs = [ln.split("mac=")[1] for ln in journal.splitlines() if "configured, mac=" in ln]
        assert macs, journal
        seen[name] = macs[-1]
        assert seen[name] == qemu.stable_mac(machine_id, name, "service")
    assert seen["t8a"] != seen["t8b"] and "52:54:00:12:34:56" not in seen.values()
    # Both taps are ports of the one bridge.
    ports = on_target(f"ls /sys/class/net/{v.bridge}/brif").stdout.split()
    assert {"tap18a", "tap18b"} <= set(ports), ports


@pytest.fixture
def virtio_source(lab, tmp_path):
    v = variant(tmp_path, 9)  # a number no other lab test uses
    text = v.path.read_text().replace("  target: hvt\n", "  target: virtio\n")
    text = text.replace("  memory: 64\n", "  memory: 64\n  accel: tcg\n")
    text = log_health(text, "idle", 30)
    v.path.write_text(text)
    remove(v)
    yield v
    remove(v)


def test_build_target_virtio_builds_with_mirage_t_virtio_and_deploys(virtio_source):
    v = virtio_source
    result = wb("deploy", "--profile", str(v.path), "--json", "--no-cache", timeout=600)
    events = json_events(result.stdout)
    assert result.returncode == 0, failures(events) + result.stderr
    by_step = steps(events)
    assert by_step["configure"]["detail"] == "`mirage configure -t virtio` ok", by_step["configure"]
    built = [e for e in events if e["event"] == "build_result"]
    assert built and built[0]["artifact"].endswith(".virtio") and built[0]["tender"] == ""
    unit = on_target(f"cat /etc/systemd/system/{v.unit}").stdout
    assert f"-kernel {v.release_dir}/current/{v.name}.virtio" in unit
    journal = on_target(f"journalctl -u {v.unit} -o cat --no-pager").stdout
    assert "[application] idle: stop me with systemctl stop" in journal
