"""virtio under the host's QEMU, decided without a host: the command line, the MACs, the KVM
or TCG choice, preflight's verdicts, the release without a tender, QEMU's own lines. The QEMU
texts here were measured with QEMU 7.2 (Debian 12); tests/lab/test_virtio.py boots real QEMU."""

from __future__ import annotations

import dataclasses

import pytest

from tests.unit.test_decide import LOADED, recording
from workbench import bootlog, render
from workbench.artifacts import inspect, qemu
from workbench.engine import decide, preflight, qemucheck
from workbench.engine.release import release_id
from workbench.exits import explain_exit
from workbench.lab import solo5elf

DEPLOYED = recording("deployed")
FRESH = recording("fresh")


def virtio(profile, **uk):  # type: ignore[no-untyped-def]
    build = profile.build.model_copy(update={"target": "virtio"})
    changed = profile.model_copy(update={"build": build})
    return changed.view(changed.unikernel.model_copy(update=uk)) if uk else changed


def loaded_virtio(**uk):  # type: ignore[no-untyped-def]
    return dataclasses.replace(LOADED, profile=virtio(LOADED.profile, **uk))


def artifact(tmp_path, devices=(("service", "NET_BASIC"),)):  # type: ignore[no-untyped-def]
    return inspect(solo5elf.write(tmp_path / "t.virtio", target="virtio", devices=list(devices)))


def virtio_facts(**changes: object):  # type: ignore[no-untyped-def]
    base = dict(
        installed_tender="/usr/bin/qemu-system-x86_64",
        qemu_version="QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)",
        machine_id="5f0e6b1c0d9a4e7f8a1b2c3d4e5f6a7b",
        installed_tender_sha="",
    )
    return dataclasses.replace(DEPLOYED.facts, **{**base, **changes})


def test_macs_are_stable_local_unicast_and_differ_by_host_unikernel_and_device():
    mac = qemu.stable_mac("host-a", "web", "service")
    assert mac == qemu.stable_mac("host-a", "web", "service")
    first = int(mac.split(":")[0], 16)
    assert first & 0b10 and not first & 0b01  # locally administered, unicast
    others = {
        qemu.stable_mac("host-b", "web", "service"),
        qemu.stable_mac("host-a", "dns", "service"),
        qemu.stable_mac("host-a", "web", "admin"),
    }
    assert mac not in others and len(others) == 3
    assert "52:54:00:12:34:56" not in {mac, *others}  # QEMU's default, the same everywhere


def test_the_command_line_follows_the_manifest_in_pci_slot_order(tmp_path):
    info = artifact(
        tmp_path,
        [("service", "NET_BASIC"), ("disk", "BLOCK_BASIC"), ("admin", "NET_BASIC")],
    )
    argv = qemu.virtio_argv(
        host=qemu.VirtioHost(kvm=False, host_id="h"),
        kernel="/r/current/app.virtio",
        info=info,
        unikernel="app",
        memory=96,
        networks={"service": "tap1", "admin": "tap2"},
        block={"disk": "/srv/disk.img"},
        args=["--ipv4=10.0.0.2/24", "--motd=a,b"],
    )
    text = " ".join(argv)
    assert argv[:5] == ["/usr/bin/qemu-system-x86_64", "-accel", "tcg", "-cpu", "Westmere"]
    assert "-m 96M" in text and "-enable-kvm" not in text
    assert text.index("ifname=tap1") < text.index("file=/srv/disk.img") < text.index("ifname=tap2")
    assert "netdev=n2,addr=0x2," in text and "drive=d3,addr=0x3," in text
    assert "netdev=n4,addr=0x4," in text
    assert f"mac={qemu.stable_mac('h', 'app', 'admin')}" in text
    # Measured: QEMU 7.2 hands -append to the guest as it is (commas included).
    assert argv[-2:] == ["-append", "--ipv4=10.0.0.2/24 --motd=a,b"]
    assert argv[argv.index("-kernel") - 1] == "isa-debug-exit"


def test_an_unmapped_device_is_refused_as_for_hvt(tmp_path):
    info = artifact(tmp_path, [("service", "NET_BASIC"), ("disk", "BLOCK_BASIC")])
    with pytest.raises(Exception, match="does not map it"):
        render.exec_argv(virtio(LOADED.profile), info)


def test_kvm_when_the_service_user_can_open_it_else_tcg():
    p = virtio(LOADED.profile)
    assert qemucheck.use_kvm(p, virtio_facts(user_kvm=True))
    assert not qemucheck.use_kvm(p, virtio_facts(user_kvm=False))
    # Before the user exists: as deploy will create it, in group kvm.
    assert qemucheck.use_kvm(p, virtio_facts(user_groups=None, kvm="root:kvm:660"))
    assert not qemucheck.use_kvm(p, virtio_facts(user_groups=None, kvm="root:root:600"))
    assert not qemucheck.use_kvm(p, virtio_facts(kvm=""))
    assert not qemucheck.use_kvm(virtio(LOADED.profile, accel="tcg"), virtio_facts(user_kvm=True))


