"""Modal dialogs: a yes/no confirmation before anything that restarts a unikernel, the help
screen listing every screen's keys (read from the screens, so it cannot drift), and a picker."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from workbench.app.widgets import themed


class ConfirmScreen(ModalScreen[bool]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, question: str, detail: str = "", yes: str = "Yes") -> None:
        super().__init__()
        self.question, self.detail, self.yes = question, detail, yes

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(themed.SafeText().append(self.question), id="question")
            if self.detail:
                yield Static(themed.SafeText().append(self.detail), id="detail")
            with Horizontal(id="buttons"):
                yield Button(f"{self.yes} (y)", variant="warning", id="yes")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the safe answer is the default

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        out = themed.SafeText()
        out.append("workbench keys", style="bold")
        out.append("   (Esc, q or ? closes this)\n\n", style="dim")
        for title, keys in self.sections:
            out.append(f"{title}\n", style="bold underline")
            for key, description in keys:
                out.append(f"  {key:<14}", style="bold")
                out.append(f"{description}\n")
            out.append("\n")
        out.append("Ctrl+P opens the command palette: every action on every host, by name.")
        with VerticalScroll(id="help"):
            yield Static(out)

    def action_close(self) -> None:
        self.dismiss(None)


class PickerScreen(ModalScreen[str | None]):
    """Pick one of a list (the logs' filters: level, source, host, and a reset) with the arrows
    or j/k and Enter; escape leaves everything as it was."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, title: str, options: list[tuple[str, str]], current: str = "") -> None:
        super().__init__()
        self.title_text, self.options, self.current = title, options, current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(themed.SafeText().append(self.title_text), id="question")
            yield OptionList(
                *(Option(themed.SafeText().append(label), id=key) for key, label in self.options),
                id="options",
            )
            yield Static("Enter picks, Esc closes", id="detail")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        keys = [key for key, _ in self.options]
        if self.current in keys:
            options.highlighted = keys.index(self.current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_close(self) -> None:
        self.dismiss(None)
