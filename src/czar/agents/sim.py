"""The simulated agent (``sim``): a real process that follows the script in the text it got.

Protocol (one JSON object per line; see ``docs/sim.md``):

- stdin: ``{"type": "user", "kind": ..., "text": ...}``; the first message is the task prompt,
  later ones are czar's messages (``kind``: feedback, nudge, correction, stand-off, conflict,
  merged, restack, answer, continue, ...). End of input ends the agent.
- stdout: ``ack`` (task id and goal named in the prompt, sha256 and length of the text
  received), ``step``, ``progress``, ``commit``, ``permission``, ``rate_limited``, ``finished``,
  ``idle``, ``error``.

A message that arrives while the script runs is looked at between two actions: if the script has
an ``on KIND`` section for it, that section takes over from the rest of the script (a real agent
changes course when told to); otherwise the agent notes it and goes on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

from czar.agents.sim_script import FAULTS, Script, ScriptError, Step, extract, flood_size, parse
from czar.runtime import proc

TASK_LINE = re.compile(r"^Task id: (\S+)\s*$", re.MULTILINE)
TITLE_LINE = re.compile(r"^Title: (.+)$", re.MULTILINE)
REVIEWER_LINE = re.compile(r"^Role: reviewer\s*$", re.MULTILINE)
ROUND_LINE = re.compile(r"^Review round: ([0-9]+)\s*$", re.MULTILINE)
COMMIT_LINE = re.compile(r"^Commit: ([0-9a-f]{40})\b", re.MULTILINE)


def emit(type_: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"type": type_, **fields}) + "\n")
    sys.stdout.flush()


class Message:
    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind
        self.text = text


def _message(line: str) -> Message:
    try:
        msg = json.loads(line)
    except json.JSONDecodeError:
        return Message("feedback", line.strip())
    if not isinstance(msg, dict):
        return Message("feedback", str(msg))
    return Message(str(msg.get("kind") or "feedback"), str(msg.get("text", "")))


class Inbox:
    """stdin, read on a thread so the script can look for messages between two actions."""

    def __init__(self) -> None:
        self._q: queue.Queue[Message | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in sys.stdin:
            if line.strip():
                self._q.put(_message(line))
        self._q.put(None)

    def get(self, timeout: float | None = None) -> Message | None:
        """The next message; None at end of input. Raises ``queue.Empty`` after ``timeout``."""
        return self._q.get(timeout=timeout)

    def poll(self) -> Message | bool | None:
        """The next message if one is waiting, None at end of input, False if nothing came."""
        try:
            return self._q.get_nowait()
        except queue.Empty:
            return False


# Messages that only make sense once the work is handed in: they wait until the script is done.
AFTER_FINISH = frozenset({"feedback"})


class Stop(Exception):
    """The agent stops reading input (it quit, or its input ended)."""


class Sim:
    def __init__(self, cwd: Path, first: bool, script: Script, inbox: Inbox) -> None:
        self.cwd = cwd
        self.first = first  # the first start for this task: faults act only then
        self.script = script
        self.inbox = inbox
        self.used: dict[str, int] = {}  # sections of each kind already run
        self.commit: str | None = None  # a reviewer's: the commit it reviews
        self.deferred: list[Message | None] = []  # read while working, handled once done

    # -- messages and sections ---------------------------------------------------------------

    def section_for(self, kind: str) -> list[Step] | None:
        sections = self.script.sections.get(kind, [])
        n = self.used.get(kind, 0)
        if n >= len(sections):
            return self.script.every.get(kind)
        self.used[kind] = n + 1
        return sections[n]

    def take(self, msg: Message | None) -> list[Step] | None:
        """React to a message: the section it calls for, or None to go on as before."""
        if msg is None:
            raise Stop
        emit("step", action="message", kind=msg.kind, text=msg.text[:500])
        return self.section_for(msg.kind)

    def wait(self) -> list[Step] | None:
        """Block for the next message; the section it calls for, if any."""
        return self.take(self.next_message())

    def next_message(self) -> Message | None:
        if self.deferred:
            return self.deferred.pop(0)
        return self.inbox.get()

    # -- running -----------------------------------------------------------------------------

    def run(self, steps: list[Step]) -> None:
        """Run steps; a message with a section of its own takes over from the rest."""
        for s in steps:
            self.step(s)
            msg = self.inbox.poll()
            if msg is False:
                continue
            if msg is None or msg.kind in AFTER_FINISH:  # type: ignore[union-attr]
                self.deferred.append(msg)  # type: ignore[arg-type]
                continue
            section = self.take(msg)  # type: ignore[arg-type]
            if section is not None:
                self.run(section)
                return

    def idle_loop(self) -> None:
        """After the script: wait for messages and run the section each calls for."""
        while True:
            emit("idle")
            msg = self.next_message()
            section = self.take(msg)
            if section is not None:
                with contextlib.suppress(Done):
                    self.run(section)
            elif msg is not None and msg.kind == "feedback":
                emit("step", action="note", text="no more ideas for this feedback")
                emit("finished", summary="nothing more to change", head=self._head())

    def _head(self) -> str | None:
        """The commit handed in: what czar verifies, whatever the agent does next."""
        result = _run_here(["git", "-C", str(self.cwd), "rev-parse", "HEAD"], errors_too=False)
        return result.output.strip() or None if result.ok else None

    def _path(self, rel: str) -> Path:
        target = (self.cwd / rel).resolve()
        if not target.is_relative_to(self.cwd.resolve()):
            raise ScriptError(f"path {rel!r} leaves the working folder")
        return target

    def step(self, s: Step) -> None:
        if s.verb in FAULTS and not self.first:
            return
        if s.verb in ("write", "append"):
            path = self._path(s.args[0])
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w" if s.verb == "write" else "a", encoding="utf-8") as fh:
                fh.write(s.text)
            emit("step", action=s.verb, path=s.args[0])
        elif s.verb == "delete":
            self._path(s.args[0]).unlink(missing_ok=True)
            emit("step", action="delete", path=s.args[0])
        elif s.verb == "run":
            self._run(list(s.args))
        elif s.verb == "pick":
            self._pick(s.args[0])
        elif s.verb == "commit":
            self._commit(s.text)
        elif s.verb == "progress":
            num, _, note = s.text.partition(" ")
            emit("progress", checkpoint=int(num) if num.isdigit() else None, note=note.strip() or s.text)
        elif s.verb == "note":
            emit("step", action="note", text=s.text)
        elif s.verb == "sleep":
            time.sleep(float(s.args[0]))
        elif s.verb == "finish":
            emit("finished", summary=s.text or "done", head=self._head())
        elif s.verb == "ask":
            self._ask(s)
        elif s.verb == "crash":
            emit("step", action="crash")
            os._exit(3)
        elif s.verb == "hang":
            emit("step", action="hang")
            while True:
                time.sleep(3600)
        elif s.verb == "quit":
            emit("step", action="quit")
            raise Stop
        elif s.verb == "finding":
            where, row, severity = s.args[0], s.args[1], s.args[2]
            words = s.text.split(maxsplit=3)
            emit(
                "finding",
                path=where,
                line=int(row) if row.isdigit() else 0,
                severity=severity,
                failure=words[3] if len(words) > 3 else "",
            )
        elif s.verb in ("approve", "request-changes"):
            commit, summary = self.commit or "", s.text
            if s.args and s.args[0].startswith("commit="):  # a verdict on another commit (czar refuses it)
                commit = s.args[0].removeprefix("commit=")
                summary = " ".join(s.text.split()[1:])
            emit("verdict", decision=s.verb, commit=commit, summary=summary or s.verb)
            raise Stop  # a review ends with its verdict
        elif s.verb == "idle":
            emit("step", action="idle")
            self._pause(lambda: emit("idle"))
        elif s.verb == "wait":
            emit("step", action="note", text="waiting for a message")
            self._pause(lambda: None)
        elif s.verb == "ratelimit":
            emit("rate_limited", reset_in=float(s.args[0]), text="simulated rate limit")
            self._pause(lambda: None)
        elif s.verb == "loop":
            emit("step", action="loop")
            self._loop(s.text)
        elif s.verb == "flood":
            emit("step", action="flood")
            _flood(flood_size(s.args[0]), s.args[1] if len(s.args) > 1 else "lines")

    def _pause(self, announce: Any) -> None:
        """Stop until a message comes; one with a section of its own takes over."""
        announce()
        section = self.wait()
        if section is not None:
            self.run(section)
            raise Done

    def _loop(self, text: str) -> None:
        """Say the same thing again and again until a message comes."""
        while True:
            emit("step", action="note", text=text)
            try:
                msg = self.deferred.pop(0) if self.deferred else self.inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            section = self.take(msg)
            if section is not None:
                self.run(section)
                raise Done
            return

    def _ask(self, s: Step) -> None:
        tool, _, target = s.text.partition(" ")
        emit("permission", tool=tool, target=target.strip())
        while True:
            msg = self.inbox.get()
            if msg is None:
                raise Stop
            if msg.kind == "answer":
                break
            self.deferred.append(msg)
        allowed = msg.text.startswith("allow")
        emit("step", action="permission-answer", reply=msg.text[:200])
        if allowed and tool == "Bash" and target.strip():
            self._run(target.split())

    def _run(self, argv: list[str]) -> None:
        result = _run_here(argv, cwd=self.cwd, timeout=600)
        emit("step", action="run", argv=argv, exit=result.returncode, output=result.output[-2000:])

    def _pick(self, commit: str) -> None:
        """Make in the worktree the change ``commit`` made to its first parent, by a three-way
        merge (git's cherry-pick, without committing); where it conflicts with what the worktree
        holds, the commit's side wins, as an agent writes its own version of the lines."""
        git = ["git", "-C", str(self.cwd)]
        listed_parents = _run_here([*git, "rev-list", "--parents", "-n", "1", commit], errors_too=False)
        parents = listed_parents.output.split() if listed_parents.ok else []
        if len(parents) < 2:
            emit("error", message=f"pick: no commit {commit} with a parent in this repository")
            return
        mainline = ["-m", "1"] if len(parents) > 2 else []
        pick = _run_here([*git, "cherry-pick", "--no-commit", "-X", "theirs", *mainline, commit])
        # What ``-X theirs`` leaves unmerged (a file changed on one side and deleted on the other,
        # binary files): take the commit's version, or its deletion.
        listed = _run_here([*git, "diff", "--name-only", "--diff-filter=U", "-z"], errors_too=False)
        unmerged = [path for path in listed.output.split("\0") if path] if listed.ok else []
        for path in unmerged:
            if _run_here([*git, "cat-file", "-e", f"{commit}:{path}"]).ok:
                _run_here([*git, "checkout", commit, "--", path])
            else:
                _run_here([*git, "rm", "-q", "-f", "--", path])
        _run_here([*git, "cherry-pick", "--quit"])
        changed = _run_here([*git, "diff", "--name-only", "HEAD"], errors_too=False)
        emit(
            "step",
            action="pick",
            commit=commit,
            exit=pick.returncode,
            unmerged=unmerged[:50],
            files=changed.output.split()[:50] if changed.ok else [],
            output=pick.output[-1000:],
        )

    def _commit(self, message: str) -> None:
        git = ["git", "-C", str(self.cwd)]
        _run_here([*git, "add", "-A"])
        committed = _run_here([*git, "commit", "-q", "-m", message])
        if not committed.ok:
            said = committed.output.strip()
            if "nothing to commit" in said or "nothing added to commit" in said:
                emit("step", action="commit", skipped="nothing to commit")
            else:
                emit("error", message=f"git commit failed: {said[-500:]}")
            return
        sha = _run_here([*git, "rev-parse", "HEAD"], errors_too=False).output.strip()
        emit("commit", sha=sha, message=message)


def _run_here(
    argv: list[str], cwd: Path | None = None, timeout: float | None = None, *, errors_too: bool = True
) -> proc.Result:
    """A command of the agent's, in its process group: it ends with the agent, as a real agent's do.
    Without ``errors_too``: its standard output alone, to parse."""
    return proc.run(argv, cwd=cwd, timeout=timeout, own_group=False, errors_too=errors_too)


def _flood(size: int, how: str) -> None:
    """Print ``size`` bytes of plain output as fast as the pipe takes them, as an agent does when a
    command it runs dumps a file or a test run goes wild: different lines, one line again and
    again (``same``), or one line without an end (``unbroken``, ended only after ``size`` bytes)."""
    out = sys.stdout.buffer
    sys.stdout.flush()
    block = 1 << 16
    written = n = 0
    while written < size:
        if how == "unbroken":
            data = b"x" * min(block, size - written)
        elif how == "same":
            data = b"the same line of output, again and again\n" * (block // 42)
        else:
            data = b"".join(b"flood line %09d of plain output from the agent\n" % (n + i) for i in range(1024))
            n += 1024
        data = data[: size - written]
        out.write(data)
        written += len(data)
    out.write(b"\n")
    out.flush()


def _nth(script: Script, kind: str, n: int) -> list[Step] | None:
    """The ``n``th ``on KIND`` section (from 1), or the ``on every KIND`` one past them."""
    sections = script.sections.get(kind, [])
    return sections[n - 1] if n <= len(sections) else script.every.get(kind)


class Done(Exception):
    """A section took over and ran to its end: the main script is over."""


def main() -> int:
    inbox = Inbox()
    first = inbox.get()
    if first is None:
        emit("error", message="no task received")
        return 1
    prompt = first.text
    reviewer = REVIEWER_LINE.search(prompt) is not None
    # A reviewer without a script of its own approves (the sim's default review).
    source = extract(prompt, review=True) or "approve looks right" if reviewer else extract(prompt)
    script: Script | None = None
    problem = None
    if source is None:
        problem = "no czar-sim block in the text received"
    else:
        try:
            script = parse(source)
        except ScriptError as exc:
            problem = f"script: {exc}"
    first_start = os.environ.get("CZAR_FIRST_START", "1") == "1"
    named = TASK_LINE.search(prompt)
    title = TITLE_LINE.search(prompt)
    wrong = script.claimed_task if script and first_start else None
    emit(
        "ack",
        task=wrong or (named.group(1) if named else None),
        goal=title.group(1).strip() if title else None,
        sha256=hashlib.sha256(prompt.encode()).hexdigest(),
        chars=len(prompt),
    )
    if script is None:
        emit("error", message=problem)
        return 1
    sim = Sim(Path.cwd(), first_start, script, inbox)
    try:
        if reviewer:
            found, rounds = COMMIT_LINE.search(prompt), ROUND_LINE.search(prompt)
            sim.commit = found.group(1) if found else None
            later = int(rounds.group(1)) - 1 if rounds else 0
            # Round 1 runs the script; each later round the next ``on review`` section (the
            # last ``on every review`` after those), and approves when there is none.
            steps = script.main if not later else _nth(script, "review", later)
            sim.run(steps or [Step("approve", (), "nothing left to find")])
            return 0
        if wrong is not None:
            # Working on another task's script: the ``on wrong-task`` section, not our own.
            sim.run(sim.section_for("wrong-task") or [])
        else:
            with contextlib.suppress(Done):
                sim.run(script.main)
        sim.idle_loop()
    except Stop:
        return 0
    except ScriptError as exc:
        emit("error", message=str(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
