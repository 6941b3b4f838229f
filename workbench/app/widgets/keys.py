"""Keys every screen shares: the footer with `? Help` and `q Quit` first (a Pi's 80 columns cut
a screen's less common keys, never the way to help or out), and j/k/g/G in tables and logs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer
from textual.widgets._footer import FooterKey

FIRST = ("help", "quit")


class KeysFooter(Footer):
    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        first = [k for k in keys if isinstance(k, FooterKey) and k.action in FIRST]
        yield from first
        yield from (k for k in keys if k not in first)


# k9s, lazydocker and less move with j/k and jump with g/G; arrows and Home/End still work.
VI_TABLE: list[BindingType] = [
    Binding("j", "cursor_down", "Down", show=False),
    Binding("k", "cursor_up", "Up", show=False),
    Binding("g", "scroll_top", "First", show=False),
    Binding("G", "scroll_bottom", "Last", show=False),
]


class KeyTable(DataTable[object]):
    BINDINGS = VI_TABLE
