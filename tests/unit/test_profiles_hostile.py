"""Hostile or broken profile files: each one is a clear FILE:LINE: problem (exit 2), nothing
hangs or crashes, and the other profiles still load. Every case here crashed, hung or loaded
something dangerous before."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_profiles import MINIMAL, problems, write
from workbench import profiles
from workbench.errors import ConfigError, ProfileError

ROOT = Path(__file__).resolve().parents[2]

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BOMB + MINIMAL, "alias bomb"),
        ("x: &r [*r]\n" + MINIMAL, "alias refers to the value that contains it"),
        ("x: " + "[" * 3000 + "]" * 3000 + "\n" + MINIMAL, "nested"),
        (MINIMAL + "description: 1" + "0" * 4400 + "\n", "digits is too long"),
        (MINIMAL.replace("hello.hvt", "hello.hvt\x07"), "YAML syntax"),
        (MINIMAL + 'description: "\\ud800"\n', "lone surrogate"),
    ],
)
def test_yaml_level_attacks(tmp_path, text, expected):
    found = "\n".join(problems(write(tmp_path, text)))
    assert expected in found, found


@pytest.mark.parametrize(
    ("patch", "where"),
    [
        ({"targets: [pi]": "targets: [[]]"}, "targets"),
        ({"targets: [pi]": "targets: [pi]\nbuild: {host: [a]}"}, "build.host"),
        ({"    address: rpi3b.local": "    address: rpi3b.local\n    jump: {}"}, "hosts.pi.jump"),
        (
            {"  artifact: hello.hvt": "  artifact: hello.hvt\n  networks: {service: [x]}"},
            "networks",
        ),
    ],
)
def test_values_of_the_wrong_type_are_reported_not_crashed_on(tmp_path, patch, where):
    text = MINIMAL
    for old, new in patch.items():
        text = text.replace(old, new)
    assert any(where in line for line in problems(write(tmp_path, text)))


def test_a_jump_host_cycle_is_refused(tmp_path):
    text = MINIMAL.replace(
        "    address: rpi3b.local\n",
        "    address: rpi3b.local\n    jump: b\n  b:\n    address: 10.0.0.9\n    jump: pi\n",
    )
    assert any("jump hosts go round: pi -> b -> pi" in p for p in problems(write(tmp_path, text)))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("health: {kind: log, pattern: '('}", "not a regular expression"),
        ('health: {kind: http, port: 80, address: "10.0.0.2\\r\\nX: y"}', "not an IP address"),
        ("health: {kind: ping, address: 'fe80::1%eth0'}", "zone ids"),
        ("network: {bridge: eth0}", "host's own interfaces"),
        ("network: {bridge: lo}", "host's own interfaces"),
        ("network: {mode: bridge-uplink, uplink: br100, address: dhcp}", "both 'br100'"),
        ("network: {address: 'fd00::1/64'}", "must be IPv4"),
        ("service: {unit: -x.service}", "starts with '-'"),
        ("unikernel2: 1", "unknown key"),
    ],
)
def test_values_that_would_misbehave_later_are_refused_at_load(tmp_path, extra, message):
    found = "\n".join(problems(write(tmp_path, MINIMAL + extra + "\n")))
    assert message in found, found


def test_a_tap_named_like_the_uplink_is_refused(tmp_path):
    text = MINIMAL.replace(
        "  artifact: hello.hvt", "  artifact: hello.hvt\n  networks: {service: eth0}"
    )
    assert any("host's own interfaces" in p for p in problems(write(tmp_path, text)))


def test_an_ssh_host_with_a_zone_id_is_refused(tmp_path):
    text = MINIMAL.replace("rpi3b.local", "'fe80::1%eth0'")
    assert any("zone ids" in p for p in problems(write(tmp_path, text)))


def test_a_profile_name_that_could_inject_lines_is_refused(tmp_path):
    path = tmp_path / "x\nflush ruleset.yaml"
    path.write_text(MINIMAL)
    with pytest.raises(ProfileError, match="a profile's name is letters"):
        profiles.load_file(path)


def test_a_huge_file_is_refused_without_reading_it_all(tmp_path):
    path = write(tmp_path, MINIMAL + "description: " + "x" * (2 << 20) + "\n")
    assert any("larger than 1 MiB" in p for p in problems(path))


def test_a_fifo_is_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    with pytest.raises(ConfigError, match="not a regular file"):
        profiles.load_file(tmp_path / "pipe.yaml")


def test_one_bad_file_does_not_break_the_others(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "good.yaml").write_text(MINIMAL)
    (tmp_path / "profiles" / "bomb.yaml").write_text(BOMB + MINIMAL)
    (tmp_path / "profiles" / "deep.yaml").write_text("x: " + "[" * 3000 + "]" * 3000 + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "profiles"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert "good" in result.stdout
    assert "bomb" in result.stdout + result.stderr and "deep" in result.stdout + result.stderr
