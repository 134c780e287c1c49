"""Where programs are looked for (``PATH``) by czar's own processes, and by what runs the project's
code: agents and checks.

czar's processes put czar's folder (its interpreter's, which holds ``czar``) first, so that every
one of them runs the same czar. What runs the project's code must not: that folder holds a
``python``, a ``pip`` and a ``pytest`` too, and a project's virtualenv would lose to them (an
agent's ``python -m pytest`` without the project's dependencies). That gets the PATH of the person
who started czar, with czar's folder last (a machine with no ``python`` of its own still has
one), and an agent a folder holding only ``czar`` first.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
from pathlib import Path

CZAR_ONLY = """#!/bin/sh
# czar's commands for an agent (made by czar; the same czar as its worker host's)
exec {python} -P -m czar "$@"
"""


PERSONS_PATH = "CZAR_PERSONS_PATH"


def czar_folder() -> str:
    """The folder of czar's interpreter (and of its ``czar`` command, when installed)."""
    return str(Path(sys.executable).parent)


def persons() -> list[str]:
    """The folders of the PATH of the person who started czar: this process's, or the one czar's
    processes hand on (``czar_env``) beside their own, which has czar's folder put first. Taken
    only where this process's PATH is exactly that (the variable may have leaked to a process
    czar did not start, with a PATH of its own)."""
    path = os.environ.get("PATH", "")
    handed = os.environ.get(PERSONS_PATH)
    if handed and path == os.pathsep.join([czar_folder(), handed]):
        path = handed
    return [p for p in path.split(os.pathsep) if p]


def czar_env() -> dict[str, str]:
    """PATH for a process of czar's: czar's folder first, then the person's; and the person's
    PATH as it was, for what that process starts in turn."""
    return {"PATH": os.pathsep.join([czar_folder(), *persons()]), PERSONS_PATH: os.pathsep.join(persons())}


def for_project_code(*first: Path) -> str:
    """PATH for what runs the project's code: ``first``, then the person's PATH, then czar's
    folder."""
    return os.pathsep.join([*(str(f) for f in first), *persons(), czar_folder()])


def czar_only(folder: Path) -> Path:
    """``folder`` holding only a ``czar`` command (made or brought up to date): what an agent's PATH
    starts with."""
    folder.mkdir(parents=True, exist_ok=True)
    command = folder / "czar"
    text = CZAR_ONLY.format(python=shlex.quote(sys.executable))
    if not command.is_file() or command.read_text(errors="replace") != text:
        fresh = folder / f".czar.{os.getpid()}.{threading.get_ident()}"  # a host and its successor may overlap
        fresh.write_text(text)
        fresh.chmod(0o755)
        fresh.replace(command)
    return folder
