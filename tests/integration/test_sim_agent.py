"""The simulated agent as a real process: what it does with the messages it gets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers import git, make_repo


def _run(cwd: Path, script: str, *messages: tuple[str, str], first: bool = True) -> list[dict[str, Any]]:
    prompt = f"Task id: t1\nTitle: Do t1\n\n```czar-sim\n{script}\n```\n"
    lines = [json.dumps({"type": "user", "kind": "task", "text": prompt})]
    lines += [json.dumps({"type": "user", "kind": kind, "text": text}) for kind, text in messages]
    env = dict(os.environ, CZAR_FIRST_START="1" if first else "0", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t")
    env.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    proc = subprocess.run(
        [sys.executable, "-m", "czar.agents.sim"],
        cwd=cwd,
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert proc.returncode in (0, 3), proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _notes(events: list[dict[str, Any]]) -> list[str]:
    return [e["text"] for e in events if e.get("action") == "note"]


def test_the_ack_names_the_task_and_its_goal(tmp_path: Path) -> None:
    events = _run(tmp_path, "finish ok")
    assert events[0]["type"] == "ack" and events[0]["task"] == "t1" and events[0]["goal"] == "Do t1"


def test_a_message_with_its_own_section_takes_over_the_rest_of_the_script(tmp_path: Path) -> None:
    events = _run(tmp_path, "sleep 0.3\nnote rest of main\non stand-off\nnote standing off", ("stand-off", "stop"))
    assert _notes(events) == ["standing off"]


def test_a_message_without_a_section_is_noted_and_work_goes_on(tmp_path: Path) -> None:
    events = _run(tmp_path, "sleep 0.3\nnote rest of main\nfinish ok", ("merged", "task x merged"))
    assert _notes(events) == ["rest of main"]
    assert any(e.get("action") == "message" and e.get("kind") == "merged" for e in events)


def test_feedback_waits_until_the_work_is_handed_in(tmp_path: Path) -> None:
    events = _run(tmp_path, "sleep 0.3\nnote working\nfinish ok\non feedback\nnote fixing", ("feedback", "fix it"))
    kinds = [e["type"] if e["type"] != "step" else e.get("action") for e in events]
    assert kinds.index("finished") < kinds.index("message")
    assert _notes(events) == ["working", "fixing"]


def test_idle_waits_for_any_message_then_goes_on(tmp_path: Path) -> None:
    events = _run(tmp_path, "idle\nnote after the nudge\nfinish ok", ("nudge", "go on"))
    types = [e["type"] for e in events]
    assert types[:3] == ["ack", "step", "idle"]
    assert _notes(events) == ["after the nudge"] and "finished" in types


def test_faults_act_only_on_the_first_start(tmp_path: Path) -> None:
    script = "crash\nnote survived\nfinish ok"
    first = _run(tmp_path, script)
    assert [e.get("action") for e in first][-1] == "crash" and "finished" not in [e["type"] for e in first]
    again = _run(tmp_path, script, first=False)
    assert _notes(again) == ["survived"]


def test_claim_task_names_another_task_and_runs_its_script(tmp_path: Path) -> None:
    script = "claim-task other\nnote mine\nfinish mine\non wrong-task\nnote theirs\nfinish theirs"
    events = _run(tmp_path, script)
    assert events[0]["task"] == "other"
    assert _notes(events) == ["theirs"]
    assert _notes(_run(tmp_path, script, first=False)) == ["mine"]


def test_ask_waits_for_the_answer_and_runs_an_allowed_command(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    events = _run(repo, "ask Bash python -c pass\nfinish ok", ("answer", "allow: fine"))
    permission = next(e for e in events if e["type"] == "permission")
    assert permission == {"type": "permission", "tool": "Bash", "target": "python -c pass"}
    ran = [e for e in events if e.get("action") == "run"]
    assert ran and ran[0]["argv"] == ["python", "-c", "pass"] and ran[0]["exit"] == 0
    denied = _run(repo, "ask Bash python -c pass\nfinish ok", ("answer", "deny: no"))
    assert not [e for e in denied if e.get("action") == "run"]


def test_rate_limit_and_loop_wait_for_a_message(tmp_path: Path) -> None:
    limited = _run(tmp_path, "ratelimit 5\nnote after\nfinish ok", ("continue", "go"))
    assert limited[1] == {"type": "rate_limited", "reset_in": 5.0, "text": "simulated rate limit"}
    assert _notes(limited) == ["after"]
    looping = _run(tmp_path, "loop same thing\nnote after\nfinish ok", ("nudge", "stop looping"))
    assert _notes(looping)[-1] == "after"
    assert all(n == "same thing" for n in _notes(looping)[:-1])


def test_every_section_answers_every_message_of_its_kind(tmp_path: Path) -> None:
    script = "finish ok\non merged\nnote first\non every merged\nnote again"
    events = _run(tmp_path, script, ("merged", "a"), ("merged", "b"), ("merged", "c"))
    assert _notes(events) == ["first", "again", "again"]


def test_pick_makes_a_commits_change_on_another_base_its_side_winning_a_conflict(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "f.txt").write_text("a\nb\nc\nd\ne\nf\n")
    git(repo, "add", "f.txt")
    git(repo, "commit", "-q", "-m", "f")
    base = git(repo, "rev-parse", "HEAD")
    (repo / "f.txt").write_text("a\nB\nc\nd\ne\nf\n")
    git(repo, "commit", "-q", "-am", "earlier change")
    # The commit to pick changes the line the earlier one did, and another far from it.
    (repo / "f.txt").write_text("a\nBB\nc\nd\ne\nF\n")
    (repo / "new.txt").write_text("new\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "the change")
    change = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "task", base)
    events = _run(repo, f"pick {change}\ncommit picked\nfinish ok")
    picked = next(e for e in events if e.get("action") == "pick")
    assert picked["files"] == ["f.txt", "new.txt"]
    assert (repo / "f.txt").read_text() == "a\nBB\nc\nd\ne\nF\n"
    assert git(repo, "log", "-1", "--format=%s") == "picked" and git(repo, "status", "--porcelain") == ""
    # Picked again where the change is already made: nothing changes.
    events = _run(repo, f"pick {change}\ncommit again\nfinish ok")
    assert next(e for e in events if e.get("action") == "pick")["files"] == []
    assert git(repo, "log", "-1", "--format=%s") == "picked"
