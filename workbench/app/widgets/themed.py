"""Theme colours for text built in code (table cells), so a theme change recolours them too.
Remote text always goes in as `Text`, never as markup a host could inject into."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from rich.style import Style
from rich.text import Text
from textual.app import App
from textual.color import Color
from textual.widget import Widget

from workbench.textsafe import sanitize, sanitize_lines

# app -> {(theme, variable): colour}. get_css_variables() generates the theme's whole colour
# system on every call: the logs screen's status line asked for it on every batch of lines, a
# third of its time under a flood. Keyed by the Theme object itself, so a theme change (or one
# registered again under the same name) is a new key.
_COLOURS: WeakKeyDictionary[App[object], dict[tuple[int, str], str | None]] = WeakKeyDictionary()


def colour(widget: Widget, variable: str) -> str | None:
    """A theme variable as a hex colour; "auto 60%" and "#rrggbb 50%" blended onto the
    background, as the CSS would show them."""
    app = widget.app
    theme = app.current_theme
    known = _COLOURS.setdefault(app, {})
    key = (id(theme), variable)
    if key not in known:
        if len(known) > 512:  # themes come and go: a bound, never a leak
            known.clear()
        known[key] = _colour(app.get_css_variables(), variable)
    return known[key]


def _colour(variables: dict[str, str], variable: str) -> str | None:
    value = variables.get(variable)
    if not value:
        return None
    spec, _, pct = value.partition(" ")
    alpha = float(pct.rstrip("%")) / 100 if pct else 1.0
    background = Color.parse(variables.get("background", "#000000"))
    base = (
        Color.parse(variables.get("foreground", "#ffffff")) if spec == "auto" else Color.parse(spec)
    )
    return background.blend(base, alpha).hex if alpha < 1 else base.hex


def style(widget: Widget, variable: str, *, bold: bool = False) -> Style:
    return Style(color=colour(widget, variable), bold=bold)


def text(widget: Widget, value: object, variable: str | None = None, *, bold: bool = False) -> Text:
    plain = sanitize("-" if value is None else str(value))
    if variable is None:
        return Text(plain, style=Style(bold=bold))
    return Text(plain, style=style(widget, variable, bold=bold))


class SafeText(Text):
    """Rich Text for panes that mix our words with text that is not ours (hosts, unikernels,
    profiles): every string appended is cleaned of terminal controls, line by line, so the
    pane's own line breaks stay. Rich Text is never parsed as markup."""

    def append(self, text: str | Text, style: str | Style | None = None) -> SafeText:
        if isinstance(text, str):
            text = sanitize_lines(text)
        super().append(text, style)
        return self
