"""`workbench plan`: what deploy would change on each host, as diffs. Writes nothing."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import AsyncIterator

from workbench import render
from workbench.artifacts.elf import ArtifactInfo
from workbench.engine import hostinfo, preflight
from workbench.engine.deploy import tender_sha
from workbench.engine.release import TenderSource, release_id
from workbench.errors import WorkbenchError
from workbench.events import Event, FileDiff, HostDone, StepFinished, failure
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import Pool


async def plan(
    pool: Pool,
    loaded: LoadedProfile,
    host: str,
    artifact: ArtifactInfo,
    tender: TenderSource | None,
) -> AsyncIterator[Event]:
    p = loaded.profile
    try:
        conn = pool.get(host)
        facts = await hostinfo.gather(conn, loaded, artifact)
        backend = preflight.backend_for(p, facts) or "ifupdown"
        wanted = [render.render_unit(p, artifact, profile_label=loaded.name)]
        wanted += render.render_network(p, backend, loaded.name)
        changes = 0
        for f in wanted:
            have = facts.files.get(f.path, "")
            if have == hashlib.sha256(f.content.encode()).hexdigest():
                yield FileDiff(
                    host=host, step="plan", path=f.path, purpose=f.purpose, status="unchanged"
                )
                continue
            changes += 1
            old = ""
            if have:
                old = (await conn.run(["cat", f.path], what=f"reading {f.path}")).stdout
            diff = "".join(
                difflib.unified_diff(
                    old.splitlines(True), f.content.splitlines(True), f"{host}:{f.path}", "wanted"
                )
            )
            yield FileDiff(
                host=host,
                step="plan",
                path=f.path,
                purpose=f.purpose,
                status="changed" if have else "new",
                diff=diff,
            )
        sha, _remote = await tender_sha(conn, tender, facts.installed_tender, p.tender_name)
        rid = release_id(artifact.sha256, sha)
        if rid in facts.releases:
            upload = f"release {rid} is already on the host"
        else:
            upload = f"would upload release {rid} ({artifact.size / 1024:.0f} KiB + tender)"
            changes += 1
        yield StepFinished(
            host=host, step="upload", changed=rid not in facts.releases, detail=upload
        )
        switch = facts.current_release != rid
        changes += switch
        yield StepFinished(
            host=host,
            step="switch",
            changed=switch,
            detail=f"current {facts.current_release or 'none'} -> {rid}"
            if switch
            else f"current is {rid}",
        )
        restart = bool(changes) or facts.unit_active != "active"
        yield StepFinished(
            host=host,
            step="restart",
            changed=restart,
            detail=f"would restart {p.unit_name}" if restart else "no restart needed",
        )
        yield HostDone(
            host=host,
            step="done",
            ok=True,
            changed=bool(changes),
            release=rid,
            summary=f"{changes} change(s) to apply" if changes else "nothing to change",
        )
    except WorkbenchError as exc:
        for event in failure(host, "plan", exc):
            yield event
