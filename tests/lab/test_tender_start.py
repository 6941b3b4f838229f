"""The tender's start under real systemd on the lab target: the unit deploy writes lets the tender
start; LockPersonality=yes kills it as it kills the real solo5-hvt (reference section 13); a
deploy whose tender dies before the unikernel starts says so, rolls back, and status shows the
crash loop for what it is."""

from __future__ import annotations

import json
import re
import subprocess
import time
import zlib
from pathlib import Path

import pytest

from tests.lab.deploykit import (
    HEALTHY,
    artifact,
    deploy_args,
    json_events,
    on_target,
    remove,
    tender,
    variant,
    workbench,
)
from tests.reference import LOCK_PERSONALITY_ASSERTION
from workbench.lab import config, hostkeys, solo5elf
from workbench.profiles.loader import load_file
from workbench.render import render_unit

pytestmark = pytest.mark.lab

# A tender whose personality is locked the way systemd's LockPersonality=yes locks it (a seccomp
# rule: personality() with any other argument than the current persona fails with EPERM), then
# the real start-up of the host's tender double. Used as one release's tender, so that only
# that release dies at start and the rollback has a good release to go back to.
LOCKED = r"""
#include <errno.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
int main(int argc, char **argv) {
    (void)argc;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_personality, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    };
    f[1].jf = 2;  /* not personality(): allow */
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
    execv("/usr/local/bin/solo5-hvt", argv);
    return 127;
}
"""


@pytest.fixture
def v(lab, tmp_path, request):
    var = variant(tmp_path, zlib.crc32(request.node.nodeid.encode()) % 30 + 50)
    remove(var)
    yield var
    remove(var)


@pytest.fixture(scope="module")
def locked_tender(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("locked")
    (work / "locked.c").write_text(LOCKED)
    out = work / "solo5-hvt"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(out), str(work / "locked.c")], check=True)
    return out


def _transient(props: list[str], args: str, setup: str = "") -> list[str]:
    """Run the target's tender double as a transient unit with `props`; its journal lines."""
    unit = f"wb-tender-{time.monotonic_ns()}"
    props_argv = " ".join(f"-p '{p}'" for p in props)
    result = on_target(
        # the user first: the setup may create a tap owned by it
        "set -e; id unikernel >/dev/null 2>&1 || useradd --system --no-create-home -G kvm "
        f"unikernel\n{setup}\n"
        f"systemd-run --unit={unit} --wait --collect -q -p User=unikernel -p Group=kvm "
        f"{props_argv} /usr/local/bin/solo5-hvt {args} || true\n"
        f"journalctl -u {unit} -o cat --no-pager",
        timeout=60,
    )
    return result.stdout.splitlines()


def _hello(tmp_path: Path) -> str:
    """A unikernel with one network device that exits 0 after its banner, on the target."""
    art = artifact(tmp_path, "exit0", {"exit": 0})
    subprocess.run(
        [
            *hostkeys.ssh_argv(config.TARGET.address),
            "mkdir -p /var/lib/wb-test && cat > /var/lib/wb-test/exit0.hvt",
        ],
        input=art.read_bytes(),
        check=True,
    )
    return "/var/lib/wb-test/exit0.hvt"  # not /tmp: the unit has PrivateTmp=yes


TAP = "ip tuntap add wbtap0 mode tap user unikernel 2>/dev/null || true; ip link set wbtap0 up"


def test_lock_personality_kills_the_double_like_the_real_tender(lab, tmp_path):
    kernel = _hello(tmp_path)
    lines = _transient(
        ["LockPersonality=yes"], f"--mem=32 --net:service=wbtap0 -- {kernel}", setup=TAP
    )
    assert LOCK_PERSONALITY_ASSERTION in lines, lines
    assert any(
        line.endswith("Main process exited, code=killed, status=6/ABRT") for line in lines
    ), lines
    assert not any(line.startswith("Solo5:") for line in lines), "died before the banner"


def hardening(unit: str) -> list[str]:
    """The [Service] directives of a rendered unit that systemd-run takes as -p properties
    (not the command lines, the user or the restart policy)."""
    service = unit.split("[Service]", 1)[1].split("[Install]", 1)[0]
    skip = ("ExecStart", "User=", "Group=", "Restart", "SyslogIdentifier=", "SuccessExit")
    return [
        line
        for line in service.splitlines()
        if "=" in line and not line.startswith(("#", *skip)) and "$" not in line
    ]


def test_the_double_runs_under_the_hardening_of_the_unit_deploy_writes(lab, tmp_path):
    """Every directive of the rendered unit's [Service], applied to the double: it attaches its
    tap, opens /dev/kvm, passes its personality check and its seccomp filter, and boots."""
    profile = load_file(variant(tmp_path, 49).path).profile
    unit = render_unit(profile).content
    props = hardening(unit)
    assert "MemoryDenyWriteExecute=yes" in props and "NoNewPrivileges=yes" in props
    assert not any(p.startswith("LockPersonality") for p in props)
    kernel = _hello(tmp_path)
    lines = _transient(
        [p.replace("ReadWritePaths=", "ReadWritePaths=-") for p in props],
        f"--mem=32 --net:service=wbtap0 -- {kernel}",
        setup=TAP,
    )
    assert "Solo5: Bindings version v0.12.1" in lines, lines
    assert "Solo5: solo5_exit(0) called" in lines, lines
    assert not any("code=killed" in line for line in lines), lines


