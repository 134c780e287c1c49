"""Changed hunks of a diff, where two changes overlap, and how much work was done twice.

Hunks come from ``git diff -U0``: each says which lines of the old file it replaces
(``old_start``, ``old_count``; a pure insertion replaces nothing just after ``old_start``) and
which lines it adds. Two changes to one file overlap when the line ranges they touch meet; two
changes that both create the same file overlap whatever their lines.

Changes that do not meet can still be *near*: fewer than ``NEAR`` unchanged lines between them.
git merges them without a word, yet each was made without the other in view (a changelog
heading renamed beside an entry added under it, a blank line one side removes and the other
relies on): a diff shows them as one hunk, and a reader takes them as one change.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class Hunk:
    old_start: int
    old_count: int
    added: tuple[str, ...]
    removed: tuple[str, ...] = ()  # the old lines it replaces

    @property
    def span(self) -> tuple[float, float]:
        """The stretch of the old file this hunk touches, as a closed interval; an insertion is a
        point between two lines."""
        if self.old_count == 0:
            return (self.old_start + 0.5, self.old_start + 0.5)
        return (float(self.old_start), float(self.old_start + self.old_count - 1))


@dataclass
class FileChange:
    path: str
    created: bool = False
    deleted: bool = False
    hunks: list[Hunk] = field(default_factory=list)
    blob: str | None = None  # what it holds after (its ``index`` line), where a diff says

    @property
    def added_lines(self) -> list[str]:
        return [line for h in self.hunks for line in h.added]

    @property
    def removed_lines(self) -> list[str]:
        return [line for h in self.hunks for line in h.removed]


def _path(text: str, prefix: str) -> str | None:
    """The file a ``---`` or ``+++`` line names (None: ``/dev/null``). git quotes a name holding
    unusual characters, C-style (a quote, a backslash, a tab; any byte above 127 unless
    ``core.quotePath`` is off), and ends one holding a space with a tab, quoted or not."""
    text = text.removesuffix("\t")  # a name holding a tab is always quoted: this one is git's
    if text == "/dev/null":
        return None
    name = _unquote(text) if text.startswith('"') else text
    return name.removeprefix(prefix)


def _header_path(rest: str) -> str | None:
    """The file a ``diff --git a/P b/P`` line names (``rest``: what follows ``diff --git``), when
    both sides name the same one, as they do without renames; None for a rename or a copy (its
    ``---`` and ``+++`` lines name it). A file with no lines to show (binary, empty, a mode
    changed) has no other line that names it."""
    if rest.startswith('"'):  # git quotes both names, or neither
        i = 1
        while i < len(rest) and rest[i] != '"':
            i += 2 if rest[i] == "\\" else 1
        old, new = _unquote(rest[: i + 1]), _unquote(rest[i + 2 :])
    else:
        half = (len(rest) - len(" ")) // 2  # "a/P b/P": the two halves are as long
        old, new = rest[:half], rest[half + 1 :]
    if old.startswith("a/") and new.startswith("b/") and old[2:] == new[2:]:
        return old[2:]
    return None


def _unquote(text: str) -> str:
    body, out, i = text[1:-1] if text.endswith('"') else text[1:], bytearray(), 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            digits = body[i + 1 : i + 4]
            if len(digits) == 3 and all(d in "01234567" for d in digits):
                out.append(int(digits, 8) & 0xFF)
                i += 4
            else:
                out.append(_ESCAPES.get(body[i + 1], ord(body[i + 1]) & 0xFF))
                i += 2
            continue
        out += body[i].encode()
        i += 1
    return out.decode("utf-8", errors="replace")


def parse(diff: str) -> dict[str, FileChange]:
    """The changes of a ``git diff -U0 --no-color`` output, by path."""
    files: dict[str, FileChange] = {}
    current: FileChange | None = None
    old_path: str | None = None
    lines = diff.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("diff --git "):
            named = _header_path(line.removeprefix("diff --git "))
            current = files.setdefault(named, FileChange(named)) if named is not None else None
            continue
        if current is not None and line.startswith(("new file mode ", "deleted file mode ")):
            current.created, current.deleted = line.startswith("new"), line.startswith("deleted")
            continue
        if current is not None and line.startswith("index "):
            current.blob = line.removeprefix("index ").partition("..")[2].partition(" ")[0] or None
            continue
        if line.startswith("--- "):
            old_path = _path(line[4:], "a/")
            continue
        if line.startswith("+++ "):
            new_path = _path(line[4:], "b/")
            path = new_path or old_path
            if path is None:
                current = None
                continue
            current = files.setdefault(path, FileChange(path))
            current.created = old_path is None
            current.deleted = new_path is None
            continue
        m = _HUNK.match(line)
        if m and current is not None:
            old_start, old_count = int(m.group(1)), int(m.group(2) if m.group(2) is not None else 1)
            added, removed = [], []
            while i < len(lines) and lines[i][:1] in ("+", "-", "\\"):
                if lines[i].startswith("+"):
                    added.append(lines[i][1:])
                elif lines[i].startswith("-"):
                    removed.append(lines[i][1:])
                i += 1
            current.hunks.append(Hunk(old_start, old_count, tuple(added), tuple(removed)))
    return files


NEAR = 3  # unchanged lines: git diff's context around a change


def _meet(a: Hunk, b: Hunk, near: int = 0) -> bool:
    """They touch the same lines, or have fewer than ``near`` unchanged lines between them."""
    (a0, a1), (b0, b1) = a.span, b.span
    if a0 <= b1 and b0 <= a1:
        return True
    (_, end), (start, _) = ((a0, a1), (b0, b1)) if a1 < b0 else ((b0, b1), (a0, a1))
    # An insertion's span is a point between two lines (x.5): count whole lines between.
    between = math.ceil(start) - math.floor(end) - 1
    return between < near


def overlap(a: Mapping[str, FileChange], b: Mapping[str, FileChange], *, near: int = 0) -> list[str]:
    """The paths both changes touch at the same lines (or both create); ``near``: or with fewer
    than that many unchanged lines between them."""
    out = []
    for path in sorted(a.keys() & b.keys()):
        fa, fb = a[path], b[path]
        # Both made: whatever their lines, unless it is the same file, with no lines to show (an
        # empty __init__.py each, or one image: git merges them as one).
        same = not fa.hunks and not fb.hunks and fa.blob is not None and fa.blob == fb.blob
        if (fa.created and fb.created and not same) or any(_meet(x, y, near) for x in fa.hunks for y in fb.hunks):
            out.append(path)
    return out


def _meaningful(line: str) -> str | None:
    text = line.strip()
    return text if len(text) > 3 else None  # blank lines and lone brackets are not work


def duplicated(work: Mapping[str, FileChange], meanwhile: Mapping[str, FileChange]) -> tuple[int, int]:
    """Of the meaningful lines a task added (``work``: its branch since it left the integration
    branch), how many the integration branch also added meanwhile, in the same place (``meanwhile``:
    the integration branch since that same commit): ``(duplicated lines, all lines)``.

    Both diffs start from one commit, so their line numbers agree: the same line added where the
    other side added it is work done twice. A line added again later, on top of the other's work
    (an edit made in sequence, a line that code repeats elsewhere), is not.
    """
    dup = total = 0
    for path, change in work.items():
        other = meanwhile.get(path)
        for h in change.hunks:
            mine = Counter(t for t in map(_meaningful, h.added) if t is not None)
            total += sum(mine.values())
            if other is None or not mine:
                continue
            if change.created and other.created:
                near = [line for o in other.hunks for line in o.added]
            else:
                near = [line for o in other.hunks if _meet(h, o) for line in o.added]
            theirs = Counter(t for t in map(_meaningful, near) if t is not None)
            dup += sum((mine & theirs).values())
    return dup, total


def duplication(
    pairs: Iterable[tuple[Mapping[str, FileChange], Mapping[str, FileChange]]],
) -> tuple[float, int, int]:
    """Of all meaningful lines the tasks added, the share that was work done twice: for each task,
    (its work, what the integration branch gained meanwhile) as in ``duplicated``:
    ``(share, duplicated lines, all lines)``."""
    dup = total = 0
    for work, meanwhile in pairs:
        d, t = duplicated(work, meanwhile)
        dup += d
        total += t
    return (dup / total if total else 0.0), dup, total
