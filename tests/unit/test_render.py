"""Rendered files: golden output per bundled profile and backend, and real validators on them.

Regenerate the golden files after an intended change with `UPDATE_GOLDEN=1 pytest tests/unit`,
then read the diff before committing it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from workbench import profiles, render
from workbench.errors import ConfigError
from workbench.examples import HELLO
from workbench.lab import solo5elf

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
CASES = [(name, backend) for name in ("rpi3b", "x86-server", "lab") for backend in render.BACKENDS]


def _render_text(name: str, backend: str) -> str:
    p = profiles.load(name, cwd=ROOT).profile
    files = render.render_all(p, backend, profile_label=name)
    return "".join(f"==> {f.path} ({f.purpose}) <==\n{f.content}\n" for f in files)


@pytest.mark.parametrize(("name", "backend"), CASES)
def test_golden(name, backend):
    golden = GOLDEN / f"{name}.{backend}.txt"
    text = _render_text(name, backend)
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def _verify_unit(tmp_path: Path, content: str, unit_name: str) -> subprocess.CompletedProcess[str]:
    """systemd-analyze verify with the release dir moved under tmp_path so ExecStart exists."""
    root = tmp_path / "root"
    content = content.replace("/var/lib/workbench", f"{root}/var/lib/workbench")
    content = content.replace("/srv/unikernels", f"{root}/srv/unikernels")
    for line in content.splitlines():
        if line.startswith("ExecStart="):
            tender = Path(line.removeprefix("ExecStart=").split()[0])
            tender.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy("/bin/true", tender)
    unit = tmp_path / unit_name
    unit.write_text(content)
    return subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("name", ["rpi3b", "x86-server", "lab"])
def test_unit_passes_systemd_analyze_verify(tmp_path, name):
    p = profiles.load(name, cwd=ROOT).profile
    unit = render.render_unit(p, profile_label=name)
    result = _verify_unit(tmp_path, unit.content, p.unit_name)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr  # unknown keys and bad values only warn


def test_verify_catches_a_bad_unit(tmp_path):
    """The check above can fail: a unit with an unknown key produces a warning."""
    p = profiles.load("rpi3b", cwd=ROOT).profile
    content = render.render_unit(p).content.replace("UMask=0077", "UMask=0077\nBogusKey=1")
    result = _verify_unit(tmp_path, content, p.unit_name)
    assert "Unknown key 'BogusKey'" in result.stderr


def test_unit_uses_the_artifact_manifest(tmp_path):
    p = profiles.load("rpi3b", cwd=ROOT).profile
    info_path = solo5elf.write(tmp_path / "hello.hvt", devices=[("service", "NET_BASIC")])
    from workbench.artifacts import inspect

    unit = render.render_unit(p, inspect(info_path), profile_label="rpi3b")
    assert (
        "ExecStart=/var/lib/workbench/hello/current/solo5-hvt --mem=64 --net:service=tap100 -- "
        "/var/lib/workbench/hello/current/hello.hvt --ipv4=10.0.0.2/24 --ipv4-gateway=10.0.0.1\n"
    ) in unit.content
    assert unit.path == "/etc/systemd/system/unikernel-hello.service"


def test_unit_with_block_device_gets_write_access(tmp_path):
    text = (
        (ROOT / "profiles" / "rpi3b.yaml")
        .read_text()
        .replace(
            "    service: tap100", "    service: tap100\n  block:\n    storage: /srv/hello/disk.img"
        )
    )
    (tmp_path / "p.yaml").write_text(text)
    p = profiles.load_file(tmp_path / "p.yaml").profile
    unit = render.render_unit(p)
    assert "--block:storage=/srv/hello/disk.img" in unit.content
    assert "ReadWritePaths=/srv/hello/disk.img\n" in unit.content
    assert _verify_unit(tmp_path, unit.content, p.unit_name).stderr == ""


def test_exec_start_quotes_arguments_with_spaces():
    assert render._systemd_quote("--hello=a b") == '"--hello=a b"'
    assert render._systemd_quote("100%") == '"100%%"'
    assert render._systemd_quote("$HOME") == '"$$HOME"'
    assert render._systemd_quote(";") == '";"'  # a lone ; separates commands in ExecStart
    assert render._systemd_quote("--ipv4=10.0.0.2/24") == "--ipv4=10.0.0.2/24"


def test_auto_backend_cannot_be_rendered_blind():
    p = profiles.load("rpi3b", cwd=ROOT).profile
    with pytest.raises(ConfigError, match="cannot be rendered without a host"):
        render.render_network(p, "auto")


def _variant(tmp_path: Path, **network: str) -> profiles.Profile:
    lines = "".join(f"  {k}: {v}\n" for k, v in network.items())
    text = (ROOT / "profiles" / "rpi3b.yaml").read_text()
    start = text.index("network:\n")
    end = text.index("\nservice:")
    text = text[:start] + "network:\n" + lines + text[end:]
    (tmp_path / "v.yaml").write_text(text)
    return profiles.load_file(tmp_path / "v.yaml").profile


def test_bridge_uplink_ifupdown_enslaves_uplink(tmp_path):
    p = _variant(tmp_path, mode="bridge-uplink", uplink="eth0", address="dhcp")
    bridge, tap = render.render_network(p, "ifupdown")
    assert "iface eth0 inet manual\n" in bridge.content
    assert "iface br100 inet dhcp\n    bridge_ports eth0\n" in bridge.content
    assert "nft" not in bridge.content
    assert "    up ip link set dev tap100 master br100\n" in tap.content


def test_bridge_uplink_networkd(tmp_path):
    p = _variant(tmp_path, mode="bridge-uplink", uplink="eth0", address="dhcp")
    files = {
        f.path.rsplit("/", 1)[1]: f.content for f in render.render_network(p, "systemd-networkd")
    }
    assert "[Match]\nName=eth0\n\n[Network]\nBridge=br100\n" in files["00-workbench-eth0.network"]
    assert "DHCP=ipv4" in files["10-workbench-br100.network"]
    assert "IPMasquerade" not in files["10-workbench-br100.network"]


def test_tap_only(tmp_path):
    p = _variant(tmp_path, mode="tap-only", address="10.0.0.1/24")
    [iface] = render.render_network(p, "ifupdown")
    assert "iface tap100 inet static\n    address 10.0.0.1/24\n" in iface.content
    assert "br100" not in iface.content.split("\n", 2)[2]
    files = render.render_network(p, "systemd-networkd")
    assert [f.path.rsplit("/", 1)[1] for f in files] == [
        "10-workbench-tap100.netdev",
        "10-workbench-tap100.network",
    ]


def test_nat_rules_load_with_nft(tmp_path):
    """The rule set loads into a real kernel (a throwaway network namespace), twice."""
    assert shutil.which("nft"), "nftables is missing: `make setup` / .ci/run install it"
    p = profiles.load("rpi3b", cwd=ROOT).profile
    nat = next(f for f in render.render_network(p, "ifupdown") if f.path.endswith(".nft"))
    path = tmp_path / "nat.nft"
    path.write_text(nat.content)
    # Idempotent: loading twice must work (table; delete table; table {...}).
    result = subprocess.run(
        [
            "unshare",
            "--net",
            "sh",
            "-c",
            f"nft -f {path} && nft -f {path} && nft list table ip workbench_br100",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert 'ip saddr 10.0.0.0/24 oifname != "br100" masquerade' in result.stdout


def test_bridge_uplink_static_with_gateway(tmp_path):
    p = _variant(
        tmp_path, mode="bridge-uplink", uplink="eth0", address="10.0.0.10/24", gateway="10.0.0.254"
    )
    bridge, _tap = render.render_network(p, "ifupdown")
    assert "    address 10.0.0.10/24\n    gateway 10.0.0.254\n" in bridge.content
    files = {
        f.path.rsplit("/", 1)[1]: f.content for f in render.render_network(p, "systemd-networkd")
    }
    assert "Address=10.0.0.10/24\nGateway=10.0.0.254\n" in files["10-workbench-br100.network"]


def _two(tmp_path, backend: str):  # type: ignore[no-untyped-def]
    """Two unikernels of two profiles on one bridge: hello on tap100, dns on tap101."""
    a = profiles.load("lab", cwd=ROOT)
    text = (ROOT / "profiles" / "lab.yaml").read_text()
    text = text.replace("name: hello", "name: dns").replace("service: tap100", "service: tap101")
    text = text.replace("source: ../workbench/examples/hello", f"source: {HELLO}")
    (tmp_path / "dns.yaml").write_text(text)
    b = profiles.load_file(tmp_path / "dns.yaml")
    files_a = {f.path: f.content for f in render.render_network(a.profile, backend, a.name)}
    files_b = {f.path: f.content for f in render.render_network(b.profile, backend, b.name)}
    return files_a, files_b


@pytest.mark.parametrize("backend", render.BACKENDS)
def test_a_shared_bridge_reads_the_same_whoever_writes_it(tmp_path, backend):
    """Two profiles sharing br100 write the same bridge and NAT files, byte for byte, so
    deploying one never rewrites (and re-applies) what the other uses; each tap's files are
    its own unikernel's and name it."""
    files_a, files_b = _two(tmp_path, backend)
    shared = sorted(set(files_a) & set(files_b))
    assert shared and all("br100" in path for path in shared), shared
    for path in shared:
        assert files_a[path] == files_b[path], path
        assert "tap10" not in files_a[path] and "profile" not in files_a[path], files_a[path]
    mine = sorted(set(files_a) - set(files_b))
    theirs = sorted(set(files_b) - set(files_a))
    assert mine and all("tap100" in path for path in mine), mine
    assert theirs and all("tap101" in path for path in theirs), theirs
    for path in mine:
        assert "(profile lab): tap tap100 of unikernel 'hello', on bridge br100" in files_a[path]
