"""Built artifacts on this machine, keyed by everything that decides their bytes: source hash,
image id, target, configure flags, builder arch and name. Same key, no container run.

Layout: $XDG_CACHE_HOME/workbench/builds/KEY/{NAME.TARGET, solo5-TARGET (not for virtio),
build.json}; an entry
is written to a temp directory and renamed into place, so a half-written one is never found.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "workbench" / "builds"


def key(
    source_sha: str, image_id: str, target: str, flags: tuple[str, ...], arch: str, name: str
) -> str:
    text = json.dumps([source_sha, image_id, target, list(flags), arch, name])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Entry:
    directory: Path
    artifact: Path
    tender: Path | None  # None for virtio: the host's QEMU runs it, the build fetches no tender
    meta: dict[str, object]


def lookup(k: str, root: Path | None = None) -> Entry | None:
    d = (root or cache_root()) / k
    try:
        meta = json.loads((d / "build.json").read_text())
        tender = meta["tender_file"]
        entry = Entry(d, d / str(meta["artifact_file"]), d / str(tender) if tender else None, meta)
    except (OSError, ValueError, KeyError):
        return None
    whole = entry.artifact.is_file() and (entry.tender is None or entry.tender.is_file())
    return entry if whole else None


def store(
    k: str, files: dict[str, bytes], meta: dict[str, object], root: Path | None = None
) -> Entry:
    base = root or cache_root()
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{k}-", dir=base))
    for name, data in files.items():
        (tmp / name).write_bytes(data)
        (tmp / name).chmod(0o755)
    (tmp / "build.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    final = base / k
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    entry = lookup(k, base)
    assert entry is not None
    return entry
