"""One preflight verdict: a fact about the host, whether it will do, and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: information only
    value: str
    hint: str | None = None
