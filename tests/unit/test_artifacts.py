"""Artifact inspection against the real solo5-elftool outputs, plus tender version and argv."""

from __future__ import annotations

import json

import pytest

from tests.reference import captures, elftool_json
from workbench.artifacts import inspect, parse_tender_version, require_target, tender_argv
from workbench.artifacts.tender import check_compatible
from workbench.errors import ArtifactError, ConfigError
from workbench.lab import solo5elf

# The test unikernels of the Solo5 release, by the devices their manifests declare.
RELEASE_TESTS = {
    "test_hello.hvt": [],
    "test_net.hvt": [("service0", "NET_BASIC")],
    "test_net_2if.hvt": [("service0", "NET_BASIC"), ("service1", "NET_BASIC")],
    "test_blk.hvt": [("storage", "BLOCK_BASIC")],
}


@pytest.mark.parametrize("name", sorted(RELEASE_TESTS))
def test_manifest_matches_elftool(tmp_path, name):
    path = solo5elf.write(tmp_path / name, devices=RELEASE_TESTS[name])
    expected = json.loads(elftool_json(f"./solo5-elftool query-manifest {name}"))
    assert inspect(path).query_manifest() == expected


@pytest.mark.parametrize("target", ["hvt", "spt"])
def test_abi_matches_elftool(tmp_path, target):
    path = solo5elf.write(tmp_path / f"test_hello.{target}", target=target)
    expected = json.loads(elftool_json(f"./solo5-elftool query-abi test_hello.{target}"))
    assert inspect(path).query_abi() == expected


def test_arch_sha_and_size(tmp_path):
    path = solo5elf.write(tmp_path / "a.hvt", arch="aarch64", devices=[("service", "NET_BASIC")])
    info = inspect(path)
    assert info.machine == "aarch64"
    assert info.elf_class == 64
    assert info.size == path.stat().st_size
    import hashlib

    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info.net_devices == ["service"]
    assert info.block_devices == []


def test_padded_artifact_keeps_notes(tmp_path):
    path = tmp_path / "big.hvt"
    path.write_bytes(solo5elf.build(devices=[("service", "NET_BASIC")], pad_to=2_000_000))
    info = inspect(path)
    assert 1_990_000 < info.size <= 2_000_000
    assert info.net_devices == ["service"]


def test_not_an_elf(tmp_path):
    path = tmp_path / "hostname"
    path.write_text("rpi3b\n")
    with pytest.raises(ArtifactError, match=r"is not an ELF executable \(it starts with b'rpi3'\)"):
        inspect(path)


def test_truncated(tmp_path):
    data = solo5elf.build(devices=[("service", "NET_BASIC")])
    path = tmp_path / "cut.hvt"
    path.write_bytes(data[:300])
    with pytest.raises(ArtifactError, match="is truncated or corrupt") as err:
        inspect(path)
    assert err.value.hint and "build or copy it again" in err.value.hint


def test_truncated_inside_header(tmp_path):
    path = tmp_path / "cut.hvt"
    path.write_bytes(solo5elf.build()[:40])
    with pytest.raises(ArtifactError, match="is truncated or corrupt"):
        inspect(path)


def test_elf_without_solo5_notes_is_refused(tmp_path):
    path = solo5elf.write(tmp_path / "solo5-hvt", with_abi=False, with_manifest=False)
    with pytest.raises(ArtifactError, match="without a Solo5 ABI note") as err:
        inspect(path)
    assert "not the solo5-hvt tender" in (err.value.hint or "")
    assert inspect(path, require_solo5=False).abi is None


def test_missing_file(tmp_path):
    with pytest.raises(ArtifactError, match="no such file"):
        inspect(tmp_path / "nope.hvt")


def test_spt_where_hvt_wanted_and_reverse(tmp_path):
    spt = inspect(solo5elf.write(tmp_path / "x.spt", target="spt"))
    with pytest.raises(ArtifactError, match="built for solo5-spt, but this profile runs solo5-hvt"):
        require_target(spt, "hvt")
    hvt = inspect(solo5elf.write(tmp_path / "x.hvt", target="hvt"))
    with pytest.raises(ArtifactError, match="built for solo5-hvt, but this profile runs solo5-spt"):
        require_target(hvt, "spt")


def test_arch_mismatch_with_host(tmp_path):
    info = inspect(solo5elf.write(tmp_path / "x.hvt", arch="x86_64"))
    with pytest.raises(ArtifactError, match="x86_64 unikernel but the target host is aarch64"):
        require_target(info, "hvt", host_machine="aarch64")
    require_target(info, "hvt", host_machine="x86_64")


def test_corrupt_manifest_entry_zero(tmp_path):
    data = bytearray(solo5elf.build(devices=[("service", "NET_BASIC")]))
    marker = (1 << 30).to_bytes(4, "little")
    pos = data.index(b"\0" * 68 + marker)
    data[pos + 68 : pos + 72] = (2).to_bytes(4, "little")
    path = tmp_path / "bad.hvt"
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="Solo5 manifest is invalid"):
        inspect(path)


# --- tender version --------------------------------------------------------------------------


