"""The terminal port: named windows that run czar's processes (the supervisor, a worker host
each) and keep their last screen after they exit.

``czar.runtime.tmux.TmuxHost`` is tmux; ``czar.testing.FakeTerminal`` keeps its semantics in
memory (a window runs until it is killed or its process is said to have exited), so that the
supervisor's care for its hosts is tested without starting any. A contract test holds the two to
the same answers (``tests/integration/test_terminal_contract.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol


class Terminal(Protocol):
    def alive(self) -> bool:
        """The terminal's server runs and holds the project's session."""
        ...

    def start_window(self, name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> None:
        """Run ``argv`` in window ``name``, replacing a window of that name, dead or alive."""
        ...

    def live_windows(self) -> set[str]:
        """The windows whose process still runs."""
        ...

    def window_alive(self, name: str) -> bool: ...

    def windows(self) -> list[str]:
        """Every window, the dead ones (which keep their last screen) too."""
        ...

    def capture(self, name: str, lines: int = 50) -> str:
        """The last ``lines`` of the window's screen ("" if there is no such window)."""
        ...

    def kill_window(self, name: str) -> None: ...

    def kill_server(self) -> None: ...

    def attach_argv(self, name: str | None) -> list[str]:
        """The command a person runs to see the window (or the session)."""
        ...
