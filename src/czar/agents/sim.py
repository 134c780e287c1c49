"""The simulated agent (``sim``): a real process that follows the script in the text it got.

Protocol (one JSON object per line; see ``docs/sim.md``):

- stdin: ``{"type": "user", "text": ...}``; the first message is the task prompt, later ones are
  feedback (each runs the next ``on feedback`` section). End of input ends the agent.
- stdout: ``ack`` (task id named in the prompt, sha256 and length of the text received), ``step``,
  ``progress``, ``commit``, ``permission``, ``finished``, ``idle``, ``error``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from czar.agents.sim_script import Script, ScriptError, Step, extract, parse

TASK_LINE = re.compile(r"^Task id: (\S+)\s*$", re.MULTILINE)


def emit(kind: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"type": kind, **fields}) + "\n")
    sys.stdout.flush()


class Sim:
    def __init__(self, cwd: Path, launch: int) -> None:
        self.cwd = cwd
        self.launch = launch  # 1 on the first start of this attempt; faults fire only then

    def _path(self, rel: str) -> Path:
        target = (self.cwd / rel).resolve()
        if not target.is_relative_to(self.cwd.resolve()):
            raise ScriptError(f"path {rel!r} leaves the working folder")
        return target

    def run_steps(self, steps: list[Step]) -> bool:
        """Carry out steps; False if the agent must stop reading input (quit)."""
        return all(self.step(step) for step in steps)

    def step(self, s: Step) -> bool:
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
            emit("finished", summary=s.text or "done")
        elif s.verb == "ask":
            emit("permission", request=s.text)
            reply = sys.stdin.readline()
            emit("step", action="permission-answer", reply=_text(reply))
        elif s.verb == "crash" and self.launch == 1:
            emit("step", action="crash")
            os._exit(3)
        elif s.verb == "hang" and self.launch == 1:
            emit("step", action="hang")
            while True:
                time.sleep(3600)
        elif s.verb == "quit" and self.launch == 1:
            emit("step", action="quit")
            return False
        return True

    def _run(self, argv: list[str]) -> None:
        try:
            proc = subprocess.run(
                argv, cwd=self.cwd, capture_output=True, text=True, errors="replace", timeout=600, check=False
            )
            code, out = proc.returncode, proc.stdout + proc.stderr
        except (OSError, subprocess.TimeoutExpired) as exc:
            code, out = 127, str(exc)
        emit("step", action="run", argv=argv, exit=code, output=out[-2000:])

    def _commit(self, message: str) -> None:
        git = ["git", "-C", str(self.cwd)]
        subprocess.run([*git, "add", "-A"], capture_output=True, check=False)
        if subprocess.run([*git, "diff", "--cached", "--quiet"], check=False).returncode == 0:
            emit("step", action="commit", skipped="nothing to commit")
            return
        proc = subprocess.run([*git, "commit", "-q", "-m", message], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            emit("error", message=f"git commit failed: {proc.stderr.strip()[-500:]}")
            return
        sha = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
        emit("commit", sha=sha, message=message)


def _text(line: str) -> str:
    try:
        msg = json.loads(line)
    except json.JSONDecodeError:
        return line.strip()
    return str(msg.get("text", "")) if isinstance(msg, dict) else str(msg)


def main() -> int:
    sim = Sim(Path.cwd(), int(os.environ.get("CZAR_AGENT_LAUNCH", "1")))
    first = sys.stdin.readline()
    if not first:
        emit("error", message="no task received")
        return 1
    prompt = _text(first)
    named = TASK_LINE.search(prompt)
    source = extract(prompt)
    script: Script | None = None
    problem = None
    if source is None:
        problem = "no czar-sim block in the text received"
    else:
        try:
            script = parse(source)
        except ScriptError as exc:
            problem = f"script: {exc}"
    task = (script.claimed_task if script else None) or (named.group(1) if named else None)
    digest = hashlib.sha256(prompt.encode()).hexdigest()
    emit("ack", task=task, sha256=digest, chars=len(prompt))
    if script is None:
        emit("error", message=problem)
        return 1
    try:
        if not sim.run_steps(script.main):
            return 0
        emit("idle")
        sections = iter(script.feedback)
        for line in sys.stdin:
            emit("step", action="message", text=_text(line)[:500])
            section = next(sections, None)
            if section is None:
                emit("step", action="note", text="no more ideas for this feedback")
                emit("finished", summary="nothing more to change")
            elif not sim.run_steps(section):
                return 0
            emit("idle")
    except ScriptError as exc:
        emit("error", message=str(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
