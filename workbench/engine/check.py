"""`workbench check`: the preflight facts of every target (and the build host), with a fix
hint for each failure. Reads only."""

from __future__ import annotations

from collections.abc import AsyncIterator

from workbench.artifacts.elf import ArtifactInfo
from workbench.artifacts.tender import check_compatible, parse_tender_version
from workbench.engine import hostinfo, preflight
from workbench.errors import WorkbenchError
from workbench.events import Event, Fact, HostDone, StepFinished, failure
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import Pool


async def check_target(
    pool: Pool, loaded: LoadedProfile, host: str, artifact: ArtifactInfo | None = None
) -> AsyncIterator[Event]:
    p = loaded.profile
    failed = 0
    try:
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
        if tender:
            result = await conn.run(
                [tender, "--version"], check=False, sudo=False, what=f"{tender} --version"
            )
            try:
                version = parse_tender_version(result.stderr + result.stdout)
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
        else:
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
    try:
        conn = pool.get(host)
        await conn.connection()
        out = await conn.run(
            ["docker", "version", "--format", "{{.Server.Version}} {{.Server.Arch}}"],
            check=False,
            what="docker version",
        )
        ok = out.ok and bool(out.stdout.strip())
        yield Fact(
            host=host,
            step="check",
            name="docker",
            ok=ok,
            value=f"dockerd {out.stdout.strip()}"
            if ok
            else (out.stderr.strip().splitlines() or ["docker is not answering"])[-1],
            hint=None
            if ok
            else "install docker.io and start dockerd, and let the "
            "SSH user use it (root, or the docker group)",
        )
        yield HostDone(
            host=host,
            step="done",
            ok=ok,
            summary="builder ready" if ok else "builder not ready",
            exit_code=0 if ok else 4,
        )
    except WorkbenchError as exc:
        for event in failure(host, "check", exc):
            yield event
