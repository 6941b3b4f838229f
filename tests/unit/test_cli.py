"""The headless CLI as a user runs it: real subprocesses, exit codes, stdout vs stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.lab import solo5elf

ROOT = Path(__file__).resolve().parents[2]


def wb(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def python(code: str) -> str:
    """What a fresh interpreter running `code` here prints (it must succeed)."""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_headless_path_does_not_import_textual():
    code = (
        "import sys, io, contextlib\n"
        "import workbench.headless\n"
        "from workbench.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['profiles']) == 0\n"
        "    assert main(['render', '--profile', 'rpi3b']) == 0\n"
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith('textual.')]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    assert python(code) == "ok"


def test_the_command_line_itself_imports_none_of_the_heavy_libraries():
    """Parsing the command line (`--help`, and every command before it runs) imports neither the
    SSH stack, the profile models, the ELF reader, the docker SDK nor textual: each command
    imports what it uses. (cli_files once imported the image code for its format names, and
    elftools with it: 80 ms of every start.)"""
    code = (
        "import sys\n"
        "from workbench.cli import build_parser\n"
        "build_parser()\n"
        "heavy = ('asyncssh', 'pydantic', 'elftools', 'docker', 'textual', 'yaml')\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & set(heavy))\n"
        "print(bad)\n"
    )
    assert python(code) == "[]"


def test_logs_and_status_do_not_import_the_elf_reader_or_the_image_code():
    """`logs`, `status` and the other host commands read no artifact: pyelftools (~40 ms) and
    the disk image code are imported only where an artifact or image is read."""
    code = (
        "import sys\n"
        "import workbench.headless, workbench.commands.hostops_cmd\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'elftools'"
        " or m == 'workbench.diskimage'))\n"
    )
    assert python(code) == "[]"


def test_help_lists_commands_and_exit_codes():
    result = wb("--help")
    assert result.returncode == 0
    for word in ("profiles", "render", "inspect", "exit codes:", "3  cannot connect"):
        assert word in result.stdout


def test_profiles_list():
    result = wb("profiles")
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == ["lab", "lab-multi", "lab-pi", "lab-vm", "rpi3b", "x86-server"]
    multi = next(line for line in result.stdout.splitlines() if line.startswith("lab-multi "))
    assert "api, web -> target (10.213.0.2)" in multi


def test_profiles_show_gives_each_unikernel_its_unit_and_the_order():
    data = json.loads(wb("profiles", "show", "lab-multi", "--json").stdout)
    assert "unikernel" not in data and [u["name"] for u in data["unikernels"]] == ["api", "web"]
    assert data["resolved"]["deploy_order"] == ["api", "web"]
    assert data["resolved"]["unikernels"]["web"] == {
        "unit": "unikernel-web.service",
        "release_dir": "/var/lib/workbench/web",
        "after": ["unikernel-api.service"],
    }


def test_profiles_show_json_resolves_defaults():
    result = wb("profiles", "show", "rpi3b", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["resolved"]["unit"] == "unikernel-hello.service"
    assert data["resolved"]["sudo"] == {"rpi3b": True}
    assert "unikernels" not in data and data["unikernel"]["name"] == "hello"
    assert data["network"]["bridge"] == "br100"


def test_bad_profile_exit_2_all_problems_no_traceback(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "bad.yaml").write_text(
        "hosts:\n  pi:\n    adress: x\ntargets: [pi]\nunikernel:\n  name: h\n  artifact: a.hvt\n"
        "  memory: 1G\n"
    )
    result = wb("render", "--profile", "bad", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "error: profiles/bad.yaml: 3 problems"
    assert lines[1] == "profiles/bad.yaml:2: hosts.pi.address: required key is missing"
    assert lines[2] == "profiles/bad.yaml:3: hosts.pi.adress: unknown key; did you mean 'address'?"
    assert lines[3].startswith("profiles/bad.yaml:8: unikernel.memory: '1G' has a unit suffix")
    assert lines[4].startswith("hint: ")


def test_unknown_profile(tmp_path):
    result = wb("render", "--profile", "rpi3", cwd=ROOT)
    assert result.returncode == 2
    assert "no profile named 'rpi3'" in result.stderr
    assert "did you mean 'rpi3b'?" in result.stderr


def test_inspect_human_and_json(tmp_path):
    path = solo5elf.write(
        tmp_path / "hello.hvt", arch="aarch64", devices=[("service", "NET_BASIC")]
    )
    human = wb("inspect", str(path))
    assert human.returncode == 0
    assert "  arch     aarch64 (ELF64)" in human.stdout
    assert "  devices  service (NET_BASIC)" in human.stdout
    data = json.loads(wb("inspect", str(path), "--json").stdout)
    assert data["abi"] == {"type": "solo5.abi", "target": "hvt", "version": 2}
    assert data["manifest"]["devices"] == [{"name": "service", "type": "NET_BASIC"}]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("not elf"), "is not an ELF executable"),
        (lambda p: solo5elf.write(p, with_abi=False, with_manifest=False), "without a Solo5 ABI"),
        (lambda p: solo5elf.write(p, target="spt"), "built for solo5-spt"),
    ],
)
def test_inspect_errors_exit_7(tmp_path, make, message):
    path = tmp_path / "x.hvt"
    make(path)
    result = wb("inspect", str(path), "--target", "hvt")
    assert result.returncode == 7, result.stderr
    assert message in result.stderr
    assert result.stdout == ""


def test_inspect_error_json_on_stderr(tmp_path):
    path = tmp_path / "x.hvt"
    path.write_text("nope")
    result = wb("inspect", str(path), "--json")
    assert result.returncode == 7
    err = json.loads(result.stderr)
    assert err["event"] == "error" and err["kind"] == "artifact" and err["exit_code"] == 7


def test_render_with_artifact_checks_devices(tmp_path):
    art = solo5elf.write(tmp_path / "hello.hvt", devices=[("service0", "NET_BASIC")])
    result = wb("render", "--profile", "rpi3b", "--artifact", str(art))
    assert result.returncode == 2
    assert "declares NET_BASIC device 'service0' but profile 'rpi3b' does not map it" in (
        result.stderr
    )
    ok = solo5elf.write(tmp_path / "ok.hvt", devices=[("service", "NET_BASIC")])
    result = wb("render", "--profile", "rpi3b", "--artifact", str(ok), "--backend", "ifupdown")
    assert result.returncode == 0, result.stderr
    headers = [line for line in result.stdout.splitlines() if line.startswith("==> ")]
    assert headers == [
        "==> /etc/systemd/system/unikernel-hello.service (systemd unit) <==",
        "==> /etc/network/interfaces.d/workbench-br100 (ifupdown bridge) <==",
        "==> /etc/workbench/nat-br100.nft (NAT rules (nftables)) <==",
        "==> /etc/network/interfaces.d/workbench-br100-tap100 (ifupdown tap) <==",
    ]


def test_the_artifact_picks_the_tender_not_build_target(tmp_path):
    # rpi3b says build.target: hvt (for source builds); an .spt artifact runs under solo5-spt.
    art = solo5elf.write(tmp_path / "hello.spt", target="spt", devices=[("service", "NET_BASIC")])
    result = wb("render", "--profile", "rpi3b", "--artifact", str(art))
    assert result.returncode == 0, result.stderr
    start = next(ln for ln in result.stdout.splitlines() if ln.startswith("ExecStart="))
    assert start.startswith("ExecStart=/var/lib/workbench/hello/current/solo5-spt --mem=")
    assert "/current/hello.spt " in start
    # spt maps the unikernel's code executable: no MemoryDenyWriteExecute, no KVM module.
    lines = result.stdout.splitlines()
    assert "MemoryDenyWriteExecute=yes" not in lines and "DeviceAllow=/dev/kvm rw" not in lines
    assert "modprobe@kvm" not in result.stdout


def test_a_target_workbench_does_not_run_is_refused_with_the_ones_it_does(tmp_path):
    art = solo5elf.write(tmp_path / "hello.muen", target="muen", devices=[])
    result = wb("render", "--profile", "rpi3b", "--artifact", str(art))
    assert result.returncode == 7
    assert "built for solo5-muen, which workbench does not deploy" in result.stderr
    assert "`mirage configure -t hvt` (KVM hosts), `-t spt` (no KVM needed) or" in result.stderr


def test_no_command_without_a_terminal_says_so_instead_of_hanging():
    result = wb()  # stdin/stdout are pipes here
    assert result.returncode == 2
    assert "the terminal UI needs a terminal" in result.stderr
    assert "workbench --help" in result.stderr


def test_failure_events_carry_the_error_class():
    from workbench.errors import ConnectError
    from workbench.events import failure

    failed, done = failure("pi", "check", ConnectError("no route", "check the cable"))
    assert failed.to_dict()["event"] == "step_failed"
    assert (failed.kind, failed.exit_code, failed.hint) == ("connect", 3, "check the cable")
    assert (done.ok, done.exit_code, done.summary) == (False, 3, "no route")


def test_a_typo_d_command_is_answered_with_the_right_one():
    result = wb("deplyo", "--profile", "lab")
    assert result.returncode == 2
    assert "unknown command 'deplyo': did you mean 'deploy'?" in result.stderr
    result = wb("block", "pul")
    assert result.returncode == 2 and "did you mean 'pull'?" in result.stderr
    assert "invalid choice" in wb("zzzzzz").stderr  # nothing close: argparse's own words


def test_without_profile_the_profiles_are_listed_or_the_sole_one_taken(tmp_path, monkeypatch):
    result = wb("render")
    assert result.returncode == 2
    assert "no --profile given and 6 profiles to choose from: lab, lab-multi" in result.stderr
    assert "WORKBENCH_PROFILE=NAME" in result.stderr
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "only.yaml").write_text((ROOT / "profiles" / "rpi3b.yaml").read_text())
    sole = wb("render", cwd=tmp_path)
    assert sole.returncode == 0, sole.stderr
    assert "(profile only)" in sole.stdout
    monkeypatch.setenv("WORKBENCH_PROFILE", "x86-server")
    chosen = wb("render")
    assert (
        chosen.returncode == 0 and chosen.stdout == wb("render", "--profile", "x86-server").stdout
    )
