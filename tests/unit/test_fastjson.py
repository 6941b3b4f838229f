"""The log path's JSON (workbench/fastjson.py) says what the standard library says: the same
values read, ASCII-only lines written with every control escaped, nothing lost to orjson's
stricter reading."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from workbench import fastjson

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(values)
def test_a_dumped_line_reads_back_and_is_printable_ascii(value):
    line = fastjson.dumps(value)
    assert json.loads(line) == value
    assert all(0x20 <= ord(c) < 0x7F for c in line), line


@given(values)
def test_reading_agrees_with_the_standard_library(value):
    text = json.dumps(value)
    assert fastjson.loads(text) == json.loads(text)


def test_what_orjson_refuses_is_still_read():
    # journald may escape a lone surrogate; a counter may pass 64 bits: json reads both.
    for text in ('{"MESSAGE": "a\\ud800b"}', '{"N": 123456789012345678901234567890}'):
        assert fastjson.loads(text) == json.loads(text)


def test_a_terminal_control_never_reaches_the_line_raw():
    line = fastjson.dumps({"text": "\x1b[2J\x9b31m\u2028é\x7f"})
    assert "\x1b" not in line and "\x9b" not in line and "\u2028" not in line
    assert "\\u001b" in line and "\\u009b" in line and "\\u007f" in line
