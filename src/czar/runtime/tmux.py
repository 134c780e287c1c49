"""Worker windows in tmux, on a dedicated socket per project (libtmux).

Windows keep their pane after the process exits (``remain-on-exit``) so a crash leaves its last
screen for a person, and ``#{pane_dead}`` tells liveness without guessing.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import libtmux
from libtmux.exc import LibTmuxException

from czar.errors import RuntimeHostError
from czar.runtime.withheld import FORGE_TOKENS

_GONE = re.compile(r"no server running|can't find session|error connecting|No such file or directory")


class TmuxHost:
    """One project's tmux server and session."""

    def __init__(self, socket_name: str, session_name: str) -> None:
        self.socket_name = socket_name
        self.session_name = session_name
        self.server = libtmux.Server(socket_name=socket_name)

    def _cmd(self, *args: str) -> list[str]:
        try:
            result = self.server.cmd(*args)
        except LibTmuxException as exc:
            raise RuntimeHostError(f"tmux {args[0]}: {exc}") from exc
        if result.stderr:
            raise RuntimeHostError(f"tmux {args[0]}: {' '.join(result.stderr)}")
        return list(result.stdout)

    def alive(self) -> bool:
        return bool(self.server.is_alive()) and bool(self.server.has_session(self.session_name))

    def start_window(self, name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> None:
        """Run ``argv`` in window ``name`` with ``env`` added to its environment, replacing a window
        of that name (dead or alive). ``env`` never reaches a command line (see ``_with_env``)."""
        command, env_file = _with_env(argv, env, cwd)
        try:
            self._start(name, command, cwd)
        except BaseException:
            with contextlib.suppress(OSError):
                env_file.unlink()
            raise

    def _start(self, name: str, command: str, cwd: Path) -> None:
        panes = self._panes()
        if panes:
            if name in panes:
                self._cmd("kill-window", "-t", f"{self.session_name}:{name}")
            try:
                self._cmd("new-window", "-d", "-t", f"{self.session_name}:", "-n", name, "-c", str(cwd), command)
                return
            except RuntimeHostError as exc:
                # The server or session went away between the check and the command (a `czar down`
                # finishing, say): start a new session instead.
                if not _GONE.search(str(exc)):
                    raise
        self._cmd(
            "new-session",
            "-d",
            "-s",
            self.session_name,
            "-n",
            name,
            "-x",
            "200",
            "-y",
            "50",
            "-c",
            str(cwd),
            command,
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "set-option",
            "-g",
            "history-limit",
            "20000",
            # An agent's screen goes through its pane: none of its escape sequences may rename a
            # window (czar finds them by name) or write your clipboard, whatever ~/.tmux.conf says.
            ";",
            "set-option",
            "-g",
            "allow-rename",
            "off",
            ";",
            "set-option",
            "-s",
            "set-clipboard",
            "off",
        )
        with contextlib.suppress(RuntimeHostError):  # tmux 3.3 and later: nor pass anything through
            self._cmd("set-option", "-g", "allow-passthrough", "off")

    def _panes(self) -> dict[str, tuple[bool, int]]:
        """Window name -> (pane dead, pane pid), for the session's windows; one tmux call."""
        try:
            lines = self._cmd(
                "list-panes", "-s", "-t", self.session_name, "-F", "#{window_name}\t#{pane_dead}\t#{pane_pid}"
            )
        except RuntimeHostError as exc:
            if _GONE.search(str(exc)):
                return {}  # no server, or no session: no windows
            raise
        out: dict[str, tuple[bool, int]] = {}
        for line in lines:
            name, dead, pid = line.split("\t")
            out[name] = (dead == "1", int(pid or 0))
        return out

    def pane_pid(self, name: str) -> int | None:
        """The process in window ``name``'s pane (None: no such window)."""
        pane = self._panes().get(name)
        return pane[1] if pane is not None and pane[1] else None

    def live_windows(self) -> set[str]:
        """The windows whose process still runs, in one tmux call."""
        return {name for name, (dead, _) in self._panes().items() if not dead}

    def window_alive(self, name: str) -> bool:
        pane = self._panes().get(name)
        return pane is not None and not pane[0]

    def windows(self) -> list[str]:
        return list(self._panes())

    def capture(self, name: str, lines: int = 50) -> str:
        if name not in self._panes():
            return ""
        return "\n".join(self._cmd("capture-pane", "-p", "-J", "-t", f"{self.session_name}:{name}", "-S", f"-{lines}"))

    def kill_window(self, name: str) -> None:
        if name in self._panes():
            self._cmd("kill-window", "-t", f"{self.session_name}:{name}")

    def kill_server(self) -> None:
        if self.server.is_alive():
            with contextlib.suppress(LibTmuxException):  # already gone
                self.server.kill()
        if not self.server.is_alive():
            # tmux leaves its socket file behind: czar's go with its server.
            with contextlib.suppress(OSError):
                self.socket_path().unlink(missing_ok=True)

    def socket_path(self) -> Path:
        return Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / self.socket_name

    def attach_argv(self, name: str | None) -> list[str]:
        target = self.session_name if name is None else f"{self.session_name}:{name}"
        return ["tmux", "-L", self.socket_name, "attach-session", "-t", target]


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Drop the forge's tokens (the tmux server may have them from whoever started it: only the
# supervisor's own file gives them back), read the variables, delete their file, become the
# program: the values stay off every command line.
_LOADER = f'unset {" ".join(FORGE_TOKENS)}; . "$0"; rm -f -- "$0"; exec "$@"'


def _with_env(argv: Sequence[str], env: Mapping[str, str], folder: Path) -> tuple[str, Path]:
    """The shell command that runs ``argv`` with ``env``, and the file that carries ``env``.

    tmux's ``-e NAME=value`` would put each value (an agent's API key) on the command line of the
    tmux client and of the server it forks, which keeps it for the whole run, visible in ``ps``.
    Instead the values go to a file only its owner can read (0600, in the project's folder), which
    ``/bin/sh`` reads and deletes before it becomes the program.
    """
    bad = [k for k in env if not _NAME.fullmatch(k)]
    if bad:
        raise RuntimeHostError(f"not an environment variable name: {bad[0]!r}")
    fd, name = tempfile.mkstemp(prefix=".czar-env-", dir=folder if os.access(folder, os.W_OK) else None)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.writelines(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
    # argv is czar's own: interpreter path, flags, safe ids.
    return shlex.join(["/bin/sh", "-c", _LOADER, name, *argv]), Path(name)


if TYPE_CHECKING:  # mypy proves it fills the port
    from czar.core.terminal import Terminal

    _port: Terminal = TmuxHost("", "")
