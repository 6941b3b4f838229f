"""The ELF inspector on hostile files: mutated real-shaped unikernels, crafted manifests, odd
file types. The answer is an ArtifactInfo or an ArtifactError (exit 7), never another exception
and never a hang."""

from __future__ import annotations

import contextlib
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.artifacts.elf import inspect
from workbench.errors import ArtifactError
from workbench.lab import solo5elf

ROOT = Path(__file__).resolve().parents[2]
GOOD = solo5elf.build(devices=[("service", "NET_BASIC"), ("storage", "BLOCK_BASIC")])


def _inspect_bytes(tmp: Path, data: bytes) -> None:
    path = tmp / "x.hvt"
    path.write_bytes(data)
    with contextlib.suppress(ArtifactError):
        inspect(path)


@given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), max_size=8))
def test_mutated_unikernels(tmp_path_factory, flips):
    data = bytearray(GOOD)
    for offset, value in flips:
        data[offset] = value
    _inspect_bytes(tmp_path_factory.mktemp("m"), bytes(data))


@given(st.integers(0, len(GOOD)))
def test_truncated_unikernels(tmp_path_factory, length):
    _inspect_bytes(tmp_path_factory.mktemp("t"), GOOD[:length])


def test_an_absurd_program_header_offset(tmp_path):
    data = bytearray(GOOD)
    struct.pack_into("<Q", data, 32, 1 << 62)
    (tmp_path / "x.hvt").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="program header table"):
        inspect(tmp_path / "x.hvt")


def test_a_device_name_with_an_escape_makes_the_artifact_unusable(tmp_path):
    data = GOOD.replace(b"service\0", b"serv\x1b[2J")
    assert data != GOOD
    (tmp_path / "x.hvt").write_bytes(data)
    with pytest.raises(ArtifactError, match="is not a Solo5 device name") as err:
        inspect(tmp_path / "x.hvt")
    assert "\x1b" not in str(err.value)
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "inspect", str(tmp_path / "x.hvt")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 7 and "\x1b" not in result.stdout + result.stderr


def test_a_fifo_and_a_symlink_loop(tmp_path):
    os.mkfifo(tmp_path / "fifo.hvt")
    with pytest.raises(ArtifactError, match="not a regular file"):
        inspect(tmp_path / "fifo.hvt")
    (tmp_path / "a.hvt").symlink_to(tmp_path / "b.hvt")
    (tmp_path / "b.hvt").symlink_to(tmp_path / "a.hvt")
    with pytest.raises(ArtifactError, match="cannot read it"):
        inspect(tmp_path / "a.hvt")
