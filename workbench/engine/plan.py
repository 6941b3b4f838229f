"""`workbench plan`: the decision deploy would execute on each host, with its reasons and the
file diffs. The same `decide()` as deploy, on the same facts; writes nothing."""

from __future__ import annotations

import difflib
from collections.abc import AsyncIterator

from workbench.artifacts.elf import ArtifactInfo
from workbench.engine import hostinfo
from workbench.engine.decide import STEPS, Decision, decide, sha256_text
from workbench.engine.release import TenderSource
from workbench.errors import WorkbenchError
from workbench.events import Event, Fact, FileDiff, HostDone, StepFinished, failure
from workbench.profiles.loader import LoadedProfile
from workbench.remote import files
from workbench.remote.connection import HostConnection, Pool
from workbench.remote.facts import HostFacts


async def plan(
    pool: Pool,
    loaded: LoadedProfile,
    host: str,
    artifact: ArtifactInfo,
    tender: TenderSource | None,
    *,
    force_restart: bool = False,
) -> AsyncIterator[Event]:
    try:
        conn = pool.get(host)
        facts = await hostinfo.gather(
            conn, loaded, artifact, tender_sha=tender.sha256 if tender else ""
        )
        decision = decide(loaded, artifact, tender, facts, force_restart=force_restart, host=host)
        if decision.refusal is not None:
            for check in decision.checks:
                if check.ok is False:
                    yield Fact(
                        host=host, step="preflight", name=check.name, value=check.value, ok=False
                    )
            for end in failure(host, "preflight", decision.refusal):
                yield end
            return
        async for diff in _diffs(conn, host, facts, decision):
            yield diff
        for event in decision_events(host, decision):
            yield event
    except WorkbenchError as exc:
        for end in failure(host, "plan", exc):
            yield end


def decision_events(host: str, decision: Decision) -> list[Event]:
    """The decision as plan prints it: its notes, every step with its change or "no change",
    and the count."""
    events: list[Event] = [
        Fact(host=host, step="plan", name="note", value=note) for note in decision.notes
    ]
    for step in STEPS:
        if step == "block" and not decision.has_blocks:
            continue  # a unikernel without block devices has no such step
        change = decision.change(step)
        events.append(
            StepFinished(
                host=host,
                step=step,
                changed=change is not None,
                detail=f"would {change.what}: {change.why}" if change else "no change",
            )
        )
    n = len(decision.changes)
    events.append(
        HostDone(
            host=host,
            step="done",
            ok=True,
            changed=bool(n),
            release=decision.release,
            summary=f"{n} change(s) to apply" if n else "nothing to change",
        )
    )
    return events


async def _diffs(
    conn: HostConnection, host: str, facts: HostFacts, decision: Decision
) -> AsyncIterator[FileDiff]:
    assert decision.unit is not None and decision.owner is not None
    for f in (decision.unit, *decision.network_files, decision.owner):
        have = facts.files.get(f.path, "")
        if have == sha256_text(f.content):
            yield FileDiff(
                host=host, step="plan", path=f.path, purpose=f.purpose, status="unchanged"
            )
            continue
        old = await files.read_text(conn, f.path) if have else ""
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