def test_tender_version_from_reference():
    for cap in captures():
        if cap.command in ("./solo5-hvt --version", "./solo5-spt --version"):
            v = parse_tender_version("\n".join(cap.lines))
            assert v.version == (0, 12, 1)
            assert v.abi == 2
            assert v.text == "v0.12.1"
            assert not v.legacy_net
            assert v.target in ("hvt", "spt")


def test_tender_version_git_build_and_old():
    v = parse_tender_version("solo5-hvt tender, version v0.12.1-7-g469c1a8\nABI version 2\n")
    assert v.extra == "-7-g469c1a8" and v.version == (0, 12, 1)
    old = parse_tender_version("solo5-hvt tender, version v0.5.0\n")
    assert old.legacy_net and old.abi is None


def test_tender_version_garbage():
    with pytest.raises(ArtifactError, match="could not read a Solo5 tender version"):
        parse_tender_version("bash: solo5-hvt: command not found")


def test_compatibility(tmp_path):
    info = inspect(solo5elf.write(tmp_path / "x.hvt", devices=[("service", "NET_BASIC")]))
    check_compatible(parse_tender_version("solo5-hvt tender, version v0.12.1\nABI version 2"), info)
    with pytest.raises(ArtifactError, match=r"speaks Solo5 ABI 1, but .* needs ABI 2"):
        check_compatible(
            parse_tender_version("solo5-hvt tender, version v0.6.0\nABI version 1"), info
        )
    with pytest.raises(ArtifactError, match="solo5-spt cannot run"):
        check_compatible(
            parse_tender_version("solo5-spt tender, version v0.12.1\nABI version 2"), info
        )
    with pytest.raises(ArtifactError, match="predates Solo5 manifests"):
        check_compatible(parse_tender_version("solo5-hvt tender, version v0.5.0"), info)


# --- argv ------------------------------------------------------------------------------------


def _argv(info, networks, block=None, args=(), version=None):
    return tender_argv(
        tender="/r/current/solo5-hvt",
        kernel="/r/current/hello.hvt",
        info=info,
        memory=64,
        networks=networks,
        block=block or {},
        args=list(args),
        version=version,
        profile="profile 'rpi3b'",
    )


def test_argv_mirage_default_network(tmp_path):
    info = inspect(solo5elf.write(tmp_path / "s.hvt", devices=[("service", "NET_BASIC")]))
    assert _argv(info, {"service": "tap100"}, args=["--ipv4=10.0.0.2/24"]) == [
        "/r/current/solo5-hvt",
        "--mem=64",
        "--net:service=tap100",
        "--",
        "/r/current/hello.hvt",
        "--ipv4=10.0.0.2/24",
    ]


def test_argv_two_nets_and_block_in_manifest_order(tmp_path):
    devs = [("service0", "NET_BASIC"), ("storage", "BLOCK_BASIC"), ("service1", "NET_BASIC")]
    info = inspect(solo5elf.write(tmp_path / "m.hvt", devices=devs))
    argv = _argv(info, {"service1": "tap101", "service0": "tap100"}, {"storage": "/srv/d.img"})
    assert argv[2:5] == [
        "--net:service0=tap100",
        "--block:storage=/srv/d.img",
        "--net:service1=tap101",
    ]


def test_argv_unmapped_device_names_key(tmp_path):
    info = inspect(
        solo5elf.write(
            tmp_path / "m.hvt", devices=[("service", "NET_BASIC"), ("storage", "BLOCK_BASIC")]
        )
    )
    with pytest.raises(ConfigError) as err:
        _argv(info, {"service": "tap100"})
    assert "declares BLOCK_BASIC device 'storage'" in err.value.message
    assert err.value.hint == (
        "set unikernel.block.storage (e.g. storage: /var/lib/workbench/NAME/disk.img) "
        "in profile 'rpi3b'"
    )


def test_argv_mapping_not_in_manifest(tmp_path):
    info = inspect(solo5elf.write(tmp_path / "s.hvt", devices=[("service", "NET_BASIC")]))
    with pytest.raises(
        ConfigError,
        match=r"maps unikernel.networks.service0, but the unikernel "
        r"declares no such device \(it declares: service ",
    ):
        _argv(info, {"service": "tap100", "service0": "tap101"})


def test_argv_legacy_tender_uses_single_net():
    old = parse_tender_version("solo5-hvt tender, version v0.5.0")
    from workbench.artifacts.elf import ArtifactInfo

    info = ArtifactInfo(
        path="old.hvt", size=0, sha256="", machine="x86_64", elf_class=64, abi=None, devices=None
    )
    assert _argv(info, {"service": "tap100"}, version=old) == [
        "/r/current/solo5-hvt",
        "--mem=64",
        "--net=tap100",
        "--",
        "/r/current/hello.hvt",
    ]
    with pytest.raises(ConfigError, match="at most one network"):
        _argv(info, {"a": "tap100", "b": "tap101"}, version=old)


def test_argv_current_tender_never_uses_legacy_form(tmp_path):
    """v0.12.1 rejects `--net=tap100` (reference: Invalid option); we must never emit it."""
    info = inspect(solo5elf.write(tmp_path / "s.hvt", devices=[("service", "NET_BASIC")]))
    new = parse_tender_version("solo5-hvt tender, version v0.12.1\nABI version 2")
    argv = _argv(info, {"service": "tap100"}, version=new)
    assert not any(a.startswith("--net=") for a in argv)
