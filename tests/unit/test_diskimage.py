"""`workbench image` and `inspect IMAGE` on this machine, with Debian's tools: each format is
written and read back (kernel, arguments, partition), refusals say what to do. That the image
boots is tests/lab/test_virtio.py's (real QEMU)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import diskimage
from workbench.artifacts import inspect
from workbench.errors import ArtifactError, ConfigError
from workbench.lab import deps, solo5elf

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--ipv4=10.0.0.2/24", "--motd=a,b c"]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    path = tmp_path_factory.mktemp("k") / "web.virtio"
    return solo5elf.write(path, target="virtio", devices=[("service", "NET_BASIC")])


@pytest.mark.parametrize("fmt", list(diskimage.FORMATS))
def test_each_format_reads_back_as_written(kernel, tmp_path, fmt):
    size = diskimage.SIZE if fmt == "gce-tar" else 64 << 20  # GCE: whole GiB
    path = diskimage.make(kernel, ARGS, tmp_path, "web", fmt, size)
    assert path.name == "web" + diskimage.FORMATS[fmt]
    assert not list(tmp_path.glob(".*partial"))  # written in place, atomically
    image = diskimage.read(path)
    assert image.format == fmt and image.loader == "mboot.c32"
    assert image.args == " ".join(ARGS)
    assert image.kernel.sha256 == inspect(kernel).sha256
    assert image.kernel.abi is not None and image.kernel.abi.target == "virtio"
    assert image.partition_start == 1 << 20
    assert size - (2 << 20) < image.partition_size <= size - (1 << 20)  # the rest of the disk


def test_the_raw_image_is_sparse_and_its_mbr_boots_a_bootable_fat_partition(kernel, tmp_path):
    path = diskimage.make(kernel, [], tmp_path, "web")
    assert path.stat().st_size == diskimage.SIZE
    assert path.stat().st_blocks * 512 < 16 << 20  # a few MiB on disk
    mbr = path.read_bytes()[:512]
    assert mbr[446] == 0x80 and mbr[446 + 4] == 0x0C  # bootable, FAT32 (LBA)


def test_an_hvt_artifact_is_refused_saying_how_to_build_for_virtio(tmp_path):
    hvt = solo5elf.write(tmp_path / "web.hvt", devices=[])
    with pytest.raises(ArtifactError) as err:
        diskimage.make(hvt, [], tmp_path, "web")
    assert "needs a virtio unikernel" in err.value.message
    assert err.value.hint == "build it with `mirage configure -t virtio`"


def test_an_argument_syslinux_cannot_hold_is_refused(kernel, tmp_path):
    with pytest.raises(ConfigError, match="cannot be embedded"):
        diskimage.make(kernel, ["a\nDEFAULT evil"], tmp_path, "web")


def test_a_file_that_is_no_disk_image_is_said_to_be_none(tmp_path):
    junk = tmp_path / "x.img"
    junk.write_bytes(b"\0" * 4096)
    with pytest.raises(ArtifactError, match="no MBR partition table"):
        diskimage.read(junk)


def test_the_packages_it_needs_are_the_ones_the_project_installs():
    assert sorted(deps.IMAGE_PACKAGES) == diskimage.PACKAGES
    assert set(deps.IMAGE_PACKAGES) <= set(deps.all_packages())


def test_the_cli_writes_an_image_from_the_profile_and_inspect_reads_it(kernel, tmp_path):
    profile = (ROOT / "profiles" / "lab.yaml").read_text()
    profile = profile.replace("  target: hvt\n", "  target: virtio\n")
    (tmp_path / "p.yaml").write_text(profile)

    def wb(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "workbench", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)

    made = wb(
        "image",
        "--profile",
        str(tmp_path / "p.yaml"),
        "--artifact",
        str(kernel),
        "--format",
        "qcow2",
        "--size",
        "64M",
        "--output",
        str(tmp_path / "out"),
        "--json",
    )
    assert made.returncode == 0, made.stderr
    [written] = json.loads(made.stdout)
    assert written["path"] == str(tmp_path / "out" / "hello.qcow2")
    assert written["args"] == ["--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.0.1"]
    shown = wb("inspect", written["path"])
    assert shown.returncode == 0, shown.stderr
    assert "a qcow2 disk image" in shown.stdout
    assert "args     --ipv4=10.0.0.2/24 --ipv4-gateway=10.0.0.1" in shown.stdout
    assert "solo5    virtio, ABI version 2" in shown.stdout
    info = subprocess.run(
        ["qemu-img", "info", "--output=json", written["path"]], capture_output=True, text=True
    )
    assert json.loads(info.stdout)["virtual-size"] == 64 << 20


def test_a_qcow2_that_reads_another_file_is_refused(kernel, tmp_path):
    secret = diskimage.make(kernel, ["--secret=hunter2"], tmp_path / "s", "secret")
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-f", "qcow2", "-F", "raw", "-b", str(secret), str(overlay)],
        check=True,
        capture_output=True,
    )
    with pytest.raises(ArtifactError, match="with a backing file: it would read another file"):
        diskimage.read(overlay)


def test_a_gce_tar_whose_disk_is_a_link_is_refused(kernel, tmp_path):
    import io
    import tarfile

    real = diskimage.make(kernel, [], tmp_path / "r", "web", "gce-tar")
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(real) as src, tarfile.open(evil, "w:gz") as out:
        for member in src.getmembers():
            out.addfile(member, src.extractfile(member))
        link = tarfile.TarInfo("disk.raw")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
        out.addfile(link, io.BytesIO())
    with pytest.raises(ArtifactError, match=r"no disk\.raw that is a plain file"):
        diskimage.read(evil)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("64M", 64 << 20),
        ("512", 512 << 20),
        ("1G", 1 << 30),
        ("2GiB", 2 << 30),
        (" 1g ", 1 << 30),
        ("100 MB", 100 << 20),
    ],
)
def test_sizes_are_read_in_mib_or_gib(text, size):
    assert diskimage.parse_size(text) == size


@pytest.mark.parametrize(
    "text", ["", "1.5G", "-1G", "64K", "G", "١٢M", "64B", "64IB", "99999999999999999999G"]
)
def test_a_size_that_is_none_is_refused(text):
    with pytest.raises(ConfigError, match="is not a size"):
        diskimage.parse_size(text)


def test_sizes_that_make_no_image_are_refused_before_any_work(kernel, tmp_path):
    with pytest.raises(ConfigError, match="at least 64"):
        diskimage.make(kernel, [], tmp_path, "web", "raw", 32 << 20)
    with pytest.raises(ConfigError, match="at most 2 TiB"):
        diskimage.make(kernel, [], tmp_path, "web", "raw", diskimage.parse_size("1073741824"))
    with pytest.raises(ConfigError, match="whole GiB"):
        diskimage.make(kernel, [], tmp_path, "web", "gce-tar", 512 << 20)
    assert not list(tmp_path.iterdir())
