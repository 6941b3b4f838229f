"""Whole-profile runs shared by both front ends: the artifact to use (given, or built from the
profile's source, cached), then deploy or plan on every selected target."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

from workbench.artifacts.elf import ArtifactInfo
from workbench.engine import plan as planmod
from workbench.engine.deploy import DeployOptions, HostDeploy
from workbench.engine.release import TenderSource
from workbench.engine.runner import run_hosts
from workbench.events import Event
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import Pool


class Prepare:
    """The artifact and tender to use: the ones given, else a (cached) build of the source.

    After `run()`: `artifact` is set when there is something to deploy; `meta` is the build's
    metadata when it was built. A failed build has yielded its StepFailed/HostDone events.
    """

    def __init__(
        self,
        loaded: LoadedProfile,
        pool: Pool,
        hosts: list[str],
        artifact: ArtifactInfo | None,
        tender: TenderSource | None,
        *,
        use_cache: bool = True,
    ) -> None:
        self.loaded, self.pool, self.hosts = loaded, pool, hosts
        self.artifact, self.tender = artifact, tender
        self.use_cache = use_cache
        self.meta: dict[str, object] | None = None

    async def run(self) -> AsyncIterator[Event]:
        if self.artifact is not None:
            return
        from workbench.engine.build import Build  # the docker SDK: only when building

        job = Build(self.loaded, self.pool, use_cache=self.use_cache, targets=self.hosts)
        async for event in job.run():
            yield event
        if job.result is not None:
            self.artifact, self.tender, self.meta = job.artifact, job.tender, job.result.meta


async def deploy_all(
    loaded: LoadedProfile,
    pool: Pool,
    hosts: list[str],
    artifact: ArtifactInfo | None,
    tender: TenderSource | None,
    options: DeployOptions,
    *,
    use_cache: bool = True,
    parallel: int = 4,
    rolling: bool = False,
) -> AsyncIterator[Event]:
    prep = Prepare(loaded, pool, hosts, artifact, tender, use_cache=use_cache)
    async for event in prep.run():
        yield event
    built = prep.artifact
    if built is None:
        return  # the build failed and said so
    options = replace(options, build=prep.meta) if prep.meta else options

    def one(host: str) -> AsyncIterator[Event]:
        return HostDeploy(loaded, host, pool, built, prep.tender, options).run()

    async for event in run_hosts(hosts, one, parallel=parallel, rolling=rolling):
        yield event


async def plan_all(
    loaded: LoadedProfile,
    pool: Pool,
    hosts: list[str],
    artifact: ArtifactInfo | None,
    tender: TenderSource | None,
    *,
    use_cache: bool = True,
    parallel: int = 8,
    force_restart: bool = False,
) -> AsyncIterator[Event]:
    prep = Prepare(loaded, pool, hosts, artifact, tender, use_cache=use_cache)
    async for event in prep.run():
        yield event
    built = prep.artifact
    if built is None:
        return

    def one(host: str) -> AsyncIterator[Event]:
        return planmod.plan(pool, loaded, host, built, prep.tender, force_restart=force_restart)

    async for event in run_hosts(hosts, one, parallel=parallel):
        yield event
