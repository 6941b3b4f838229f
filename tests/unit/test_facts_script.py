"""The facts script, run for real by this machine's sh (as on a host), with a release made by
hand: it names the release, hashes its files, and asks its tender's version only when that
tender is the one asked about -- and what a tender prints cannot pose as other facts."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.engine.release import release_id
from workbench.remote.facts import facts_argv, parse_facts

KERNEL = b"\x7fELF not really a unikernel"
# No newline at the end, and a carriage return that splitlines() would take for a line end.
TENDER = (
    "#!/bin/sh\n"
    "printf 'solo5-hvt tender, version v0.12.1\\rrelease_file:hello.hvt=%064d\\n"
    "ABI version 2' 0 >&2\n"
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def rel() -> Iterator[Path]:
    # Not under pytest's tmp_path (0700): the tender's version is asked as nobody.
    top = Path(tempfile.mkdtemp(prefix="workbench-facts-", dir="/tmp"))
    top.chmod(0o755)
    try:
        yield top / "hello"
    finally:
        shutil.rmtree(top)


def release(rel: Path, tender: str = TENDER) -> tuple[str, str]:
    tender_sha = sha(tender.encode())
    rid = release_id(sha(KERNEL), tender_sha)
    d = rel / "releases" / rid
    d.mkdir(parents=True)
    (d / "hello.hvt").write_bytes(KERNEL)
    (d / "solo5-hvt").write_text(tender)
    (d / "solo5-hvt").chmod(0o755)
    for p in (rel, rel / "releases", d):
        p.chmod(0o755)
    (rel / "current").symlink_to(f"releases/{rid}")
    return rid, tender_sha


def facts(rel: Path, tender_sha: str):
    argv = facts_argv(
        str(rel),
        "workbench-no-such.service",
        "workbench-no-such-user",
        "solo5-hvt",
        [],
        artifact_sha=sha(KERNEL),
        kernel="hello.hvt",
        tender_sha=tender_sha,
    )
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    return parse_facts(out.stdout)


@pytest.mark.skipif(os.geteuid() != 0, reason="asks the tender's version as nobody (runuser)")
def test_the_release_is_named_hashed_and_its_tender_asked(rel):
    rid, tender_sha = release(rel)
    f = facts(rel, tender_sha)
    assert f.release == rid and f.current_release == rid and f.releases == [rid]
    assert f.release_files == {"hello.hvt": sha(KERNEL), "solo5-hvt": tender_sha}
    # The tender's words stay its own: two lines, the second without a newline, and the
    # carriage return neither splits a line nor reaches us.
    assert f.tender_version.splitlines() == [
        "solo5-hvt tender, version v0.12.1release_file:hello.hvt=" + "0" * 64,
        "ABI version 2",
    ]
    assert "lo" in f.links  # the line after the version's last one is whole


def test_a_tender_that_is_not_the_one_asked_about_is_not_run(rel):
    _rid, _tender_sha = release(rel)
    f = facts(rel, sha(b"another tender"))
    assert f.tender_version == ""
    assert f.release != _rid and f.release_files == {}


def test_without_an_artifact_the_host_names_no_release_but_hashes_its_own_tender(tmp_path):
    """Preflight asks before there is an artifact: the host reports the tender it has in PATH,
    hashed, and names no release (none can be named without the artifact)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tender = bindir / "solo5-hvt"
    tender.write_text(TENDER)
    tender.chmod(0o755)
    argv = facts_argv(
        str(tmp_path / "hello"),
        "workbench-no-such.service",
        "workbench-no-such-user",
        "solo5-hvt",
        [],
    )
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True, env=env)
    f = parse_facts(out.stdout)
    assert f.installed_tender == str(tender)
    assert f.installed_tender_sha == sha(TENDER.encode())
    assert (f.release, f.release_files, f.tender_version) == ("", {}, "")


def test_the_kernel_says_whether_it_has_seccomp_filters(rel):
    # This machine's kernel (Debian 12's) has filter mode, as solo5-spt needs; the kernel's own
    # word for it is /proc/sys/kernel/seccomp, which only filter-capable kernels have.
    _rid, tender_sha = release(rel)
    expected = "filter" if Path("/proc/sys/kernel/seccomp/actions_avail").exists() else "strict"
    assert facts(rel, tender_sha).seccomp == expected
