"""Modal dialogs: a yes/no confirmation before anything that restarts a unikernel, and the
help screen listing every screen's keys (read from the screens, so it cannot drift)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

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
        out.append("workbench keys\n\n", style="bold")
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
