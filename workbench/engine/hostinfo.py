"""Facts about one host for one profile: the paths workbench manages there, read in one go."""

from __future__ import annotations

from workbench import owners, render
from workbench.artifacts import qemu
from workbench.artifacts.elf import ArtifactInfo
from workbench.profiles.loader import LoadedProfile
from workbench.remote import facts as factsmod
from workbench.remote.connection import HostConnection


def managed_paths(loaded: LoadedProfile) -> list[str]:
    """The unit, its owner record and every backend's network files: all the files this
    profile manages on a host. Paths only: they do not depend on the artifact (a
    manifest-less one cannot even be rendered without its tender's version, which the facts
    are read to learn)."""
    p = loaded.profile
    paths = [render.unit_path(p), owners.record_path(p.unit_name)]
    for backend in render.BACKENDS:
        paths += [f.path for f in render.render_network(p, backend, loaded.name)]
    return paths


async def gather(
    conn: HostConnection,
    loaded: LoadedProfile,
    artifact: ArtifactInfo | None = None,
    *,
    tender_sha: str = "",
) -> factsmod.HostFacts:
    """The host's facts; with an artifact, also what the host has of the release it makes
    with the tender (`tender_sha`, or the host's own tender when that is empty)."""
    p = loaded.profile
    if not p.tender_in_release:
        tender_sha = qemu.RUNNER_KEYS[p.runtime]  # the release is the kernel alone
    return await factsmod.read(
        conn,
        factsmod.facts_argv(
            p.release_dir,
            p.unit_name,
            p.service.user,
            p.tender_name,
            managed_paths(loaded),
            artifact_sha=artifact.sha256 if artifact else "",
            kernel=render.kernel_name(p),
            tender_sha=tender_sha,
            blocks=sorted(set(p.block_paths.values())),
        ),
    )