def test_a_virtio_release_is_the_kernel_alone_run_by_the_hosts_qemu(tmp_path):
    info = artifact(tmp_path)
    facts = virtio_facts(user_kvm=False)
    d = decide.decide(loaded_virtio(), info, None, facts)
    assert d.refusal is None, d.refusal
    assert d.release == release_id(info.sha256, qemu.RUNNER_KEY)
    assert d.tender_from_host is None and d.tender_version is None
    upload = d.change("upload")
    assert upload is not None and "alone: the host's QEMU runs it" in upload.what
    assert d.unit is not None
    assert "ExecStart=/usr/bin/qemu-system-x86_64 -accel tcg " in d.unit.content
    assert f"mac={qemu.stable_mac(facts.machine_id, 'hello', 'service')}" in d.unit.content
    assert "DeviceAllow=/dev/kvm" not in d.unit.content
    checks = {c.name: c for c in d.checks}
    assert checks["accel"].ok is None and "TCG, emulated" in checks["accel"].value
    assert "times slower than under KVM" in checks["accel"].value


def test_virtio_is_refused_on_arm64_with_the_reason(tmp_path):
    facts = virtio_facts(arch="aarch64", dpkg_arch="arm64")
    d = decide.decide(loaded_virtio(), artifact(tmp_path), None, facts)
    assert d.refusal is not None
    assert "virtio" in d.refusal.message and "x86_64 only" in d.refusal.message
    assert d.refusal.hint is not None and "-t hvt" in d.refusal.hint


def test_no_qemu_says_what_to_install(tmp_path):
    d = decide.decide(loaded_virtio(), artifact(tmp_path), None, virtio_facts(installed_tender=""))
    assert d.refusal is not None and "qemu-system-x86_64 is not installed" in d.refusal.message
    assert d.refusal.hint is not None and "apt-get install qemu-system-x86" in d.refusal.hint


def test_forced_kvm_without_access_is_refused():
    p = virtio(LOADED.profile, accel="kvm")
    check = {c.name: c for c in preflight.checks(p, virtio_facts(user_kvm=False))}["accel"]
    assert check.ok is False and check.hint is not None and "accel: auto" in check.hint


def test_qemu_needs_room_beside_the_guest():
    p = virtio(LOADED.profile)
    need = (p.unikernel.memory + 16) * 1024 + 32 * 1024  # enough for a tender, not for QEMU
    check = {c.name: c for c in preflight.checks(p, virtio_facts(mem_available_kb=need))}
    assert check["memory"].ok is False and "for QEMU" in check["memory"].value


# QEMU 7.2's own lines, as it printed them here (see the module docstring).
MEASURED = {
    "qemu-system-x86_64: -netdev tap,id=n2,ifname=tap9,script=no,downscript=no: could not "
    "configure /dev/net/tun (tap9): Device or resource busy": "already attached",
    "qemu-system-x86_64: -netdev tap,id=n2,ifname=tap9,script=no,downscript=no: could not "
    "configure /dev/net/tun (tap9): Operation not permitted": "missing or not the service user's",
    "qemu-system-x86_64: -netdev tap,id=n2,ifname=tap9,script=no,downscript=no: could not open "
    "/dev/net/tun: Permission denied": "0666",
    "qemu-system-x86_64: -drive id=d3,file=/x.img,if=none,format=raw: Could not open '/x.img': "
    "No such file or directory": "block image /x.img",
    "Could not access KVM kernel module: Permission denied": "group kvm",
    "qemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied": "accel: tcg",
    "qemu-system-x86_64: cannot set up guest memory 'pc.ram': Cannot allocate memory": "memory",
    "qemu: could not open kernel file '/r/k.virtio': No such file or directory": "redeploy",
}


@pytest.mark.parametrize("line, hint", MEASURED.items())
def test_qemus_errors_are_classified_with_a_fix(line, hint):
    got = bootlog.classify(line)
    assert (got.kind, got.level, got.source) == ("tender", "error", "qemu")
    assert got.hint is not None and hint in got.hint


def test_a_stop_is_not_an_error_and_83_is_the_guests_exit():
    got = bootlog.classify("qemu-system-x86_64: terminating on signal 15 from pid 1 (systemd)")
    assert got.level == "info" and got.fields == {"signal": 15}
    assert "solo5_exit(N) called" in explain_exit(qemu.GUEST_EXIT)
    exit_line = bootlog.classify("Solo5: solo5_exit(3) called")
    assert exit_line.kind == "exit" and exit_line.fields["status"] == 3


# -- runtime: qemu (a generic guest from a disk image or a kernel) ------------------------------


def generic(tmp_path, **qemu_fields):  # type: ignore[no-untyped-def]
    from workbench.profiles.models import QemuImage

    image = QemuImage(**qemu_fields)
    p = LOADED.profile
    uk = p.unikernel.model_copy(update={"runtime": "qemu", "qemu": image})
    if image.kernel is None:
        uk = uk.model_copy(update={"args": ()})
    return dataclasses.replace(LOADED, profile=p.view(uk))


