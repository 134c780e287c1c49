"""Every child process starts in ``czar.runtime``: argv only, timeouts, group kill."""

from __future__ import annotations

import ast
from pathlib import Path

import czar

SRC = Path(czar.__file__).parent
# The long-lived processes of a worker host (its agent, the agent's screen) are still started by
# the host itself: a long-lived-process API beside ``proc.run`` is the next step (the shell's
# redesign, issue 9).
STARTS_ITS_OWN = {"runtime/proc.py"}


def test_only_the_runtime_starts_processes() -> None:
    found = set()
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            named = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if "subprocess" in named or (isinstance(node, ast.ImportFrom) and node.module == "subprocess"):
                found.add(str(path.relative_to(SRC)))
    assert found == STARTS_ITS_OWN
