"""Numbers read from text that is not ours (a host's command output, a journal entry, a
unikernel's line): parsed only when they are plain ASCII digits of a sane length, else None.

`str.isdigit()` is not enough: it accepts '²' and other Unicode digits that `int()` refuses, and
`int()` refuses decimal strings of more than 4,300 digits. A hostile or broken host must get a
clear error or a blank field, never a traceback.
"""

from __future__ import annotations

import math
import re

_INT = re.compile(r"-?[0-9]{1,19}")
_FLOAT = re.compile(r"-?[0-9]{1,19}(?:\.[0-9]{1,19})?")


def to_int(value: object, *, signed: bool = False) -> int | None:
    """An int from an int or a string of ASCII digits (at most 19), else None."""
    # The common case first (journal fields, 20,000 a second): plain ASCII digits, no sign.
    if type(value) is str and 0 < len(value) <= 18 and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INT.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        return None
    if number < 0 and not signed:
        return None
    return number if abs(number) < 1 << 63 else None


def to_float(value: object) -> float | None:
    """A finite float from a number or a plain decimal string (no exponent, no nan/inf)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
        number = float(value.strip())
    else:
        return None
    return number if math.isfinite(number) else None


def human_seconds(value: object) -> str:
    if not isinstance(value, int | float):
        return "-"
    s = int(value)
    for unit, size, sub, subsize in (
        ("d", 86400, "h", 3600),
        ("h", 3600, "m", 60),
        ("m", 60, "s", 1),
    ):
        if s >= size:
            return f"{s // size}{unit} {(s % size) // subsize}{sub}"
    return f"{s}s"


def human_bytes(value: object, unit: str = "B") -> str:
    """`11.4 MiB` (or `1.9 KiB/s` with unit "B/s"); "-" for anything but a number."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    size = float(value)
    for prefix in ("", "Ki", "Mi", "Gi"):
        if size < 1024 or prefix == "Gi":
            return f"{size:.0f} {unit}" if not prefix else f"{size:.1f} {prefix}{unit}"
        size /= 1024
    raise AssertionError
