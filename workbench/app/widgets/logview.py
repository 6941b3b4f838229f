"""A bounded, filterable journal view that keeps up with a unikernel logging thousands of lines
a second.

Only the rows on screen are rendered (Line API), appends come in batches, and the buffer is a
ring of `capacity` rows: memory stays flat however long it runs. It follows the tail until the
user scrolls up, then holds still (also while old rows fall off the front) and counts what
arrived, until End or `f` resumes.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from workbench.app.widgets.logrow import LEVEL_TAG, LEVELS, TAG_STYLE, Row, clock
from workbench.events import LogLine

_RANK = {name: i for i, name in enumerate(LEVELS)}


class LogView(ScrollView, can_focus=True):
    """Journal rows of one or more hosts. The screen owns the keys; this owns the rows."""

    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom (follow)", show=False),
    ]

    COMPONENT_CLASSES = {
        "logview--debug",
        "logview--warning",
        "logview--error",
        "logview--banner",
        "logview--memory",
        "logview--systemd",
        "logview--host",
        "logview--match",
        "logview--current-match",
        "logview--time",
        "logview--tag-debug",
        "logview--tag-info",
        "logview--tag-warning",
        "logview--tag-error",
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
    LogView > .logview--current-match { background: $accent; color: $text; text-style: bold; }
    LogView > .logview--time { color: $text-muted; }
    LogView > .logview--tag-debug { color: $text-muted; }
    LogView > .logview--tag-info { color: $text-success; }
    LogView > .logview--tag-warning { color: $text-warning; text-style: bold; }
    LogView > .logview--tag-error { color: $text-error; text-style: bold; }
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
        self.matches: list[int] = []  # seq of every row in the view that matches, in order
        self.match_at = -1  # which of them is the current one
        self.search_up = False  # the search started from the tail: n goes to older matches
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
                self._width = max(self._width, len(row.shown) + len(row.host) + 12)
                if self.search_text and self._matches(row):
                    self.matches.append(row.seq)
        if not added:
            return
        dropped = max(0, before + added - self.capacity)
        if dropped and self.matches:
            self._forget_dropped_matches()
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
        self.matches, self.match_at = [], -1
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
        self._find_matches(keep=True)
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

    def search(self, text: str) -> str | None:
        """Highlight every match of `text` in the view and go to one: the last one when
        following (the newest), else the first at or below the top row, wrapping to the first
        when there is none below. What to tell the user, or None when nothing matches."""
        self.search_text = text
        self._cache.clear()
        self.refresh()
        self._find_matches(keep=False)
        if not self.matches:
            return None
        self.search_up = self.following  # from the tail: n goes on upwards, as less's ?
        if self.following:
            self.match_at = len(self.matches) - 1
            return self._go("the newest match; n older, N newer")
        top = self.view[min(int(self.scroll_y), len(self.view) - 1)].seq if self.view else 0
        below = bisect_left(self.matches, top)
        if below < len(self.matches):
            self.match_at = below
            return self._go("")
        self.match_at = 0
        return self._go("none below: wrapped to the first")

    def next_match(self, backwards: bool = False) -> str | None:
        """The next match in the search's direction (`backwards`: the other way), wrapping
        around the ends and saying so."""
        if not self.matches:
            return None
        step = -1 if backwards != self.search_up else 1
        at = self.match_at + step
        said = ""
        if at >= len(self.matches):
            at, said = 0, "passed the last match: wrapped to the first"
        elif at < 0:
            at, said = len(self.matches) - 1, "passed the first match: wrapped to the last"
        self.match_at = at
        return self._go(said)

    @property
    def current_match(self) -> int | None:
        return self.matches[self.match_at] if 0 <= self.match_at < len(self.matches) else None

    def _go(self, said: str) -> str:
        seq = self.matches[self.match_at]
        index = bisect_left(self.view, seq, key=lambda r: r.seq)
        self.pause()
        height = max(1, self.scrollable_content_region.height)
        if not self.scroll_y <= index < self.scroll_y + height:
            self._set_y(index - height // 2)  # the match in the middle, context around it
        self._cache.clear()
        self.refresh()
        return said

    def _matches(self, row: Row) -> bool:
        return self.search_text.lower() in row.shown.lower()  # as shown, as highlighted

    def _find_matches(self, *, keep: bool) -> None:
        """Every matching row of the view; `keep` stays on the current one where it still is."""
        current = self.current_match if keep else None
        self.matches = [r.seq for r in self.view if self._matches(r)] if self.search_text else []
        self.match_at = -1
        if current is not None and current in self.matches:
            self.match_at = self.matches.index(current)

    def _forget_dropped_matches(self) -> None:
        first = self.view[0].seq if self.view else 1 << 62
        gone = bisect_left(self.matches, first)
        if gone:
            self.matches = self.matches[gone:]
            self.match_at = max(-1, self.match_at - gone)

    # -- saving --------------------------------------------------------------------------------

    def save(self, path: Path) -> int:
        """Write every row in the buffer (not only the filtered ones) to a new file; returns the
        count. Exclusive creation: an existing file, or a symlink planted at the name, is never
        followed or overwritten (FileExistsError)."""
        with path.open("x", encoding="utf-8") as out:
            for row in self.rows:
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(row.time))
                out.write(f"{stamp}.{int(row.time % 1 * 1e6):06d}Z {row.host} | {row.text}\n")
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
        text.append(f"{clock(row.time)} ", self.get_component_rich_style("logview--time"))
        if self.show_host:
            text.append(f"{row.host} ", self.get_component_rich_style("logview--host"))
        start = len(text.plain)
        text.append(row.shown, self._style_for(row))
        tag = LEVEL_TAG.search(row.shown, 0, 12) if row.kind == "mirage" else None
        if tag:
            level = TAG_STYLE.get(tag[1], "error")
            style = self.get_component_rich_style(f"logview--tag-{level}")
            text.stylize(style, start + tag.start(), start + tag.end())
        if self.search_text:
            current = row.seq == self.current_match
            name = "logview--current-match" if current else "logview--match"
            match = self.get_component_rich_style(name)
            lower, needle = row.shown.lower(), self.search_text.lower()
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
        elif row.level == "warning":
            name = "logview--warning"  # a failed exit stands out from routine lifecycle lines
        elif row.origin == "systemd":
            name = "logview--systemd"
        elif row.level == "debug":
            name = "logview--debug"
        else:
            return Style()
        return self.get_component_rich_style(name)
