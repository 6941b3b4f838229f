"""Artifact upload to the lab target, 8 MB and 64 MB: workbench (deploy's upload: SFTP into
staging, sha256-verified, renamed) vs the scp and sftp command-line clients on the same link,
and workbench's hash-skip when the release is already there. Also over a 40 Mbit/s link
(tc on the target's veth), closer to a Pi on a LAN."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from labbench import PY, ROOT, SSH_OPTS, TARGET, config, repeat, run, ssh, summary

from tests.lab.deploykit import throttled

REMOTE = "/var/tmp/wb-bench-upload"


def main(runs: int = 5, sizes_mb: tuple[int, ...] = (8, 64), slow_mb: int = 8) -> dict:
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for mb in sorted({*sizes_mb, slow_mb}):
            (tmp / f"a{mb}.bin").write_bytes(os.urandom(mb << 20))

        def cases(mb: int, label: str, n: int) -> None:
            src = tmp / f"a{mb}.bin"
            ssh(TARGET, f"rm -rf {REMOTE}; mkdir -p {REMOTE}")

            def wb(i: int) -> float:
                return run([str(PY), "bench/upload_one.py", str(src), f"{REMOTE}/wb{i}"])

            def scp(i: int) -> float:
                return run(["scp", "-q", *SSH_OPTS, str(src), f"root@{TARGET}:{REMOTE}/scp{i}"])

            batch = tmp / "sftp.batch"

            def sftp(i: int) -> float:
                batch.write_text(f"put {src} {REMOTE}/sftp{i}\n")
                return run(["sftp", "-q", *SSH_OPTS, "-b", str(batch), f"root@{TARGET}"])

            results[label] = {
                "workbench": summary(repeat(wb, n)),
                "scp": summary(repeat(scp, n)),
                "sftp": summary(repeat(sftp, n)),
                # Again into the same release: verified by hash on the host, nothing sent.
                "workbench (already there)": summary(
                    repeat(
                        lambda i: run([str(PY), "bench/upload_one.py", str(src), f"{REMOTE}/wb0"]),
                        n,
                    )
                ),
            }
            ssh(TARGET, f"rm -rf {REMOTE}")

        for mb in sizes_mb:
            cases(mb, f"{mb} MB, lab link", runs)
        with throttled(config.TARGET.veth):
            cases(slow_mb, f"{slow_mb} MB, 40 Mbit/s", max(3, runs // 2))
    return results


if __name__ == "__main__":
    os.chdir(ROOT)
    print(json.dumps(main(3), indent=1))
