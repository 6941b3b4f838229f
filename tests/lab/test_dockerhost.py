"""The docker API behind DockerHost, against the lab builder's real dockerd: a container that
is gone is said in our words, never as a docker SDK exception escaping remote/."""

from __future__ import annotations

import pytest

from tests.lab.deploykit import ROOT
from workbench import profiles
from workbench.errors import BuildError
from workbench.remote.connection import Pool
from workbench.remote.dockerhost import DockerHost

pytestmark = pytest.mark.lab


async def test_a_container_that_is_gone(lab):
    p = profiles.load(str(ROOT / "profiles" / "lab.yaml")).profile
    pool = Pool(p.hosts)
    try:
        async with DockerHost(pool.get("builder")) as docker:
            await docker.remove("workbench-no-such-container")  # already removed: fine
            with pytest.raises(BuildError, match="starting the build container: the container"):
                await docker.start("workbench-no-such-container")
            assert await docker.image("workbench-lab/no-such-image:1") is None
    finally:
        await pool.close()