def test_a_disk_image_boots_from_its_release_copy_never_written(tmp_path):
    disk = tmp_path / "nanos.img"
    disk.write_bytes(b"\0" * 4096)
    loaded = generic(tmp_path, disk=disk, disk_interface="virtio-scsi", devices=[{"kind": "rng"}])
    from workbench.engine.release import jobs

    [job] = jobs(loaded)
    assert job.artifact is not None and job.artifact.path == str(disk) and job.tender is None
    facts = virtio_facts(user_kvm=True)
    d = decide.decide(loaded, job.artifact, None, facts)
    assert d.refusal is None, d.refusal
    assert d.release == release_id(job.artifact.sha256, qemu.RUNNER_KEYS["qemu"])
    assert d.unit is not None
    text = d.unit.content
    current = f"{loaded.profile.release_dir}/current"
    assert f"-drive id=boot,file={current}/disk.raw,format=raw,if=none,snapshot=on" in text
    assert "-device virtio-scsi-pci,id=scsi0 -device scsi-hd,drive=boot,bus=scsi0.0" in text
    assert "-accel kvm -cpu host" in text and "DeviceAllow=/dev/kvm rw" in text
    assert "-device virtio-rng-pci,rng=rng0" in text and "-kernel" not in text
    mac = qemu.stable_mac(facts.machine_id, "hello", "service")
    assert f"-device virtio-net-pci,netdev=net0,mac={mac}" in text
    assert "Description=Unikernel hello (a QEMU guest, managed by workbench)" in text
    assert "isa-debug-exit" not in text  # a generic guest powers off; QEMU then exits 0


def test_a_kernel_boots_with_the_args_as_its_command_line(tmp_path):
    kernel = tmp_path / "vmlinux"
    kernel.write_bytes(b"\x7fELF" + b"\0" * 60)
    loaded = generic(tmp_path, kernel=kernel, nic="e1000")
    argv = render.exec_argv(loaded.profile, None)
    current = f"{loaded.profile.release_dir}/current"
    assert argv[argv.index("-kernel") + 1] == f"{current}/kernel"
    assert argv[argv.index("-append") + 1] == "--ipv4=10.0.0.2/24 --ipv4-gateway=10.0.0.1"
    assert any(a.startswith("e1000,netdev=net0,mac=02:") for a in argv)


def test_runtime_qemu_refuses_what_it_cannot_do(tmp_path):
    from pydantic import ValidationError

    from workbench.engine.release import jobs
    from workbench.errors import ConfigError
    from workbench.profiles.models import Unikernel

    with pytest.raises(ValidationError, match="give `disk` or `kernel` \\(one\\)"):
        Unikernel(name="x", runtime="qemu", qemu={})
    with pytest.raises(ValidationError, match="give `disk` or `kernel` \\(one\\)"):
        Unikernel(name="x", runtime="qemu", qemu={"disk": "/d.img", "kernel": "/k"})
    with pytest.raises(ValidationError, match="a disk image carries its own"):
        Unikernel(name="x", runtime="qemu", qemu={"disk": "/d.img"}, args=["-v"])
    with pytest.raises(ValidationError, match="set `runtime: qemu`"):
        Unikernel(name="x", qemu={"disk": "/d.img"})
    disk = tmp_path / "d.img"
    disk.write_bytes(b"d")
    with pytest.raises(ConfigError, match="--artifact and --tender are for Solo5"):
        jobs(generic(tmp_path, disk=disk), artifact="x.hvt")


def test_a_user_deploy_creates_in_another_group_still_gets_kvm_through_group_kvm():
    # useradd puts the service user in service.group and in group kvm (remote/release.py),
    # so the first deploy and the next render the same unit.
    p = virtio(LOADED.profile)
    p = p.model_copy(update={"service": p.service.model_copy(update={"group": "unikernel"})})
    assert qemucheck.use_kvm(p, virtio_facts(user_groups=None, kvm="root:kvm:660"))
    assert qemucheck.use_kvm(p, virtio_facts(user_kvm=True))


def test_runtime_qemu_needs_room_for_qemu_too(tmp_path):
    disk = tmp_path / "d.img"
    disk.write_bytes(b"\0" * 512)
    p = generic(tmp_path, disk=disk).profile
    need = (p.unikernel.memory + 16) * 1024 + 32 * 1024
    check = {c.name: c for c in preflight.checks(p, virtio_facts(mem_available_kb=need))}
    assert check["memory"].ok is False and "for QEMU" in check["memory"].value


def test_an_empty_machine_id_is_said_to_make_macs_alike():
    checks = {c.name: c for c in preflight.checks(virtio(LOADED.profile), virtio_facts())}
    assert "machine-id" not in checks
    checks = {
        c.name: c for c in preflight.checks(virtio(LOADED.profile), virtio_facts(machine_id=""))
    }
    assert checks["machine-id"].hint is not None
    assert "systemd-machine-id-setup" in checks["machine-id"].hint


def test_the_units_exits_keep_qemus_own_errors_failed():
    info_unit = render.render_unit(virtio(LOADED.profile)).content.splitlines()
    assert "RestartPreventExitStatus=1" in info_unit
    assert not any(line.startswith("SuccessExitStatus=") for line in info_unit)
