"""The ``czar-sim`` script language: what the simulated agent does, written in the task body.

A task body carries its script in a fenced block::

    ```czar-sim
    write src/pkg/mod.py <<EOF
    def f(): return 1
    EOF
    run python -m pytest -q
    commit add f
    finish added f
    on feedback
    append src/pkg/mod.py <<EOF
    def g(): return 2
    EOF
    commit add g
    finish added g too
    ```

The sim acts only on the text it received, so a truncated or wrong delivery shows up as a
failed task. The full language is documented in ``docs/sim.md``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from czar.core import line_script
from czar.core.host_commands import MessageKind

FENCE = re.compile(r"^```czar-sim[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
REVIEW_FENCE = re.compile(r"^```czar-review[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)

# verb -> (min words, max words) after the verb; None for "rest of line as text"
_ARITY: dict[str, tuple[int, int | None]] = {
    "delete": (1, 1),
    "pick": (1, 1),
    "run": (1, None),
    "commit": (1, None),
    "progress": (1, None),
    "note": (1, None),
    "sleep": (1, 1),
    "finish": (0, None),
    "crash": (0, 0),
    "hang": (0, 0),
    "quit": (0, 0),
    "ask": (1, None),
    "claim-task": (1, 1),
    "idle": (0, 0),
    "loop": (1, None),
    "ratelimit": (1, 1),
    "flood": (1, 2),
    "wait": (0, 0),
    # A reviewer's script (a ``czar-review`` block): its findings, then its verdict.
    "finding": (4, None),
    "approve": (0, None),
    "request-changes": (0, None),
}

# Verbs whose words are prose (a commit message, a summary, a note): split at spaces only, so that
# an apostrophe ("fix the README's title") is a letter, not an unclosed shell quotation. The other
# verbs' words are a command's or paths, split as a shell splits them.
PROSE = frozenset({"commit", "progress", "note", "finish", "ask", "loop", "finding", "approve", "request-changes"})

# The sim's older names of the verbs it shares with the scripted model (``line_script.SHARED``).
ALIASES = {"done": "finish", "checkpoint": "progress"}

# Actions that misbehave on purpose; they act only on the agent's first start for the task.
FAULTS = frozenset({"crash", "hang", "quit", "claim-task", "idle", "loop", "ratelimit", "flood"})
FLOODS = ("lines", "same", "unbroken")  # how a flood prints: different lines, one line again, no line end
_SIZE = re.compile(r"([0-9]+)([kKmM]?)")
SECTION = re.compile(r"^on\s+(every\s+)?([a-z][a-z-]*)$")
# What an ``on KIND`` section may answer: czar's messages, and ``wrong-task`` (run instead of the
# script when a ``claim-task`` fault has the sim working on another task).
# ``review`` in a reviewer's script: the section for each review round after the first.
KINDS = frozenset(MessageKind) | {"wrong-task"}


class ScriptError(ValueError):
    """The script cannot be parsed; the message names the line."""


@dataclass(frozen=True)
class Step:
    verb: str
    args: tuple[str, ...] = ()
    text: str = ""  # file content for write/append; the rest of the line for text verbs
    line: int = 0


@dataclass
class Script:
    main: list[Step] = field(default_factory=list)
    # ``on KIND`` sections, in order, per kind of message: feedback, nudge, correction, stand-off, ...
    sections: dict[str, list[list[Step]]] = field(default_factory=dict)
    # ``on every KIND``: the section for every message of that kind once the numbered ones are used.
    every: dict[str, list[Step]] = field(default_factory=dict)

    @property
    def feedback(self) -> list[list[Step]]:
        """The sections run, one per message, when verification fails."""
        return self.sections.get("feedback", [])

    @property
    def claimed_task(self) -> str | None:
        """The task id a ``claim-task`` fault makes the sim name instead of its own."""
        return next((s.args[0] for s in self.main if s.verb == "claim-task"), None)


def extract(prompt: str, *, review: bool = False) -> str | None:
    """The first czar-sim block in ``prompt`` (czar-review for a reviewer), or None."""
    m = (REVIEW_FENCE if review else FENCE).search(prompt)
    return m.group(1) if m else None


def parse(source: str) -> Script:
    script = Script()
    current = script.main
    try:
        for line in line_script.lines(source, heredoc_verbs=("write", "append")):
            number = line.number
            if line.text is not None:
                current.append(Step(line.verb, (line.rest,), line.text, number))
                continue
            section = SECTION.match(f"{line.verb} {line.rest}")
            if section:
                current = []
                every, kind = section.groups()
                if kind not in KINDS:
                    raise ScriptError(
                        f"line {number}: no message is of kind {kind!r} (kinds: {', '.join(sorted(KINDS))})"
                    )
                if every:
                    script.every[kind] = current
                else:
                    script.sections.setdefault(kind, []).append(current)
                continue
            current.append(_step(line))
    except line_script.LineError as exc:
        raise ScriptError(str(exc)) from None
    return script


def _step(line: line_script.Line) -> Step:
    written, rest, number = line.verb, line.rest, line.number
    verb = ALIASES.get(written, written)
    if verb not in _ARITY:
        raise ScriptError(f"line {number}: unknown action {verb!r}")
    low, high = _ARITY[verb]
    try:
        words = rest.split() if verb in PROSE else shlex.split(rest)
    except ValueError as exc:
        raise ScriptError(f"line {number}: {exc}") from exc
    if len(words) < low or (high is not None and len(words) > high):
        raise ScriptError(f"line {number}: {written} takes {low}{'' if high == low else '+'} argument(s)")
    if verb == "flood":
        flood_size(words[0], number)
        if len(words) > 1 and words[1] not in FLOODS:
            raise ScriptError(f"line {number}: flood prints {', '.join(FLOODS)}, not {words[1]!r}")
    return Step(verb, tuple(words), rest, number)


def flood_size(text: str, line: int = 0) -> int:
    """Bytes of a ``flood``: a number, with ``k`` or ``M`` for KiB and MiB."""
    m = _SIZE.fullmatch(text)
    if m is None:
        raise ScriptError(f"line {line}: flood needs a size in bytes (50M, 200k, 4096), not {text!r}")
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20}[m.group(2).lower()]
