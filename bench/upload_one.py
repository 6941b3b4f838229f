"""Upload one file into a release directory on the lab target the way deploy does (hash,
skip when already there and verified, else SFTP into staging, verify, rename), as its own
process: timed like the scp and sftp commands it is compared with.

    .venv/bin/python bench/upload_one.py FILE REMOTE_DIR"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench import profiles
from workbench.remote import files
from workbench.remote.connection import Pool

LAB = str(Path(__file__).resolve().parents[1] / "profiles" / "lab.yaml")


def describe(local: Path) -> files.UploadFile:
    digest = hashlib.sha256()
    with local.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return files.UploadFile(local, local.name, digest.hexdigest(), local.stat().st_size, "0644")


async def main(item: files.UploadFile, remote_dir: str) -> str:
    loaded = profiles.load(LAB)
    pool = Pool(loaded.profile.hosts)
    try:
        pool.expect_arch(["target"], "x86_64")  # as deploy does for an x86_64 artifact
        conn = pool.get("target")
        if await files.verify(conn, remote_dir, [item]):
            return "skipped"
        await conn.run(["mkdir", "-p", str(Path(remote_dir).parent)])
        await files.upload_release(conn, remote_dir, [item], "{}")
        return "uploaded"
    finally:
        await pool.close()


if __name__ == "__main__":
    print(asyncio.run(main(describe(Path(sys.argv[1])), sys.argv[2])))
