"""`workbench ps` from what the host printed: each owner record with its unit's state; a block
that is not one is skipped, never trusted."""

from __future__ import annotations

import json

from tests.unit.test_decide import LOADED
from workbench import owners
from workbench.engine.ps import parse_ps

RECORD = owners.render_record(LOADED).content.strip()


def block(unit: str, record: str, release_dir: str = "/var/lib/workbench/hello") -> str:
    return "\n".join(
        [
            f"== {unit}",
            f"Record={record}",
            "ActiveState=active",
            "SubState=running",
            "NRestarts=2",
            "UnitFileState=enabled",
            "ExecMainStartTimestampMonotonic=5000000",
            "MemoryCurrent=[not set]",
            "RSS=11264",
            "Now=65.5",
            f"ReleaseDir={release_dir}",
            "Current=releases/abc123",
            "Tender=solo5-spt",
        ]
    )


def test_a_record_and_its_unit_make_a_row():
    ((owner, fields),) = parse_ps(block("unikernel-hello.service", RECORD))
    assert owner == owners.owner_of(LOADED)
    assert fields == {
        "profile": "lab",
        "unit": "unikernel-hello.service",
        "state": "active/running",
        "enabled": "enabled",
        "release": "abc123",
        "runtime": "spt",
        "uptime_s": 60.5,
        "restarts": 2,
        "memory_kib": 11264,
        "taps": ["tap100"],
        "addresses": ["10.0.0.2"],
    }


def test_what_is_not_a_record_of_that_unit_is_skipped():
    other = json.dumps({**json.loads(RECORD), "unit": "unikernel-x.service"})
    text = "\n".join(
        [
            block("unikernel-hello.service", "\x1b]0;PWNED\x07"),
            block("unikernel-hello.service", other),  # the file name and the record disagree
            block("unikernel-x.service", other, release_dir="/elsewhere"),
        ]
    )
    rows = parse_ps(text)
    assert [o.unit for o, _ in rows] == ["unikernel-x.service"]
    assert rows[0][1]["release"] is None  # its `current` was read from another directory


def test_a_host_with_no_records_has_no_rows():
    assert parse_ps("") == [] and parse_ps("\n\n") == []


def test_a_record_cannot_add_rows_or_escapes_to_the_table():
    import io

    from workbench.commands.ps_cmd import _table
    from workbench.events import Status
    from workbench.headless import Output

    fields = {"profile": "web\nfake  row\x1b[31m", "state": "active/running", "enabled": "enabled"}
    out = io.StringIO()
    _table([Status(host="target", step="ps", unikernel="x", fields=fields)], Output(False, out))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\x1b" not in out.getvalue(), lines


def test_the_runtime_is_read_from_the_release_s_tender_and_nothing_else():
    text = block("unikernel-hello.service", RECORD).replace("solo5-spt", "solo5-evil\x1b[2J")
    assert parse_ps(text)[0][1]["runtime"] is None
    # A record whose release dir is not the one read: neither its release nor its tender.
    other = block("unikernel-hello.service", RECORD, release_dir="/elsewhere")
    assert parse_ps(other)[0][1]["runtime"] is None
