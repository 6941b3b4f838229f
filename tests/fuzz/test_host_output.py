"""Parsers of what a host sends back (journal entries, facts, status, tender --version) and of
what a unikernel prints (bootlog): whatever the bytes, a value or the project's own error, never
another exception. Each named case is one that crashed before."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.artifacts.tender import parse_tender_version
from workbench.bootlog import classify
from workbench.engine.status import parse_status
from workbench.errors import WorkbenchError
from workbench.numbers import to_float, to_int
from workbench.remote.facts import parse_facts
from workbench.remote.journal import parse_entry
from workbench.runwatch import RunWatch

HUGE = "9" * 5000
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
# Text with what a hostile host likes: digits (also Unicode ones), '=', newlines, escapes.
hostile = st.text(
    st.sampled_from(list("0123456789²٣=:/.-_ \n\t\x1b[]{}\"'abcXYZ")) | st.characters(),
    max_size=200,
)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "__CURSOR",
                "MESSAGE",
                "PRIORITY",
                "_PID",
                "__REALTIME_TIMESTAMP",
                "__MONOTONIC_TIMESTAMP",
                "SYSLOG_IDENTIFIER",
                "EXIT_STATUS",
            ]
        ),
        json_values,
    )
)
def test_journal_entries_of_any_shape(data):
    entry = parse_entry(json.dumps(data))
    if entry is not None:
        assert isinstance(entry.cursor, str) and isinstance(entry.message, str)
        assert 0 <= entry.priority <= 7


@pytest.mark.parametrize(
    "data",
    [
        {"__CURSOR": "c", "PRIORITY": [1]},
        {"__CURSOR": "c", "__MONOTONIC_TIMESTAMP": HUGE},
        {"__CURSOR": "c", "__REALTIME_TIMESTAMP": "²"},
        {"__CURSOR": {"x": 1}},
        {"__CURSOR": "c", "EXIT_STATUS": HUGE},
    ],
)
def test_journal_entries_that_crashed(data):
    entry = parse_entry(json.dumps(data))
    assert entry is None or entry.monotonic_us == 0


@given(hostile)
def test_facts_of_any_text(text):
    parse_facts(text)


@given(
    hostile,
    st.sampled_from(
        [
            "NRestarts",
            "Now",
            "MemoryCurrent",
            "RSS",
            "ExecMainStartTimestampMonotonic",
            "ExecMainStatus",
            "Release",
            "LastBoot",
        ]
    ),
)
def test_status_of_any_value(value, key):
    base = "ActiveState=activating\nSubState=auto-restart\nExecMainCode=2\n"
    fields = parse_status(f"{base}{key}={value}\nRun {value}\nSys {value}\n")
    for v in fields.values():
        assert not isinstance(v, str) or "\x1b" not in v


def test_status_values_that_crashed():
    text = (
        "ActiveState=active\nSubState=running\nNRestarts=²\nNow=1e999\n"
        f"ExecMainStartTimestampMonotonic={HUGE}\nMemoryCurrent={HUGE}\n"
        'Current=releases/\x1b]0;owned\x07x\nRelease={"created": "\\u001b[2J", "artifact": []}\n'
    )
    fields = parse_status(text)
    assert fields["restarts"] is None and "memory_kib" not in fields
    assert fields["release"] == "x" and fields["release_created"] == ""  # sequences removed


@given(hostile)
def test_tender_version_of_any_output(text):
    with contextlib.suppress(WorkbenchError):
        parse_tender_version(text)


def test_tender_version_with_huge_numbers_is_an_artifact_error():
    with pytest.raises(WorkbenchError):
        parse_tender_version(f"solo5-hvt tender, version v{HUGE}.0.0\nABI version {HUGE}\n")


@given(hostile)
def test_bootlog_of_any_line(line):
    parsed = classify(line)
    run = RunWatch()
    run.feed(parsed)
    run.feed_systemd(line)


@given(json_values)
def test_numbers_from_anything(value):
    n = to_int(value)
    assert n is None or (isinstance(n, int) and 0 <= n < 1 << 63)
    f = to_float(value)
    assert f is None or f == f
