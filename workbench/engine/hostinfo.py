"""Facts about one host for one profile: the paths workbench manages there, read in one go."""

from __future__ import annotations

from workbench import render
from workbench.artifacts.elf import ArtifactInfo
from workbench.profiles.loader import LoadedProfile
from workbench.remote import facts as factsmod
from workbench.remote.connection import HostConnection


def managed_files(
    loaded: LoadedProfile, artifact: ArtifactInfo | None = None
) -> dict[str, list[render.RenderedFile]]:
    """The unit (key 'unit') and each backend's network files, as deploy would write them."""
    p = loaded.profile
    out = {"unit": [render.render_unit(p, artifact, profile_label=loaded.name)]}
    for backend in render.BACKENDS:
        out[backend] = render.render_network(p, backend, loaded.name)
    return out


async def gather(
    conn: HostConnection, loaded: LoadedProfile, artifact: ArtifactInfo | None = None
) -> factsmod.HostFacts:
    p = loaded.profile
    paths = [f.path for files in managed_files(loaded, artifact).values() for f in files]
    out = await conn.run(
        factsmod.facts_argv(p.release_dir, p.unit_name, p.service.user, p.tender_name, paths),
        what="reading host facts",
        timeout=60,
    )
    return factsmod.parse_facts(out.stdout)
