"""The ``czar-model`` script: what the scripted model answers, turn by turn, to a real agent CLI.

A task body carries it in a fenced block, as it carries a ``czar-sim`` script for the simulated
agent; the scripted model reads it from the conversation the agent sends, so, like ``sim``, it
acts only on the text the agent actually received::

    ```czar-model
    report writing hello.py
    write hello.py <<EOF
    def greet(name):
        return f"Hello, {name}!"
    EOF
    run python -c "import hello"
    commit add hello.greet
    done hello.greet is in place
    end Done.
    ```

Each line (a ``write`` with its text) is one answer of the model: one tool call, or, for ``end``
and ``say``, a final text that ends the agent's turn. The agent sends the conversation again with
each request; the number of answers already in it says which turn comes next.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

from czar.core import line_script

FENCE = re.compile(r"^```czar-model[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
# A reviewer's script, in the same body (its prompt says ``Role: reviewer``).
REVIEW_FENCE = re.compile(r"^```czar-model-review[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
TASK_LINE = re.compile(r"^Task id: (\S+)\s*$", re.MULTILINE)
REVIEWER_LINE = re.compile(r"^Role: reviewer\s*$", re.MULTILINE)
COMMIT_LINE = re.compile(r"^Commit: ([0-9a-f]{40})\b", re.MULTILINE)

VERBS = {
    "report": "report progress through czar's tools (the first report names the task)",
    "checkpoint": "report checkpoint N through czar's tools",
    "write": "write a file with the agent's own file tool",
    "run": "run a shell command with the agent's own shell tool",
    "commit": "git add -A and commit, with the shell tool",
    "claim": "claim paths through czar's tools",
    "blocked": "say it waits for a task through czar's tools",
    "done": "finish the task through czar's tools",
    "tool": "call any offered tool: tool NAME {json input}",
    "sleep": "take this many seconds before answering (a slow or hung model)",
    "wait": "the older name of sleep",
    "fail": "answer every request from here on with this HTTP status (a refused key, a failing API)",
    "finding": "a reviewer's finding through czar's tools: finding PATH LINE SEVERITY FAILURE",
    "approve": "a reviewer's verdict through czar's tools: approve the commit it reads (a summary)",
    "request-changes": "a reviewer's verdict through czar's tools: request changes (a summary)",
    "say": "answer with text, ending the agent's turn",
    "end": "answer with text, ending the agent's turn (the last line)",
}


class ModelScriptError(ValueError):
    """The script cannot be read; the message names the line."""


@dataclass(frozen=True)
class Turn:
    verb: str
    text: str = ""  # the rest of the line; a file's content for ``write``
    path: str = ""  # for ``write``
    line: int = 0


def extract(text: str) -> str | None:
    """The script in ``text``: a reviewer's (``czar-model-review``) when the text is a reviewer's
    prompt, else the author's."""
    m = (REVIEW_FENCE if REVIEWER_LINE.search(text) else FENCE).search(text)
    return m.group(1) if m else None


def commit_of(text: str) -> str | None:
    """The commit a reviewer's prompt says it reads."""
    m = COMMIT_LINE.search(text)
    return m.group(1) if m else None


def task_id(text: str) -> str | None:
    m = TASK_LINE.search(text)
    return m.group(1) if m else None


def parse(source: str) -> list[Turn]:
    turns: list[Turn] = []
    try:
        for line in line_script.lines(source, heredoc_verbs=("write",)):
            turns.append(_turn(line))
    except line_script.LineError as exc:
        raise ModelScriptError(str(exc)) from None
    return turns


def _turn(line: line_script.Line) -> Turn:
    # ``sleep``, the verb the sim shares (``line_script.SHARED``); ``wait`` is its older name here.
    written, rest, number = line.verb, line.rest, line.number
    verb = "wait" if written == "sleep" else written
    if line.text is not None:
        return Turn("write", line.text, rest, number)
    if verb not in VERBS:
        raise ModelScriptError(f"line {number}: unknown action {verb!r} (one of: {', '.join(VERBS)})")
    if verb == "tool":
        name, _, data = rest.partition(" ")
        try:
            value = json.loads(data or "{}")
        except json.JSONDecodeError as exc:
            raise ModelScriptError(f"line {number}: tool {name}: its input is not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise ModelScriptError(f"line {number}: tool {name}: its input must be a JSON object")
    if verb == "finding" and not re.fullmatch(r"\S+ [0-9]+ \S+ .+", rest):
        raise ModelScriptError(f"line {number}: finding needs PATH LINE SEVERITY and the failure")
    if verb == "checkpoint" and not re.fullmatch(r"[0-9]+", rest.split(" ", 1)[0]):
        raise ModelScriptError(f"line {number}: checkpoint needs a number first")
    if verb == "wait":
        try:
            seconds = float(rest)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds < 1e6:  # also refuses nan and inf
            raise ModelScriptError(f"line {number}: {written} needs a number of seconds (0 or more)")
    if verb == "fail" and not re.fullmatch(r"[45][0-9][0-9]", rest.split(" ", 1)[0]):
        raise ModelScriptError(f"line {number}: fail needs an HTTP error status first (401, 500, ...)")
    if verb in ("claim", "run"):
        try:
            shlex.split(rest)
        except ValueError as exc:
            raise ModelScriptError(f"line {number}: {exc}") from None
    return Turn(verb, rest, "", number)
