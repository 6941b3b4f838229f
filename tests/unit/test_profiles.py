"""Profiles: bundled ones load; bad ones give every problem at once as FILE:LINE: path: message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from workbench import profiles
from workbench.errors import ConfigError, ProfileError

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """\
hosts:
  pi:
    address: rpi3b.local
targets: [pi]
unikernel:
  name: hello
  artifact: hello.hvt
"""


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(path: Path) -> list[str]:
    """Problems as 'LINE: dotted.path: message' (the file name prefix removed)."""
    with pytest.raises(ProfileError) as err:
        profiles.load_file(path)
    prefix = f"{path}:"
    assert all(line.startswith(prefix) for line in err.value.problems)
    return [line.removeprefix(prefix) for line in err.value.problems]


@pytest.mark.parametrize("name", ["rpi3b", "x86-server", "lab", "lab-pi", "lab-vm"])
def test_bundled_profiles_load(name):
    loaded = profiles.load(name, cwd=ROOT)
    assert loaded.name == name
    p = loaded.profile
    assert p.targets and all(t in p.hosts for t in p.targets)
    assert p.unikernel.networks == {"service": "tap100"}


def test_rpi3b_matches_the_desk_setup():
    p = profiles.load("rpi3b", cwd=ROOT).profile
    assert p.network.bridge == "br100" and p.network.address == "10.0.0.1/24"
    assert str(p.unikernel.ipv4) == "10.0.0.2/24"
    assert p.unikernel.memory == 64
    assert p.service.group == "kvm"
    assert p.hosts["rpi3b"].use_sudo  # user pi is not root


def test_defaults_and_resolved_values(tmp_path):
    p = profiles.load_file(write(tmp_path, MINIMAL)).profile
    assert p.unit_name == "unikernel-hello.service"
    assert p.release_dir == "/var/lib/workbench/hello"
    assert p.network.mode == "nat"
    assert p.hosts["pi"].port == 22 and not p.hosts["pi"].use_sudo
    assert p.unikernel.artifact == tmp_path / "hello.hvt"  # relative to the profile file
    assert p.build_host == "pi"


def test_every_problem_reported_at_once_with_lines(tmp_path):
    path = write(
        tmp_path,
        """\
        hosts:
          pi:
            address: rpi3b.local
            usr: pi
        targets: [pi, nope]
        unikernel:
          name: hello
          artifact: hello.hvt
          memroy: 64
          networks:
            service: tap-with-a-very-long-name
        network:
          bridge: br100
          mode: natt
        """,
    )
    with pytest.raises(ProfileError) as err:
        profiles.load_file(path)
    shown = str(path)
    assert err.value.problems == [
        f"{shown}:4: hosts.pi.usr: unknown key; did you mean 'user'?",
        f"{shown}:5: targets[1]: 'nope' is not a host in `hosts` (have: pi)",
        f"{shown}:9: unikernel.memroy: unknown key; did you mean 'memory'?",
        f"{shown}:11: unikernel.networks.service: 'tap-with-a-very-long-name' is 25 characters; "
        "Linux interface names are at most 15",
        f"{shown}:14: network.mode: 'natt' is not one of 'nat', 'bridge-uplink' or 'tap-only'",
    ]
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("memory", "message"),
    [
        (
            "1G",
            "unikernel.memory: '1G' has a unit suffix; memory is in MiB, so write 1024 "
            "(solo5-hvt ignores suffixes: --mem=1G would boot with 1 MiB)",
        ),
        ("64M", "unikernel.memory: '64M' has a unit suffix; memory is in MiB, so write 64"),
        ("512KiB", "unikernel.memory: '512KiB' has a unit suffix; memory is in MiB, so use whole"),
        ("lots", "unikernel.memory: 'lots' is not a whole number of MiB"),
        ("1.5", "unikernel.memory: 1.5 is not a whole number of MiB"),
        ("8192", "unikernel.memory: Input should be less than or equal to 4096"),
        ("true", "unikernel.memory: memory must be a whole number of MiB"),
    ],
)
def test_memory_is_whole_mib(tmp_path, memory, message):
    path = write(tmp_path, MINIMAL + f"  memory: {memory}\n")
    [problem] = problems(path)
    assert problem.startswith(f"8: {message}"), problem


def test_memory_number_as_string_is_fine(tmp_path):
    path = write(tmp_path, MINIMAL + '  memory: "128"\n')
    assert profiles.load_file(path).profile.unikernel.memory == 128


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("network:\n  bridge: 'br 0'\n", "network.bridge: 'br 0' is not a safe interface name"),
        ("network:\n  address: 10.0.0.1\n", "network.address: '10.0.0.1' needs a prefix length"),
        ("network:\n  address: banana\n", "network.address: 'banana' is not an address"),
        ("network:\n  mode: bridge-uplink\n", "network: mode 'bridge-uplink' needs `uplink`"),
        ("network:\n  address: dhcp\n", "network: address 'dhcp' only makes sense"),
        ("releases:\n  root: var/lib\n", "releases.root: 'var/lib' must be an absolute path"),
        ("releases:\n  root: /srv/a b\n", "releases.root: '/srv/a b' contains characters"),
        ("releases:\n  root: /srv/../etc\n", "releases.root: '/srv/../etc' must not contain '..'"),
        ("service:\n  unit: 'x y'\n", "service.unit: 'x y' is not a valid systemd service name"),
        ("service:\n  unit: a@b\n", "service.unit: 'a@b': template units"),
        ("service:\n  user: Root!\n", "service.user: 'Root!' is not a valid user or group name"),
        ("health:\n  kind: tcpp\n", "health.kind: unknown kind 'tcpp'"),
        ("health:\n  port: 80\n", "health: needs `kind:`"),
        ("health:\n  kind: tcp\n", "health.port: required key is missing"),
        ("build:\n  target: muen\n", "build.target: 'muen' is not one of 'hvt', 'spt' or 'virtio'"),
        ("network:\n  gateway: 10.0.0.254\n", "network: `gateway` is for mode 'bridge-uplink'"),
        (
            "network:\n  mode: bridge-uplink\n  uplink: eth0\n  gateway: x\n",
            "network.gateway: 'x' is not an IPv4 address",
        ),
    ],
)
def test_field_validation(tmp_path, snippet, expected):
    [problem] = problems(write(tmp_path, MINIMAL + snippet))
    line, rest = problem.split(": ", 1)
    assert int(line) >= 8  # the snippet's lines come after MINIMAL's seven
    assert rest.startswith(expected), problem


def test_line_numbers_point_at_the_value(tmp_path):
    path = write(tmp_path, MINIMAL + "network:\n  bridge: br100\n  address: 10.0.0.1\n")
    with pytest.raises(ProfileError) as err:
        profiles.load_file(path)
    assert err.value.problems[0].startswith(f"{path}:10: network.address:")


def test_unikernel_args_checked(tmp_path):
    path = write(tmp_path, MINIMAL + '  args: ["--ipv4=10.0.9.2/24"]\n')
    [problem] = problems(path)
    assert "unikernel.args[0]: --ipv4=10.0.9.2/24 is outside network.address 10.0.0.1/24" in problem
    path = write(tmp_path, MINIMAL + '  args: ["--ipv4=10.0.0.1/24"]\n')
    assert "is the host's own address" in problems(path)[0]
    path = write(tmp_path, MINIMAL + '  args: ["--ipv4=10.0.0.300/24"]\n')
    assert "'10.0.0.300/24' is not an address" in problems(path)[0]


def test_secrets_are_refused_with_a_pointer(tmp_path):
    path = write(
        tmp_path,
        MINIMAL.replace("address: rpi3b.local", "address: rpi3b.local\n    password: hunter2"),
    )
    [problem] = problems(path)
    assert "hosts.pi.password: unknown key: secrets are not stored in profiles" in problem


def test_duplicate_keys_are_errors(tmp_path):
    path = write(tmp_path, MINIMAL + "  name: other\n")
    [problem] = problems(path)
    assert "8: unikernel.name: duplicate key (first set on line 6)" in problem


def test_yaml_syntax_error_has_a_line(tmp_path):
    path = write(tmp_path, "hosts:\n  pi: [\n")
    with pytest.raises(ProfileError) as err:
        profiles.load_file(path)
    assert err.value.problems[0].startswith(f"{path}:3: YAML syntax:")


def test_not_a_mapping(tmp_path):
    [problem] = problems(write(tmp_path, "- a\n- b\n"))
    assert "(top): a profile is a mapping" in problem


def test_cross_references(tmp_path):
    text = MINIMAL.replace("    address: rpi3b.local", "    address: rpi3b.local\n    jump: bast")
    text += "build:\n  host: buildbox\n"
    found = problems(write(tmp_path, text))
    assert any("hosts.pi.jump: 'bast' is not a host in `hosts` (have: pi)" in p for p in found)
    assert any("build.host: 'buildbox' is not a host" in p for p in found)


def test_tap_only_needs_one_device_and_bridge_is_not_a_tap(tmp_path):
    text = MINIMAL + "  networks:\n    service: br100\n"
    [problem] = problems(write(tmp_path, text))
    assert "unikernel.networks.service: 'br100' is the bridge (network.bridge)" in problem


def test_source_or_artifact_required(tmp_path):
    text = MINIMAL.replace("  artifact: hello.hvt\n", "")
    [problem] = problems(write(tmp_path, text))
    assert "unikernel: set `source` (a MirageOS directory) or `artifact`" in problem


def test_lookup_order(tmp_path, monkeypatch):
    cwd = tmp_path / "proj"
    xdg = tmp_path / "xdg"
    (cwd / "profiles").mkdir(parents=True)
    (xdg / "workbench" / "profiles").mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    write(xdg / "workbench" / "profiles", MINIMAL, "pi.yaml")
    assert profiles.find("pi", cwd=cwd) == xdg / "workbench" / "profiles" / "pi.yaml"
    write(cwd / "profiles", MINIMAL, "pi.yaml")
    assert profiles.find("pi", cwd=cwd) == cwd / "profiles" / "pi.yaml"


def test_unknown_profile_suggests(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    with pytest.raises(ConfigError) as err:
        profiles.find("rpi3", cwd=ROOT)
    assert "no profile named 'rpi3'" in err.value.message
    assert err.value.hint and err.value.hint.startswith("did you mean 'rpi3b'?")


def test_profiles_are_frozen(tmp_path):
    p = profiles.load_file(write(tmp_path, MINIMAL)).profile
    with pytest.raises(Exception, match="frozen"):
        p.unikernel.memory = 128  # type: ignore[misc]
