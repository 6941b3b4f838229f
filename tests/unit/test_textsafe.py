from __future__ import annotations

import pytest

from workbench.textsafe import sanitize


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("plain line", "plain line"),
        ("tab\tkept", "tab\tkept"),
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x1b]0;pwned title\x07after", "after"),
        ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("clear\x1b[2J\x1b[H", "clear"),
        ("bell\x07", "bell\\x07"),
        ("cr\rover", "cr\\x0dover"),
        ("nul\x00", "nul\\x00"),
        ("\x9b31mc1", "c1"),
        ("unicode ✓ ok", "unicode ✓ ok"),
        ("lone \x1b", "lone \\x1b"),
    ],
)
def test_sanitize(raw, safe):
    assert sanitize(raw) == safe
