"""The line language both script languages are written in (``czar-sim`` for the simulated agent,
``czar-model`` for the scripted model): one action per line, ``# comments`` and blank lines
skipped, and a file's text given in place with a heredoc::

    write path/to/file.py <<END
    ...the text...
    END

Each language says which verbs take a heredoc and what its verbs mean; this reads the lines."""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection, Iterator
from dataclasses import dataclass

# The verbs both languages know, and what each means in both (a test holds them to it).
SHARED = {
    "write": "write a file: write PATH <<END, its text, END",
    "run": "run a shell command",
    "commit": "commit everything, with this message",
    "checkpoint": "report checkpoint N reached, with a note",
    "done": "hand the task in, with a summary",
    "sleep": "take this many seconds before going on",
    # A reviewer's (its script is its own block: czar-review, czar-model-review):
    "finding": "a finding of the review: finding PATH LINE SEVERITY FAILURE...",
    "approve": "approve the commit reviewed, with a summary",
    "request-changes": "request changes to the commit reviewed, with a summary",
}

# A path with spaces is quoted as a shell quotes words ("docs/a file.md"); a bare one is as written.
_HEREDOC = re.compile(r"^(\S+)\s+(.+?)\s*<<\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


class LineError(ValueError):
    """A line cannot be read; the message names it."""


@dataclass(frozen=True)
class Line:
    number: int  # from 1
    verb: str
    rest: str  # the rest of the line, stripped; the path for a heredoc
    text: str | None = None  # a heredoc's text (each of its lines ends with a newline)


def lines(source: str, heredoc_verbs: Collection[str]) -> Iterator[Line]:
    """The actions of ``source`` in order; a verb of ``heredoc_verbs`` followed by ``PATH
    <<MARKER`` takes the lines up to ``MARKER`` as its text."""
    raw = source.splitlines()
    i = 0
    while i < len(raw):
        stripped, number = raw[i].strip(), i + 1
        i += 1
        if not stripped or stripped.startswith("#"):
            continue
        heredoc = _HEREDOC.match(stripped)
        if heredoc and heredoc.group(1) in heredoc_verbs:
            verb, written, marker = heredoc.groups()
            path = _one_path(number, verb, written)
            body: list[str] = []
            while i < len(raw) and raw[i].strip() != marker:
                body.append(raw[i])
                i += 1
            if i >= len(raw):
                raise LineError(f"line {number}: {verb} {path}: no closing {marker!r}")
            i += 1
            yield Line(number, verb, path, "".join(line + "\n" for line in body))
            continue
        verb, *rest = stripped.split(maxsplit=1)
        if verb in heredoc_verbs:
            raise LineError(f"line {number}: {verb} takes PATH <<MARKER, then the file's lines and MARKER")
        yield Line(number, verb, rest[0].strip() if rest else "")


def _one_path(number: int, verb: str, written: str) -> str:
    # A bare path is taken as written (docs/it's.md: scripts wrote that before quoting was read).
    if not written.startswith(("'", '"')) and not any(c.isspace() for c in written):
        return written
    try:
        words = shlex.split(written)
    except ValueError as exc:
        raise LineError(f"line {number}: {verb}: {exc}") from None
    if len(words) != 1 or not words[0]:
        raise LineError(f"line {number}: {verb} takes one path (quote a path with spaces)")
    return words[0]
