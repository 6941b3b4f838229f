"""Every decision the recorded facts make, written out whole -- what each change says and why,
the refusals with their hints, the checks -- and compared with tests/golden/decisions.txt.

These are the words a user reads in `plan` and `deploy`; a change to any of them shows up
here. Regenerate after an intended change with `UPDATE_GOLDEN=1 pytest tests/unit`, then read
the diff."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from tests.unit.test_decide import LOADED, TABLE, recording
from workbench.engine.decide import Decision, decide
from workbench.engine.release import TenderSource

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "decisions.txt"


def network(**update: object):
    p = LOADED.profile
    net = p.network.model_copy(update=update)
    return dataclasses.replace(LOADED, profile=p.model_copy(update={"network": net}))


def variants():
    """(name, decision) for each recording and for the ways a host or an input differs."""
    for name in sorted(TABLE):
        r = recording(name)
        yield name, decide(LOADED, r.artifact, r.tender, r.facts)
    fresh = recording("fresh")
    legacy = recording("legacy-host-tender")
    f = fresh.facts
    yield "fresh, --restart", decide(LOADED, fresh.artifact, fresh.tender, f, force_restart=True)
    yield (
        "fresh, backend auto, no backend",
        decide(
            network(backend="auto"),
            fresh.artifact,
            fresh.tender,
            dataclasses.replace(f, networkd="inactive", ifupdown=False),
        ),
    )
    yield (
        "fresh, disk almost full",
        decide(LOADED, fresh.artifact, fresh.tender, dataclasses.replace(f, disk_free_kb=16000)),
    )
    yield (
        "fresh, aarch64 host",
        decide(LOADED, fresh.artifact, fresh.tender, dataclasses.replace(f, arch="aarch64")),
    )
    arm = dataclasses.replace(fresh.tender, machine="aarch64")
    yield "fresh, aarch64 tender", decide(LOADED, fresh.artifact, arm, f)
    yield "fresh, no tender anywhere", decide(LOADED, fresh.artifact, None, f)
    yield (
        "fresh, bridge-uplink eth9",
        decide(network(mode="bridge-uplink", uplink="eth9"), fresh.artifact, fresh.tender, f),
    )
    yield (
        "legacy, host tender unreadable",
        decide(
            LOADED,
            legacy.artifact,
            None,
            dataclasses.replace(
                legacy.facts, installed_tender_sha="", installed_tender_error="EACCES"
            ),
        ),
    )
    brought = TenderSource(Path("solo5-hvt"), "2" * 64, 800_000, "x86_64")
    yield "legacy artifact, tender brought", decide(LOADED, legacy.artifact, brought, legacy.facts)
    current = recording("deployed")
    yield (
        "deployed artifact, legacy host tender",
        decide(LOADED, current.artifact, None, legacy.facts),
    )


def text(name: str, d: Decision) -> str:
    out = [f"== {name}"]
    for field in ("release", "previous", "rollback_to", "backend", "tender_sha"):
        out.append(f"{field}: {getattr(d, field)}")
    out.append(f"tender from host: {d.tender_from_host}")
    v = d.tender_version
    out.append(f"tender version: {v and (v.name, v.text, v.abi)}")
    for c in d.checks:
        out.append(f"check {c.name}: {c.ok} | {c.value} | {c.hint}")
    if d.refusal is not None:
        e = d.refusal
        out.append(f"REFUSED ({type(e).__name__}, exit {e.exit_code}): {e.message} | {e.hint}")
    out += [f"note: {n}" for n in d.notes]
    out += [f"{c.step}: {c.what} | because {c.why}" for c in d.changes]
    if d.unit is not None:
        exec_start = next(
            line for line in d.unit.content.splitlines() if line.startswith("ExecStart=")
        )
        out.append(f"unit {d.unit.path}: {exec_start}")
    out += [f"writes {f.path}" for f in d.network_writes]
    out += [f"network file {f.path} ({f.purpose})" for f in d.network_files]
    return "\n".join(out) + "\n"


def test_every_decision_reads_as_recorded():
    got = "\n".join(text(name, d) for name, d in variants())
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(got)
    assert got == GOLDEN.read_text()
