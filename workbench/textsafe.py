"""Make untrusted text (journal lines, build output, remote errors) safe for a terminal.

A unikernel or a build can print anything, including escape sequences that move the cursor,
retitle the terminal or hide text. Nothing that came from a remote host reaches a terminal or a
widget without passing through `sanitize`.
"""

from __future__ import annotations

import re

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-byte ESC sequences, and the 8-bit
# C1 forms of CSI/OSC.
_ESCAPES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]            # CSI
  | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)? # OSC, terminated by BEL or ST (or cut off)
  | \x1b[PX^_][^\x1b]*(?:\x1b\\)?      # DCS, SOS, PM, APC strings
  | \x1b[@-Z\\-_]                      # other Fe escapes
  | \x9b[0-?]*[ -/]*[@-~]              # 8-bit CSI
  | \x9d[^\x07\x9c]*(?:\x07|\x9c)?     # 8-bit OSC
    """,
    re.VERBOSE,
)
# Remaining C0/C1 controls except TAB. A lone ESC that did not start a sequence goes too.
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def sanitize(text: str) -> str:
    """Remove terminal escape sequences and control characters; keep TAB and printable text.

    Control characters that are not part of a sequence are shown as `\\xNN` so that a user can
    still see that something odd was printed.
    """
    if text.isprintable():
        return text
    text = _ESCAPES.sub("", text)
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def sanitize_lines(text: str) -> str:
    """`sanitize` for text whose line breaks are meant: each line cleaned, the breaks kept."""
    return "\n".join(sanitize(line) for line in text.split("\n"))
