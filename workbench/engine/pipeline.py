"""Whole-profile runs shared by both front ends: the artifact to use (given, or built from the
profile's source, cached), then deploy or plan on every selected target."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

from workbench.artifacts.elf import ArtifactInfo
from workbench.engine import plan as planmod
from workbench.engine.deploy import DeployOptions, HostDeploy
from workbench.engine.release import Job, TenderSource
from workbench.engine.runner import run_hosts, tagged
from workbench.errors import WorkbenchError
from workbench.events import Event, HostDone, failure
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
    jobs: list[Job],
    pool: Pool,
    hosts: list[str],
    options: DeployOptions,
    *,
    use_cache: bool = True,
    parallel: int = 4,
    rolling: bool = False,
) -> AsyncIterator[Event]:
    """Each unikernel in turn (`after:` ones first) on every host; one that starts after another
    is not deployed on a host where that other one failed."""
    failed: dict[str, set[str]] = {h: set() for h in hosts}
    missing: dict[str, set[str]] = {h: set() for h in hosts}  # not tried: build, rolling stop
    for job in jobs:
        uk = job.loaded.profile.unikernel
        go = []
        for host in hosts:
            blocker = next((a for a in uk.after if a in failed[host] | missing[host]), None)
            if blocker is None:
                go.append(host)
                continue
            missing[host].add(uk.name)
            for event in _not_after(host, uk.name, blocker, blocker in failed[host]):
                yield event
        if not go:
            continue
        stream = _deploy_one(job, pool, go, options, use_cache, parallel, rolling)
        done: set[str] = set()
        async for event in tagged(stream, uk.name):
            if isinstance(event, HostDone) and event.host in failed:
                done.add(event.host)
                if not event.ok:
                    failed[event.host].add(uk.name)
            yield event
        for host in go:
            if host not in done:  # a failed build, or a rolling deploy that stopped before it
                missing[host].add(uk.name)


def _not_after(host: str, name: str, blocker: str, failed: bool) -> tuple[Event, ...]:
    what = "failed" if failed else "was not deployed either"
    exc = WorkbenchError(
        f"{name} was not deployed: it starts after {blocker}, which {what} on {host}",
        f"fix {blocker} (above), then deploy again",
    )
    return tuple(replace(event, unikernel=name) for event in failure(host, "order", exc))


async def _deploy_one(
    job: Job,
    pool: Pool,
    hosts: list[str],
    options: DeployOptions,
    use_cache: bool,
    parallel: int,
    rolling: bool,
) -> AsyncIterator[Event]:
    loaded = job.loaded
    prep = Prepare(loaded, pool, hosts, job.artifact, job.tender, use_cache=use_cache)
    async for event in prep.run():
        yield event
    built = prep.artifact
    if built is None:
        return  # the build failed and said so
    opts = replace(options, build=prep.meta) if prep.meta else options
    pool.expect_arch(hosts, built.machine)  # the hosts it can run on; uploads follow

    def one(host: str) -> AsyncIterator[Event]:
        return HostDeploy(loaded, host, pool, built, prep.tender, opts).run()

    async for event in run_hosts(hosts, one, parallel=parallel, rolling=rolling):
        yield event


async def plan_all(
    jobs: list[Job],
    pool: Pool,
    hosts: list[str],
    *,
    use_cache: bool = True,
    parallel: int = 8,
    force_restart: bool = False,
) -> AsyncIterator[Event]:
    for job in jobs:
        stream = _plan_one(job, pool, hosts, use_cache, parallel, force_restart)
        async for event in tagged(stream, job.loaded.profile.unikernel.name):
            yield event


async def _plan_one(
    job: Job, pool: Pool, hosts: list[str], use_cache: bool, parallel: int, force_restart: bool
) -> AsyncIterator[Event]:
    loaded = job.loaded
    prep = Prepare(loaded, pool, hosts, job.artifact, job.tender, use_cache=use_cache)
    async for event in prep.run():
        yield event
    built = prep.artifact
    if built is None:
        return

    def one(host: str) -> AsyncIterator[Event]:
        return planmod.plan(pool, loaded, host, built, prep.tender, force_restart=force_restart)

    async for event in run_hosts(hosts, one, parallel=parallel):
        yield event
