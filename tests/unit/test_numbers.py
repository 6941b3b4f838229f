"""to_int's fast path (plain ASCII digits, what journal fields are) answers as the careful one."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from workbench.numbers import to_int

_INT = re.compile(r"-?[0-9]{1,19}")


def careful(value: str) -> int | None:
    """to_int on a string before the fast path existed."""
    if not _INT.fullmatch(value.strip()):
        return None
    number = int(value.strip())
    return number if 0 <= number < 1 << 63 else None


@given(st.text() | st.from_regex(r"\A[0-9]{1,25}\Z") | st.from_regex(r"\A ?-?[0-9]{1,20} ?\Z"))
def test_any_string_reads_as_before(value):
    assert to_int(value) == careful(value)


def test_the_edges():
    assert to_int("0") == 0 and to_int("123") == 123
    assert to_int("9" * 18) == int("9" * 18)
    assert to_int("9223372036854775807") == (1 << 63) - 1  # 19 digits: the careful path
    assert to_int("9223372036854775808") is None
    assert to_int("²") is None and to_int("") is None and to_int("-1") is None
