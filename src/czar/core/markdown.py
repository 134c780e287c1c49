"""Text put into the Markdown czar writes (pull requests' descriptions, reviews, the omnibus's
release notes) so that it shows as it is, and does nothing else.

Much of it is not czar's: what an agent says it did, a reviewer's words, the names of the files
an agent made, the checks and titles of a plan (a replayed history's commit subjects). Read as
Markdown on GitHub or GitLab, such text could forge a section of czar's own ("## Checks"), hide
the rest of a description (an HTML comment left open), mention people (``@someone``: they are
notified) or close an issue when the omnibus merges ("Closes #1"). Inside code, Markdown does
none of that: the forges neither render it nor look for mentions and references there. So such
text goes in code: a block (``block``) or, on one line, a span (``code``), each fenced by more
of its marks than any run of them in the text, so nothing in it can end it early.
"""

from __future__ import annotations

import re

from czar.core.shown import on_one_line


def fence(*texts: str) -> str:
    """A fence of tildes that no line of ``texts`` closes: longer than any run of tildes in
    them, and four at least (tildes, not backticks: a task's own text is full of those)."""
    runs = [len(r) for t in texts for r in re.findall(r"~+", t)]
    return "~" * max([4, *(n + 1 for n in runs)])


def block(text: str, marks: str | None = None) -> list[str]:
    """``text`` as a block of code: its lines, fenced (by ``marks`` when given: one fence for
    several blocks, made by ``fence`` from all of them)."""
    marks = marks or fence(text)
    return [marks, text.strip("\n"), marks]


def code(text: str) -> str:
    """``text`` as code on one line: line breaks shown as ``↵``, fenced by more backticks than
    any run of them in it, and spaced from them where it starts or ends with one (which would
    join the fence)."""
    line = on_one_line(text) if "\n" in text or "\r" in text else text
    if not line:
        return "` `"
    ticks = "`" * (max((len(r) for r in re.findall(r"`+", line)), default=0) + 1)
    pad = " " if line[0] == "`" or line[-1] == "`" or (line[0] == " " and line[-1] == " " and line.strip()) else ""
    return f"{ticks}{pad}{line}{pad}{ticks}"
