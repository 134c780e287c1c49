"""Windows in memory, for ``czar.core.terminal.Terminal``.

As in tmux: a window runs until it is killed or its process exits; a window whose process
exited stays, dead, with its last screen (``remain-on-exit``); starting a window replaces one of
the same name, dead or alive; killing the server ends every window. Nothing runs: a test says
when a window's process prints (``show``) or exits (``exit``), and reads what was started
(``started``). ``tests/integration/test_terminal_contract.py`` holds it to tmux.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from czar.errors import RuntimeHostError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Window:
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    alive: bool = True
    screen: list[str] = field(default_factory=list)


class FakeTerminal:
    def __init__(self, session: str = "czar") -> None:
        self.session = session
        self.open: dict[str, Window] = {}
        self.started: list[str] = []  # every window started, in order
        self.up = False

    # -- what a test makes happen ------------------------------------------------------------

    def show(self, name: str, text: str) -> None:
        """The window's process prints ``text``."""
        self.open[name].screen.extend(text.splitlines())

    def exit(self, name: str, text: str = "") -> None:
        """The window's process prints ``text`` and exits; the window stays, dead."""
        if text:
            self.show(name, text)
        self.open[name].alive = False

    # -- the port ----------------------------------------------------------------------------

    def alive(self) -> bool:
        return self.up

    def start_window(self, name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> None:
        bad = [k for k in env if not _NAME.fullmatch(k)]
        if bad:
            raise RuntimeHostError(f"not an environment variable name: {bad[0]!r}")
        self.up = True
        self.open[name] = Window(tuple(argv), dict(env), cwd)
        self.started.append(name)

    def live_windows(self) -> set[str]:
        return {name for name, w in self.open.items() if w.alive}

    def window_alive(self, name: str) -> bool:
        return name in self.live_windows()

    def windows(self) -> list[str]:
        return list(self.open)

    def capture(self, name: str, lines: int = 50) -> str:
        window = self.open.get(name)
        return "\n".join(window.screen[-lines:]) if window is not None else ""

    def kill_window(self, name: str) -> None:
        self.open.pop(name, None)

    def kill_server(self) -> None:
        self.open.clear()
        self.up = False

    def attach_argv(self, name: str | None) -> list[str]:
        target = self.session if name is None else f"{self.session}:{name}"
        return ["tmux", "attach-session", "-t", target]


if TYPE_CHECKING:  # mypy proves it fills the port
    from czar.core.terminal import Terminal

    _port: Terminal = FakeTerminal()
