"""A bounded, filterable journal view that keeps up with a unikernel logging thousands of lines
a second.

Only the rows on screen are rendered (Line API), appends come in batches, and the buffer is a
ring of `capacity` rows: memory stays flat however long it runs. It follows the tail until the
user scrolls up, then holds still (also while old rows fall off the front) and counts what
arrived, until End or `f` resumes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from itertools import count
from pathlib import Path

from rich.style import Style
from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from workbench.events import LogLine
from workbench.textsafe import sanitize

LEVELS = ("debug", "info", "warning", "error")
_RANK = {name: i for i, name in enumerate(LEVELS)}
_SEQ = count()


class Row:
    __slots__ = ("hint", "host", "kind", "level", "origin", "seq", "source", "text")

    def __init__(self, event: LogLine) -> None:
        self.seq = next(_SEQ)
        self.host = event.host
        self.kind = event.kind
        self.level = event.level
        self.source = event.source
        self.origin = event.origin
        self.text = sanitize(event.text)  # remote text: no terminal control sequences
        self.hint = event.hint


class LogView(ScrollView, can_focus=True):
    """Journal rows of one or more hosts. The screen owns the keys; this owns the rows."""

    COMPONENT_CLASSES = {
        "logview--debug",
        "logview--warning",
        "logview--error",
        "logview--banner",
        "logview--memory",
        "logview--systemd",
        "logview--host",
        "logview--match",
    }
    DEFAULT_CSS = """
    LogView { background: $surface; scrollbar-gutter: stable; }
    LogView > .logview--debug { color: $text-muted; }
    LogView > .logview--warning { color: $text-warning; }
    LogView > .logview--error { color: $text-error; text-style: bold; }
    LogView > .logview--banner { color: $text-accent; text-style: bold; }
    LogView > .logview--memory { color: $text-secondary; }
    LogView > .logview--systemd { color: $text-muted; text-style: italic; }
    LogView > .logview--host { color: $text-primary; }
    LogView > .logview--match { background: $warning-muted; text-style: bold; }
    """

    class FollowChanged(Message):
        """Following started or stopped, or rows arrived while paused."""

        def __init__(self, following: bool, unseen: int) -> None:
            super().__init__()
            self.following = following
            self.unseen = unseen

    def __init__(self, capacity: int = 10_000, *, show_host: bool = False, **kwargs: object):
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.capacity = capacity
        self.show_host = show_host
        self.rows: deque[Row] = deque(maxlen=capacity)  # everything kept
        self.view: deque[Row] = deque(maxlen=capacity)  # what passes the filters
        self.min_level = "debug"
        self.source: str | None = None
        self.host: str | None = None
        self.search_text = ""
        self.following = True
        self.unseen = 0
        self.total = 0  # rows ever appended (the ring forgets, this does not)
        self._width = 0
        self._cache: LRUCache[int, Strip] = LRUCache(1024)

    # -- content -------------------------------------------------------------------------------

    def append(self, events: Iterable[LogLine]) -> None:
        before = len(self.view)
        added = 0
        for event in events:
            row = Row(event)
            self.rows.append(row)
            self.total += 1
            if self._passes(row):
                self.view.append(row)
                added += 1
                self._width = max(self._width, len(row.text) + len(row.host) + 3)
        if not added:
            return
        dropped = max(0, before + added - self.capacity)
        self._resize()
        if self.following:
            self._to_end()
        else:
            # Hold the rows the user is reading still while older ones leave the ring.
            if dropped:
                self._set_y(self.scroll_y - dropped)
            self.unseen += added
            self.post_message(self.FollowChanged(False, self.unseen))
        self.refresh()

    def clear(self) -> None:
        self.rows.clear()
        self.view.clear()
        self._cache.clear()
        self.unseen = 0
        self._resize()
        self.refresh()

    def sources(self) -> list[str]:
        return sorted({r.source for r in self.rows if r.source})

    def hosts(self) -> list[str]:
        return sorted({r.host for r in self.rows})

    def set_filter(
        self, *, min_level: str | None = None, source: str | None = "", host: str | None = ""
    ) -> None:
        """Change the filters ("" leaves source/host as they are; None clears them)."""
        if min_level is not None:
            self.min_level = min_level
        if source != "":
            self.source = source
        if host != "":
            self.host = host
        self.view = deque((r for r in self.rows if self._passes(r)), maxlen=self.capacity)
        self._cache.clear()
        self._resize()
        if self.following:
            self._to_end()
        self.refresh()

    def _passes(self, row: Row) -> bool:
        if _RANK.get(row.level, 1) < _RANK[self.min_level]:
            return False
        if self.source is not None and row.source != self.source:
            return False
        return self.host is None or row.host == self.host

    def on_resize(self) -> None:
        # Rows can arrive before the first layout; the tail is where a follower belongs.
        if self.following:
            self._to_end()

    def _to_end(self) -> None:
        self._set_y(self.max_scroll_y)

    def _set_y(self, y: float) -> None:
        # Set directly: scroll_to/scroll_end right after a virtual_size change can be dropped.
        self.scroll_target_y = self.scroll_y = max(0, min(y, self.max_scroll_y))

    def _resize(self) -> None:
        self.virtual_size = Size(self._width, len(self.view))

    # -- following -----------------------------------------------------------------------------

    def follow(self) -> None:
        self.following = True
        self.unseen = 0
        self._to_end()
        self.post_message(self.FollowChanged(True, 0))

    def pause(self) -> None:
        if self.following:
            self.following = False
            self.post_message(self.FollowChanged(False, self.unseen))

    def _after_user_scroll(self) -> None:
        if self.scroll_y >= self.max_scroll_y:
            if not self.following:
                self.follow()
        else:
            self.pause()

    def _scroll_by(self, rows: int) -> None:
        self._set_y(self.scroll_y + rows)
        self._after_user_scroll()

    def action_scroll_up(self) -> None:
        self._scroll_by(-1)

    def action_scroll_down(self) -> None:
        self._scroll_by(1)

    def action_page_up(self) -> None:
        self._scroll_by(-max(1, self.scrollable_content_region.height - 1))

    def action_page_down(self) -> None:
        self._scroll_by(max(1, self.scrollable_content_region.height - 1))

    def action_scroll_home(self) -> None:
        self._set_y(0)
        self._after_user_scroll()

    def action_scroll_end(self) -> None:
        self.follow()

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self._scroll_by(-3)

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self._scroll_by(3)

    # -- search --------------------------------------------------------------------------------

    def search(self, text: str, *, backwards: bool = False, from_current: bool = False) -> bool:
        """Highlight `text` and jump to its next (previous) match; False when there is none."""
        self.search_text = text
        self._cache.clear()
        self.refresh()
        if not text:
            return False
        needle = text.lower()
        top = int(self.scroll_y)
        n = len(self.view)
        first = top if from_current else top + 1
        order = range(top - 1, -1, -1) if backwards else range(first, n)
        for i in order:
            if needle in self.view[i].text.lower():
                self.pause()
                self._set_y(i)
                return True
        return False

    # -- saving --------------------------------------------------------------------------------

    def save(self, path: Path) -> int:
        """Write every row in the buffer (not only the filtered ones) to a new file; returns the
        count. Exclusive creation: an existing file, or a symlink planted at the name, is never
        followed or overwritten (FileExistsError)."""
        with path.open("x", encoding="utf-8") as out:
            for row in self.rows:
                out.write(f"{row.host} | {row.text}\n")
        return len(self.rows)

    # -- rendering -----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        style = self.rich_style
        if index >= len(self.view):
            return Strip.blank(width, style)
        row = self.view[index]
        strip = self._cache.get(row.seq)
        if strip is None:
            strip = self._render_row(row, style)
            self._cache[row.seq] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, style)

    def _render_row(self, row: Row, base: Style) -> Strip:
        text = Text(no_wrap=True, end="")
        if self.show_host:
            text.append(f"{row.host} ", self.get_component_rich_style("logview--host"))
        text.append(row.text, self._style_for(row))
        if self.search_text:
            start = len(text.plain) - len(row.text)
            match = self.get_component_rich_style("logview--match")
            lower, needle = row.text.lower(), self.search_text.lower()
            at = lower.find(needle)
            while at >= 0:
                text.stylize(match, start + at, start + at + len(needle))
                at = lower.find(needle, at + len(needle))
        return Strip(list(text.render(self.app.console)), text.cell_len).apply_style(base)

    def _style_for(self, row: Row) -> Style:
        if row.level == "error":
            name = "logview--error"
        elif row.kind == "banner":
            name = "logview--banner"
        elif row.kind in ("memory_map", "memory_region"):
            name = "logview--memory"
        elif row.origin == "systemd":
            name = "logview--systemd"
        elif row.level == "warning":
            name = "logview--warning"
        elif row.level == "debug":
            name = "logview--debug"
        else:
            return Style()
        return self.get_component_rich_style(name)
