"""The footer every screen shows: `? Help` and `q Quit` first, so a narrow terminal (a Pi's
80 columns) cuts a screen's less common keys, never the way to help or out."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

FIRST = ("help", "quit")


class KeysFooter(Footer):
    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        first = [k for k in keys if isinstance(k, FooterKey) and k.action in FIRST]
        yield from first
        yield from (k for k in keys if k not in first)
