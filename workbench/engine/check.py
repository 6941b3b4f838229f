"""`workbench check`: the preflight facts of every target (and the build host), with a fix
hint for each failure. Reads only."""

from __future__ import annotations

from collections.abc import AsyncIterator

from workbench.artifacts.elf import ArtifactInfo
from workbench.artifacts.tender import check_compatible, parse_tender_version
from workbench.engine import hostinfo, preflight
from workbench.engine.release import own_artifact, runs
from workbench.errors import WorkbenchError
from workbench.events import Event, Fact, HostDone, StepFinished, failure
from workbench.profiles.loader import LoadedProfile
from workbench.remote import release
from workbench.remote.connection import Pool


async def check_target(
    pool: Pool, loaded: LoadedProfile, host: str, artifact: ArtifactInfo | None = None
) -> AsyncIterator[Event]:
    """Preflight of one target for one unikernel: as the artifact (--artifact, else its own
    when it is there) runs, which may not be build.target."""
    failed = 0
    try:
        if artifact is None:
            artifact = own_artifact(loaded)
        loaded = runs(loaded, artifact)
        p = loaded.profile
        conn = pool.get(host)
        await conn.connection()
        yield StepFinished(
            host=host, step="connect", detail=f"{conn.host.user}@{conn.host.address}"
        )
        facts = await hostinfo.gather(conn, loaded, artifact)
        for c in preflight.checks(p, facts, artifact):
            failed += c.ok is False
            yield Fact(host=host, step="check", name=c.name, value=c.value, ok=c.ok, hint=c.hint)
        tender = facts.installed_tender
        # virtio and qemu: no tender; preflight's qemu check above is about the host's QEMU.
        if p.tender_in_release and tender:
            text = await release.tender_version_text(conn, tender)
            try:
                version = parse_tender_version(text)
                if artifact is not None:
                    check_compatible(version, artifact)
                yield Fact(
                    host=host,
                    step="check",
                    name="tender",
                    ok=True,
                    value=f"{tender}: {version.name} {version.text}, ABI {version.abi}",
                )
            except WorkbenchError as exc:
                failed += 1
                yield Fact(
                    host=host,
                    step="check",
                    name="tender",
                    ok=False,
                    value=f"{tender}: {exc.message}",
                    hint=exc.hint,
                )
        elif p.tender_in_release:
            yield Fact(
                host=host,
                step="check",
                name="tender",
                ok=None,
                value=f"no {p.tender_name} installed; deploy brings one (--tender or "
                "a source build)",
            )
    except WorkbenchError as exc:
        for event in failure(host, "check", exc):
            yield event
        return
    yield HostDone(
        host=host,
        step="done",
        ok=not failed,
        summary="ready" if not failed else f"{failed} check(s) failed",
        exit_code=0 if not failed else 4,
    )


async def check_builder(pool: Pool, loaded: LoadedProfile, host: str) -> AsyncIterator[Event]:
    """The build host: its docker daemon through the SSH connection, as a build reaches it, and
    whether the build image is there."""
    from workbench.remote.dockerhost import DockerHost  # the docker SDK: only when checking one

    image_name = loaded.profile.build.image
    try:
        async with DockerHost(pool.get(host)) as docker:
            daemon = await docker.info()
            yield Fact(
                host=host,
                step="check",
                name="docker",
                ok=True,
                value=f"docker {daemon.version} on {daemon.arch}, reached over SSH",
            )
            image = await docker.image(image_name)
    except WorkbenchError as exc:
        yield Fact(
            host=host, step="check", name="docker", ok=False, value=exc.message, hint=exc.hint
        )
        yield HostDone(
            host=host, step="done", ok=False, summary="builder not ready", exit_code=exc.exit_code
        )
        return
    if image is None:
        ok = False
        value = f"{image_name} is not on the builder"
        hint = (
            "the build pulls it when a registry is reachable; offline: docker save "
            f"{image_name} | ssh {pool.get(host).host.address} docker load"
        )
    elif image.arch != daemon.arch:
        ok, value, hint = (
            False,
            f"{image_name} is {image.arch}, the builder {daemon.arch}",
            (f"pull its {daemon.arch} variant"),
        )
    else:
        ok, value, hint = True, f"{image_name} {image.id[7:19]} ({image.arch})", None
    yield Fact(host=host, step="check", name="image", ok=ok, value=value, hint=hint)
    yield HostDone(
        host=host,
        step="done",
        ok=ok,
        summary="builder ready" if ok else "builder not ready",
        exit_code=0 if ok else 4,
    )
