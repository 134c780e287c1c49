"""The dashboard's small questions to a person: a line of text, yes or no, which project."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from czar.core.shown import visible
from czar.supervisor.lock import said_pid
from czar.supervisor.projects import ProjectEntry

_CSS = """
{name} {{
    align: center middle;
}}
{name} > Vertical {{
    width: 80;
    height: auto;
    max-height: 80%;
    border: thick $accent;
    background: $surface;
    padding: 1 2;
}}
"""


class AskLine(ModalScreen[str | None]):
    """One line of text (enter sends it; escape, or an empty line, sends nothing)."""

    DEFAULT_CSS = _CSS.format(name="AskLine")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "never mind")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(visible(self.question)))
            yield Input(id="line")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)


class Confirm(ModalScreen[bool]):
    """Yes or no: y goes ahead, n or escape does not."""

    DEFAULT_CSS = _CSS.format(name="Confirm")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "dismiss(True)", "yes"),
        Binding("n", "dismiss(False)", "no"),
        Binding("escape", "dismiss(False)", "no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(visible(f"{self.question} (y/n)")))


class ChooseProject(ModalScreen[str | None]):
    """The projects under $CZAR_HOME, one to switch to (escape: stay)."""

    DEFAULT_CSS = _CSS.format(name="ChooseProject")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "stay")]

    def __init__(self, projects: list[ProjectEntry], current: str) -> None:
        super().__init__()
        self.projects = projects
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("switch to project:")
            yield OptionList(*(Option(_described(p, self.current), id=p.name) for p in self.projects))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


def _described(p: ProjectEntry, current: str) -> Text:
    running = f"running ({said_pid(p.pid)})" if p.running else "stopped"
    states = p.problem or ", ".join(f"{n} {s}" for s, n in p.counts.items()) or "no tasks"
    here = " (shown now)" if p.name == current else ""
    return Text(f"{p.name}{here}: {running}; {states}")
