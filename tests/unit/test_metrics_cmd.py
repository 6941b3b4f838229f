"""`workbench metrics` and `top` as a user runs them, against hosts that do not answer (no lab
needed): piped output, exit codes, and hosts of two profiles that share a name."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.unit.test_cli import wb


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once it is closed


def profile(tmp_path: Path, name: str, port: int) -> Path:
    path = tmp_path / "profiles" / f"{name}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        f"hosts:\n  pi:\n    address: 127.0.0.1\n    port: {port}\n    user: root\n"
        "targets: [pi]\n"
        f"unikernel:\n  name: {name}\n  artifact: x.hvt\n  networks:\n    service: tap100\n"
    )
    return path


def test_top_piped_prints_lines_and_says_no_sample_came(tmp_path):
    path = profile(tmp_path, "one", closed_port())
    result = wb("top", "--profile", str(path), "--count", "1", "--interval", "0.2")
    assert result.returncode == 3, result.stderr  # as for any host that cannot be reached
    assert "Traceback" not in result.stderr and "\x1b[" not in result.stdout
    assert result.stdout.startswith("pi  no sample: ") and "127.0.0.1" in result.stdout


def test_two_profiles_with_a_host_of_one_name_are_told_apart(tmp_path):
    profile(tmp_path, "one", closed_port())
    profile(tmp_path, "two", closed_port())
    result = wb("metrics", "--count", "1", "--json", cwd=tmp_path)
    hosts = sorted(json.loads(line)["host"] for line in result.stdout.splitlines())
    assert hosts == ["one:pi", "two:pi"], result.stdout + result.stderr


def test_no_hosts_at_all_is_an_error_that_says_what_to_do(tmp_path):
    result = wb("metrics", "--count", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert "no hosts to sample" in result.stderr and "--profile P" in result.stderr


def test_serve_wants_an_address_and_a_port(tmp_path):
    path = profile(tmp_path, "one", closed_port())
    result = wb("metrics", "--profile", str(path), "--serve", "localhost:9464")
    assert result.returncode == 2 and "an IP address, not a name" in result.stderr


def test_a_port_alone_is_served_on_loopback():
    from workbench.commands.metrics_cmd import parse_serve

    assert parse_serve("9464") == ("127.0.0.1", 9464)
    assert parse_serve("[::1]:9464") == ("::1", 9464)
    assert parse_serve("0.0.0.0:80") == ("0.0.0.0", 80)  # asked for, in so many words
