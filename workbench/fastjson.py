"""JSON on the log path (20,000 journal lines a second): orjson where it gives the same result
as the standard library, the standard library where it would not.

- `loads`: orjson refuses what journald may send and `json` takes (a lone surrogate escape),
  so a refusal is tried again with `json`: no entry is lost. orjson also reads an integer
  beyond 64 bits as a float: a result holding a float is read again with `json` (journald
  writes its values as strings, so that is rare and only slower).
- `dumps`: the line must stay ASCII with every control escaped (what `json.dumps` prints, and
  what keeps a host's text from reaching a terminal as anything but text); orjson's output is
  used when it is all printable ASCII, else `json.dumps` makes the line.
"""

from __future__ import annotations

import json
import re

import orjson

# Bytes orjson leaves unescaped that json.dumps (ensure_ascii) would: DEL and all non-ASCII.
_NOT_PLAIN = re.compile(rb"[\x7f-\xff]")


def loads(text: str) -> object:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)  # raises ValueError (or RecursionError) as it always did
    return json.loads(text) if _has_float(value) else value


def _has_float(value: object) -> bool:
    """Whether a float is in it (a journal entry: a flat dict, a list of bytes at most)."""
    kind = type(value)
    if kind is dict:  # loops, not any(): this runs for every journal line
        for v in value.values():  # type: ignore[attr-defined]  # noqa: SIM110
            if type(v) is not str and _has_float(v):
                return True
        return False
    if kind is list:
        for v in value:  # type: ignore[attr-defined]  # noqa: SIM110
            if type(v) is not int and _has_float(v):
                return True
        return False
    return kind is float


def dumps(obj: object) -> str:
    """One JSON line, compact (orjson's separators, which the fallback uses too)."""
    try:
        raw = orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError: a big int, a type only json takes
        return json.dumps(obj, separators=_COMPACT)
    if _NOT_PLAIN.search(raw):
        return json.dumps(obj, separators=_COMPACT)
    return raw.decode("ascii")


_COMPACT = (",", ":")
