"""`workbench ps`: every workbench-managed unikernel on some hosts, read from the hosts' owner
records, so ones deployed from another machine or profile show too."""

from __future__ import annotations

from collections.abc import AsyncIterator

from workbench import owners
from workbench.engine.status import parse_status
from workbench.errors import WorkbenchError
from workbench.events import Event, HostDone, Status, failure
from workbench.remote import inventory
from workbench.remote.connection import Pool
from workbench.textsafe import sanitize

# The tender in a release (or the host's QEMU, for a virtio kernel) -> its runtime
RUNTIME = {
    "solo5-hvt": "hvt",
    "solo5-spt": "spt",
    "qemu-system-x86_64": "virtio",
    "qemu": "qemu",  # a generic QEMU guest (runtime: qemu)
}


def parse_ps(text: str) -> list[tuple[owners.Owner, dict[str, object]]]:
    """(record, fields) per unikernel; a block whose record does not parse is skipped."""
    out = []
    for block in text.split("\n== "):
        lines = block.removeprefix("== ").splitlines()
        if not lines:
            continue
        head, body = lines[0], lines[1:]
        rec = next((line[7:] for line in body if line.startswith("Record=")), "")
        owner = owners.parse_record(rec)
        if owner is None or owner.unit != head.strip():
            continue  # not a record, or one whose name and content disagree
        raw = [line for line in body if not line.startswith("Record=")]
        rel = next((line[11:] for line in raw if line.startswith("ReleaseDir=")), "")
        if rel != owner.release_dir:
            raw = [line for line in raw if not line.startswith(("Current=", "Tender="))]
        tender = next((line[7:] for line in raw if line.startswith("Tender=")), "")
        status = parse_status("\n".join(raw))
        enabled = sanitize(
            next((line[14:] for line in raw if line.startswith("UnitFileState=")), "")
        )
        fields: dict[str, object] = {
            "profile": owner.profile,
            "unit": owner.unit,
            "state": status["unit"],
            "enabled": enabled or None,
            "release": status.get("release"),
            "runtime": RUNTIME.get(tender),
            "uptime_s": status.get("uptime_s"),
            "restarts": status.get("restarts"),
            "memory_kib": status.get("memory_kib"),
            "taps": list(owner.taps),
            "addresses": list(owner.addresses),
        }
        out.append((owner, fields))
    return out


async def ps(pool: Pool, host: str) -> AsyncIterator[Event]:
    try:
        text = await inventory.read(pool.get(host))
    except WorkbenchError as exc:
        for event in failure(host, "ps", exc):
            yield event
        return
    rows = parse_ps(text)
    for owner, fields in rows:
        yield Status(host=host, step="ps", unikernel=owner.unikernel, fields=fields)
    yield HostDone(host=host, step="done", ok=True, summary=f"{len(rows)} unikernel(s)")
