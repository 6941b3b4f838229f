"""Captured real Solo5 v0.12.1 outputs (tests/data/solo5-v0.12.1-outputs.md), as test data.

Each capture is a fenced block: `$ command`, the merged stdout/stderr, then `[exit code: N]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REFERENCE = Path(__file__).parent / "data" / "solo5-v0.12.1-outputs.md"


@dataclass(frozen=True)
class Capture:
    command: str
    lines: tuple[str, ...]
    exit_code: int


def captures() -> list[Capture]:
    text = REFERENCE.read_text()
    out: list[Capture] = []
    for block in re.findall(r"```\n(.*?)```", text, flags=re.S):
        lines = block.rstrip("\n").split("\n")
        if not lines or not lines[0].startswith("$ "):
            continue
        match = re.fullmatch(r"\[exit code: (\d+)\]", lines[-1])
        if not match:
            continue
        out.append(Capture(lines[0][2:], tuple(lines[1:-1]), int(match.group(1))))
    return out


def elftool_json(command: str) -> str:
    """The JSON printed by one `solo5-elftool query-*` capture."""
    for cap in captures():
        if cap.command == command:
            return "\n".join(cap.lines)
    raise KeyError(command)


# The real solo5-hvt's last words under systemd's LockPersonality=yes, then SIGABRT (measured,
# section 13; tests/unit/test_bootlog.py checks that the reference says so).
LOCK_PERSONALITY_ASSERTION = (
    "solo5-hvt: hvt/hvt_kvm.c:131: hvt_drop_privileges: Assertion `persona >= 0' failed."
)
