"""A release: the unikernel and the tender that runs it, named by both their hashes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from workbench.artifacts.elf import inspect
from workbench.errors import ArtifactError


@dataclass(frozen=True)
class TenderSource:
    """A tender binary on this machine (--tender or unikernel.tender)."""

    path: Path
    sha256: str
    size: int
    machine: str


def local_tender(path: Path) -> TenderSource:
    info = inspect(path, require_solo5=False)
    if info.abi is not None:
        raise ArtifactError(
            f"{path} is a Solo5 unikernel, not a tender",
            "pass the solo5-hvt program that was built with the unikernel",
        )
    return TenderSource(path=path, sha256=info.sha256, size=info.size, machine=info.machine)


def release_id(artifact_sha: str, tender_sha: str) -> str:
    return hashlib.sha256(f"{artifact_sha}:{tender_sha}".encode()).hexdigest()[:16]