def test_deploy_whose_tender_aborts_at_start_is_said_so_and_rolled_back(v, tmp_path, locked_tender):
    good = artifact(tmp_path, "good", HEALTHY)
    result = workbench(*deploy_args(v.path, good, tender()))
    assert result.returncode == 0, result.stdout + result.stderr
    good_release = json_events(result.stdout)[-1]["release"]

    result = workbench(*deploy_args(v.path, good, locked_tender))
    events = json_events(result.stdout)
    assert result.returncode == 8, result.stdout + result.stderr
    failed = [e for e in events if e["event"] == "step_failed"][-1]
    assert (
        "the tender aborted before the unikernel started (SIGABRT): " + LOCK_PERSONALITY_ASSERTION
        in (failed["message"])
    ), failed
    assert "LockPersonality=yes" in failed["hint"] and v.unit in failed["hint"]
    rolled = [e for e in events if e["event"] == "rolled_back"]
    assert rolled and rolled[0]["to_release"] == good_release
    assert "healthy again" in failed["message"]
    state = on_target(f"readlink {v.release_dir}/current; systemctl is-active {v.unit}")
    assert state.stdout.split() == [f"releases/{good_release}", "active"]


def test_status_shows_a_tender_crash_loop(v, tmp_path, locked_tender):
    art = artifact(tmp_path, "app", HEALTHY)
    result = workbench(*deploy_args(v.path, art, locked_tender, "--no-rollback"))
    assert result.returncode == 8, result.stdout + result.stderr
    expected = "the tender aborted before the unikernel started (SIGABRT): " + (
        LOCK_PERSONALITY_ASSERTION
    )
    deadline = time.monotonic() + 60
    while True:  # until the loop has gone round twice and journald has the tender's last words
        status = workbench("status", "--profile", str(v.path), "--json")
        fields = next(e["fields"] for e in json_events(status.stdout) if e["event"] == "status")
        loop = fields.get("crash_loop") or ""
        if (
            re.fullmatch(r"(restarting|failed): [2-9] restarts in \d+ s, .*", loop)
            and fields.get("last_exit") == expected
        ):
            break
        assert time.monotonic() < deadline, json.dumps(fields)
        time.sleep(1)
    assert loop.endswith(", last: tender aborted (SIGABRT)"), loop
    assert "LockPersonality=yes" in fields["last_exit_hint"]
    # Plain output says it too (polled: between two restarts the unit is briefly running).
    wanted = re.compile(r"(restarting|failed): \d+ restarts in \d+ s, last: tender aborted")
    plain = ""
    for _ in range(120):
        plain = workbench("status", "--profile", str(v.path)).stdout
        if wanted.search(plain):
            break
        time.sleep(0.5)
    assert wanted.search(plain), plain


SPT_ASSERTION = "solo5-spt: spt/spt_core.c:117: spt_init: Assertion `persona >= 0' failed."
SPT = "cp /usr/local/bin/solo5-hvt /usr/local/bin/solo5-spt"  # the double picks spt by its name


def _spt_kernel() -> str:
    kernel = solo5elf.build(target="spt", extra_sections={".workbench.lab.guest": b'{"exit": 0}'})
    subprocess.run(
        [
            *hostkeys.ssh_argv(config.TARGET.address),
            "mkdir -p /var/lib/wb-test && cat > /var/lib/wb-test/exit0.spt",
        ],
        input=kernel,
        check=True,
    )
    return "/var/lib/wb-test/exit0.spt"


def _spt(props: list[str]) -> list[str]:
    unit = f"wb-spt-{time.monotonic_ns()}"
    flags = " ".join(f"-p '{p}'" for p in props)
    return on_target(
        f"{SPT}; id unikernel >/dev/null 2>&1 || useradd --system --no-create-home -G kvm "
        f"unikernel; systemd-run --unit={unit} --wait --collect -q -p User=unikernel -p Group=kvm "
        f"{flags} /usr/local/bin/solo5-spt --mem=32 -- {_spt_kernel()}; "
        f"journalctl -u {unit} -o cat --no-pager"
    ).stdout.splitlines()


def test_spt_aborts_under_lock_personality_too(lab):
    """spt_init asserts on personality(0xffffffff) as hvt does (tenders/spt/spt_core.c)."""
    lines = _spt(["LockPersonality=yes"])
    assert SPT_ASSERTION in lines, lines
    assert any(line.endswith("code=killed, status=6/ABRT") for line in lines), lines


def test_spt_cannot_load_its_unikernel_under_memory_deny_write_execute(lab):
    """spt runs the unikernel as host code: its loader mprotect()s the text PROT_EXEC."""
    lines = _spt(["MemoryDenyWriteExecute=yes"])
    assert "solo5-spt: /var/lib/wb-test/exit0.spt: mprotect failed" in lines, lines
    assert "Solo5: solo5_exit(0) called" in _spt([]), "and runs without it"


def test_the_unit_for_spt_leaves_out_what_spt_cannot_run_under(lab, tmp_path):
    v = variant(tmp_path, 48)
    v.path.write_text(v.path.read_text().replace("  target: hvt\n", "  target: spt\n", 1))
    unit = render_unit(load_file(v.path).profile).content
    lines = unit.splitlines()  # (the comments say why these are left out)
    assert "MemoryDenyWriteExecute=yes" not in lines and "DeviceAllow=/dev/kvm rw" not in lines
    assert "modprobe@kvm" not in unit
    props = hardening(unit)
    assert "Solo5: solo5_exit(0) called" in _spt(
        [p.replace("ReadWritePaths=", "ReadWritePaths=-") for p in props]
    )
