"""`workbench render --profile P [--artifact PATH]`: every file deploy would install."""

from __future__ import annotations

import argparse

from workbench import profiles, render
from workbench.engine.release import jobs
from workbench.headless import Output


def run(args: argparse.Namespace, out: Output) -> int:
    loaded = profiles.load(args.profile)
    todo = jobs(loaded, args.unikernel or (), args.artifact)
    if not out.json and any(job.artifact is None for job in todo):
        out.diag(
            "note: no artifact given; devices are taken from the profile's unikernel.networks"
            " and unikernel.block (pass --artifact to check them against the manifest)"
        )
    backend = args.backend or loaded.profile.network.backend
    backends = render.BACKENDS if backend == "auto" else (backend,)
    if backend == "auto" and not out.json:
        out.diag(
            "note: network.backend is 'auto': deploy picks the one the host runs; showing both"
        )
    files: list[tuple[str | None, render.RenderedFile]] = []
    for job in todo:
        p = job.loaded.profile
        files.append((None, render.render_unit(p, job.artifact, profile_label=loaded.name)))
    for b in backends:
        seen: set[str] = set()  # the bridge's files are every unikernel's: shown once
        for job in todo:
            for f in render.render_network(job.loaded.profile, b, profile_label=loaded.name):
                if f.path not in seen:
                    seen.add(f.path)
                    files.append((b, f))
    if out.json:
        out.data(
            [
                {
                    "path": f.path,
                    "purpose": f.purpose,
                    "mode": oct(f.mode),
                    "backend": b,
                    "content": f.content,
                }
                for b, f in files
            ]
        )
        return 0
    for b, f in files:
        suffix = f", {b}" if b and len(backends) > 1 else ""
        out.line(f"==> {f.path} ({f.purpose}{suffix}) <==")
        out.line(f.content.rstrip("\n"))
        out.line()
    return 0
