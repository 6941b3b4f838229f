"""`workbench image --profile P`: a bootable disk image of each (virtio) unikernel."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench import diskimage, profiles
from workbench.engine.release import jobs
from workbench.errors import ConfigError
from workbench.headless import Output


def run(args: argparse.Namespace, out: Output) -> int:
    size = diskimage.parse_size(args.size)
    diskimage.check_size(size, args.format)  # before any build or file is touched
    loaded = profiles.load(args.profile)
    made = []
    for job in jobs(loaded, args.unikernel or (), args.artifact):
        uk = job.loaded.profile.unikernel
        if not args.unikernel and job.loaded.profile.runtime != "virtio":
            # Of a whole profile, the virtio ones (asked by name, any other is refused).
            out.diag(f"note: {uk.name} runs under {job.loaded.profile.runtime}: no image made")
            continue
        if job.artifact is None:
            raise ConfigError(
                f"unikernel '{uk.name}' has no artifact to put in an image",
                "pass --artifact dist/NAME.virtio, or set unikernel.artifact",
            )
        path = diskimage.make(
            Path(job.artifact.path), uk.args, Path(args.output), uk.name, args.format, size
        )
        stat = path.stat()
        made.append(
            {
                "unikernel": uk.name,
                "path": str(path),
                "format": args.format,
                "size": stat.st_size,
                "allocated": stat.st_blocks * 512,
                "kernel_sha256": job.artifact.sha256,
                "args": list(uk.args),
            }
        )
        if not out.json:
            out.line(
                f"{path}: {args.format}, {stat.st_size >> 20} MiB ({stat.st_blocks * 512 >> 20} "
                f"MiB on disk), boots {Path(job.artifact.path).name} with "
                f"{' '.join(uk.args) or 'no arguments'}"
            )
    if not made:
        raise ConfigError(
            f"profile '{loaded.name}' has no virtio unikernel to make an image of",
            "give --artifact X.virtio, or build one (build.target: virtio)",
        )
    if out.json:
        out.data(made)
    return 0
