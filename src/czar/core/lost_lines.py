"""No change lost: the lines a merge takes out of the integration branch that another task put there.

A clean three-way merge keeps what the integration branch gained since the task's branch left it.
It does not keep what the task's branch itself took out, and a branch that brought the integration
branch in and resolved a conflict may have taken out another task's lines in its resolution (the
peers' story: an automatic fix that silently dropped another agent's section). So after each merge
czar compares: every meaningful line the merge removed from the integration branch, that a task
merged since this one started added, and that the merge does not put back elsewhere in the file
(moved, not lost), is lost, unless one of the task's own commits took it out (a change it made on
purpose, there to be read; a merge's resolution is not one). Pure: the diffs come from git
(``git diff -U0``, ``czar.core.hunks``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from czar.core.hunks import FileChange


@dataclass(frozen=True)
class LostLine:
    path: str
    text: str
    owner: str  # the task that added it


def meaningful(line: str) -> str | None:
    text = line.strip()
    return text if len(text) > 3 else None  # blank lines and lone brackets are nobody's work


def lost_lines(
    merge: Mapping[str, FileChange],
    added_by: Mapping[str, Mapping[str, FileChange]],
    own: Mapping[str, FileChange] | None = None,
) -> list[LostLine]:
    """The lines ``merge`` (the integration branch before and after a task's merge) takes out
    that a task of ``added_by`` (what each one's merge brought in) put in, and that none of the
    merged task's own commits (``own``: their diffs, merges left out) took out."""
    out: list[LostLine] = []
    for path, change in sorted(merge.items()):
        gone = Counter(t for t in map(meaningful, change.removed_lines) if t is not None)
        back = Counter(t for t in map(meaningful, change.added_lines) if t is not None)
        mine = own.get(path) if own else None
        meant = {t for t in map(meaningful, mine.removed_lines if mine else []) if t is not None}
        for text in sorted((gone - back).keys() - meant):
            for task, work in added_by.items():
                theirs = work.get(path)
                if theirs is not None and text in {meaningful(line) for line in theirs.added_lines}:
                    out.append(LostLine(path, text, task))
                    break
    return out


def evidence(lost: Sequence[LostLine], integration: str, limit: int = 20) -> str:
    """What the task's agent is told."""
    listed = "\n".join(f"- {x.path}: `{x.text[:120]}` (task {x.owner})" for x in lost[:limit])
    more = f"\n- ... and {len(lost) - limit} more" if len(lost) > limit else ""
    owners = sorted({x.owner for x in lost})
    return (
        f"Merging your branch would take out of {integration} lines that other tasks added since you started:\n"
        f"{listed}{more}\n"
        f"Your merge of {integration} dropped them in its resolution. Put them back (`git merge {integration}` "
        "again, keeping both sides), commit, and finish again. If your task truly changes them, change them in a "
        f"commit of its own, there to be read (they are task {', '.join(owners)}'s work)."
    )
