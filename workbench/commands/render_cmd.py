"""`workbench render --profile P [--artifact PATH]`: every file deploy would install."""

from __future__ import annotations

import argparse

from workbench import profiles, render
from workbench.artifacts.elf import ArtifactInfo, inspect, require_target
from workbench.headless import Output


def run(args: argparse.Namespace, out: Output) -> int:
    loaded = profiles.load(args.profile)
    p = loaded.profile
    info: ArtifactInfo | None = None
    artifact = args.artifact or (str(p.unikernel.artifact) if p.unikernel.artifact else None)
    if artifact:
        info = inspect(artifact)
        require_target(info, p.build.target)
    elif not out.json:
        out.diag(
            "note: no artifact given; devices are taken from the profile's unikernel.networks"
            " and unikernel.block (pass --artifact to check them against the manifest)"
        )
    backend = args.backend or p.network.backend
    backends = render.BACKENDS if backend == "auto" else (backend,)
    if backend == "auto" and not out.json:
        out.diag(
            "note: network.backend is 'auto': deploy picks the one the host runs; showing both"
        )
    files: list[tuple[str | None, render.RenderedFile]] = [
        (None, render.render_unit(p, info, profile_label=loaded.name))
    ]
    for b in backends:
        files += [(b, f) for f in render.render_network(p, b, profile_label=loaded.name)]
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
