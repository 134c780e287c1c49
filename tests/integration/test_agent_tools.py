"""The agent tools on a real store and repository: identity, reports, claims, finishing, waiting."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from czar.agent_tools.identity import Caller, CallerError, caller_from_env, token_digest
from czar.agent_tools.service import AgentTools
from czar.agents.claude import ClaudeHooks
from czar.core.asked import Asked
from czar.core.host_commands import MessageKind
from czar.core.policy import Decision
from czar.core.states import TaskState, WorkerState
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.project import Project, open_project
from helpers import git, make_repo, retry_until, sim_task, write_plan


@pytest.fixture
def project(tmp_path: Path, czar_home: Path) -> Project:
    make_repo(tmp_path / "repo")
    tasks = [
        sim_task("a", files={"src/a.py": "a\n"}),
        sim_task("b", files={"src/b.py": "b\n"}),
        sim_task("c", files={"docs/c.md": "c\n"}),
    ]
    project = open_project(write_plan(tmp_path, "tools", tasks, workers=3))
    project.sync_plan()
    project.git.ensure_branch("czar/integration", "main")
    with project.store.write() as conn:
        for tid in ("a", "b", "c"):
            Store.move_task(conn, tid, TaskState.READY, reason="test")
        for i, wid in enumerate(("w1", "w2", "w3")):
            Store.set_worker(conn, wid, state=WorkerState.IDLE, token=token_digest(f"secret-{i + 1}"))
    actions = Actions(project)
    actions.assign("a", "w1", "test")
    actions.assign("b", "w2", "test")
    return project


def tools(project: Project, worker: str = "w1", token: str = "secret-1") -> AgentTools:
    return AgentTools.for_caller(Caller(project.paths, worker, token))


def worker_state(project: Project, worker: str = "w1") -> str:
    with project.store.read() as conn:
        return str(Store.worker(conn, worker).state)


def asking(project: Project, target: str) -> tuple[threading.Thread, list[tuple[Decision, str]]]:
    """w1's agent asking to fetch ``target``, on a thread of its own (its call waits for a
    person); the list gets the answer."""
    answers: list[tuple[Decision, str]] = []
    call = threading.Thread(target=lambda: answers.append(tools(project).decide_permission("WebFetch", target)))
    call.start()
    return call, answers


def task(project: Project, tid: str) -> object:
    with project.store.read() as conn:
        return Store.task(conn, tid)


def test_a_worker_acts_only_for_itself(project: Project) -> None:
    with pytest.raises(CallerError, match="does not belong to worker w2"):
        tools(project, "w2", "secret-1")
    with pytest.raises(CallerError, match="no worker 'w9'"):
        tools(project, "w9", "secret-1")
    with pytest.raises(CallerError, match="w3 has no task"):
        tools(project, "w3", "secret-3").report("hello", task="c")
    with pytest.raises(CallerError, match="CZAR_PROJECT, CZAR_WORKER, CZAR_TOKEN not set"):
        caller_from_env({})
    caller = caller_from_env(
        {"CZAR_PROJECT": "tools", "CZAR_WORKER": "w1", "CZAR_TOKEN": "x", "CZAR_AGENT_LAUNCH": "2"}
    )
    assert (caller.worker, caller.launch) == ("w1", 2)


def test_the_first_report_names_the_task_and_starts_it(project: Project) -> None:
    t = tools(project)
    with pytest.raises(CallerError, match="first report must name your task"):
        t.report("starting")
    assert "acknowledged" in t.report("parse the config", task="a")
    row = task(project, "a")
    assert row.state == "running" and row.last_note == "parse the config"  # type: ignore[attr-defined]
    assert "checkpoint 1 recorded" in t.report("tokenizer done", checkpoint=1)
    assert task(project, "a").checkpoint == 1  # type: ignore[attr-defined]


def test_naming_another_task_is_recorded_and_its_work_is_not_submitted(project: Project) -> None:
    t = tools(project, "w2", "secret-2")
    assert "your task is b" in t.acknowledge("a", "the wrong goal")
    with project.store.read() as conn:
        attempt = Store.attempt(conn, task(project, "b").attempt_id)  # type: ignore[attr-defined]
    assert attempt.named_task == "a"
    assert t.done("did a").startswith("not submitted")
    assert task(project, "b").state == "running"  # type: ignore[attr-defined]


def test_claims_refuse_with_the_holder_named(project: Project) -> None:
    t = tools(project)
    t.acknowledge("a")
    refused, granted = t.claim(["src/b.py", "docs/notes.md"])
    assert not refused.granted and refused.reason == "src/b.py is held by task b (worker w2)"
    assert granted.granted
    (again,) = tools(project, "w2", "secret-2").claim(["docs/*.md"])
    assert not again.granted and "task a (worker w1)" in again.reason
    (bad,) = t.claim(["/etc/passwd"])
    assert not bad.granted and "absolute" in bad.reason
    scope, extra, unknown = t.release(["src/a.py", "docs/notes.md", "x"])
    assert (scope.granted, extra.granted, unknown.granted) == (False, True, False)
    assert "part of your task's scope" in scope.reason
    (now_free,) = tools(project, "w2", "secret-2").claim(["docs/*.md"])
    assert now_free.granted
    # A task's claims are few (found by a probe: thousands, each compared with every other's).
    many = t.claim([f"lib/f{i}.py" for i in range(64)])
    assert sum(r.granted for r in many) == 63  # 64 with its scope's src/a.py
    assert many[-1].reason == "your task holds 64 claims already: claim folders (src/parser/) rather than files"


def test_done_submits_and_the_board_shows_everyone(project: Project) -> None:
    t = tools(project)
    t.acknowledge("a", "write a")
    t.report("halfway", checkpoint=1)
    lines = [row.line() for row in t.board()]
    assert "w1 (working) works on task a" in lines[0] and "holds src/a.py" in lines[0] and "halfway" in lines[0]
    assert lines[2] == "w3 (idle): no task"
    assert "submitted" in t.done("a is written")
    assert task(project, "a").state == "submitted"  # type: ignore[attr-defined]
    assert "already submitted" in t.done("again")


def test_work_left_uncommitted_or_on_another_branch_is_not_handed_in_until_it_is_on_the_task_branch(
    project: Project,
) -> None:
    # Found by a probe with the real Claude Code and Codex: `done` was taken with a file of the task
    # never committed, or with commits on a branch the agent made; the task branch merged without
    # them, and they were lost with the checkout.
    t = tools(project)
    t.acknowledge("a", "write a")
    checkout = project.paths.worktree("a")
    (checkout / "src").mkdir(exist_ok=True)
    (checkout / "src" / "a.py").write_text("the work\n")
    (checkout / "scratch.txt").write_text("the agent's notes, outside the task's scope\n")
    with pytest.raises(CallerError, match=r"not submitted: changes not committed in src/a\.py: czar verifies"):
        t.done("a is written")
    git(checkout, "add", "src/a.py")
    git(checkout, "commit", "-q", "-m", "a")
    (checkout / "README.md").write_text("changed, not committed\n")  # a file of the repository
    with pytest.raises(CallerError, match=r"changes not committed in README\.md"):
        t.done("a is written")
    git(checkout, "checkout", "-q", "README.md")
    git(checkout, "checkout", "-q", "-b", "feature")  # a branch of its own, no commit yet: nothing lost
    git(checkout, "commit", "-q", "--allow-empty", "-m", "more work, on the feature branch")
    with pytest.raises(CallerError, match="your checkout is on branch feature, not on your task's branch czar/a"):
        t.done("a is written")
    git(checkout, "checkout", "-q", "--detach", "HEAD")
    with pytest.raises(CallerError, match=r"on a detached commit \([0-9a-f]{10}\)"):
        t.done("a is written")
    assert task(project, "a").state == "running"  # type: ignore[attr-defined]
    refused = [e for e in project.store.events_after(0) if e.kind == "agent.finished"]
    assert len(refused) == 4 and all(e.payload["refused"] for e in refused)
    git(checkout, "checkout", "-q", "czar/a")
    git(checkout, "merge", "-q", "feature")
    assert "submitted" in t.done("a is written")  # scratch.txt, outside the scope, is not the work
    assert checkout.joinpath("scratch.txt").exists()


def test_blocked_and_ask_wait_and_alert(project: Project) -> None:
    t = tools(project)
    t.acknowledge("a")
    with pytest.raises(CallerError, match="no task 'zzz'"):
        t.blocked("zzz", "need it")
    assert "as soon as task b merges" in t.blocked("b", "needs b's parser")
    assert task(project, "a").blocked_on == "b"  # type: ignore[attr-defined]
    assert "a person has been alerted" in t.ask("which format?")
    alerts = [e for e in project.store.events_after(0) if e.kind == "alert"]
    assert alerts and "asks: which format?" in alerts[-1].payload["message"]


def test_permissions_follow_the_policy_and_undecided_ones_wait(project: Project) -> None:
    t = tools(project)
    t.acknowledge("a")
    assert t.permission("Bash", "python -m pytest -q").decision is Decision.ALLOW
    assert t.permission("Bash", "git push origin main").decision is Decision.DENY
    assert t.permission("WebFetch", "https://example.com").decision is Decision.ASK
    with project.store.read() as conn:
        assert Store.worker(conn, "w1").state == "waiting_permission"
    decided = [e.payload["decision"] for e in project.store.events_after(0) if e.kind.startswith("permission.")]
    assert decided == ["allow", "deny", "ask"]


def test_a_replaced_agent_process_is_ignored(project: Project) -> None:
    stale = AgentTools(project.store, "w1", launch=1)
    with project.store.write() as conn:
        attempt = task(project, "a").attempt_id  # type: ignore[attr-defined]
        Store.set_attempt(conn, attempt, stale_launch=1)
    with pytest.raises(CallerError, match="was replaced"):
        stale.done("late")
    assert AgentTools(project.store, "w1", launch=2).report("fresh", task="a")


def test_a_task_taken_back_fresh_starts_over_from_the_integration_branch(project: Project) -> None:
    from helpers import git

    worktree = project.paths.worktree("a")
    (worktree / "wrong.txt").write_text("work for another task\n")
    git(worktree, "add", "wrong.txt")
    git(worktree, "commit", "-q", "-m", "wrong work")
    actions = Actions(project)
    with project.store.write() as conn:
        actions.requeue(conn, "a", "its agent named task b twice", fresh=True)
    assert task(project, "a").state == "ready"  # type: ignore[attr-defined]
    with project.store.write() as conn:
        Store.set_worker(conn, "w1", state=WorkerState.IDLE)
    actions.assign("a", "w1", "again")
    repo = project.plan.repo
    assert git(repo, "rev-parse", "czar/a") == git(repo, "rev-parse", "czar/integration")
    assert not (worktree / "wrong.txt").exists()
    note = task(project, "a").note  # type: ignore[attr-defined]
    assert "fresh branch" in note


def test_a_stop_before_handing_in_sends_back_once_then_waits_for_input(project: Project) -> None:
    t = tools(project)
    t.report("write a", task="a")
    reason = t.on_hook(ClaudeHooks().read({"hook_event_name": "Stop", "transcript_path": "/x/s.jsonl"}))
    assert reason and "Task a is not handed in yet" in reason
    with project.store.read() as conn:
        assert Store.worker(conn, "w1").state == WorkerState.WORKING.value
    again = ClaudeHooks().read({"hook_event_name": "Stop", "stop_hook_active": True})
    assert t.on_hook(again) is None  # sent back already: let it stop
    with project.store.read() as conn:
        assert Store.worker(conn, "w1").state == WorkerState.WAITING_INPUT.value
    events = project.store.events_after(0)
    hooks = [e for e in events if e.kind == "agent.hook"]
    assert hooks[0].payload["detail"]["transcript_path"] == "/x/s.jsonl"
    assert [h.payload["about"] for h in hooks] == ["turn_end", "turn_end"]
    assert [e.kind for e in events if e.kind in ("agent.sent_back", "agent.idle")] == ["agent.sent_back", "agent.idle"]


def test_a_turn_its_output_ends_is_sent_back_as_a_hook_would_be_with_no_hook_recorded(project: Project) -> None:
    t = tools(project)
    t.report("write a", task="a")
    with project.store.read() as conn:
        before = Store.worker(conn, "w1").last_output
    reason = t.turn_ended(again=False)
    assert reason and "Task a is not handed in yet" in reason
    with project.store.read() as conn:
        assert (Store.worker(conn, "w1").last_output or 0) > (before or 0)  # a sign of life
    assert t.turn_ended(again=True) is None
    with project.store.read() as conn:
        assert Store.worker(conn, "w1").state == WorkerState.WAITING_INPUT
    kinds = [e.kind for e in project.store.events_after(0)]
    assert "agent.hook" not in kinds  # nothing pretends to be a hook
    assert kinds.count("agent.sent_back") == 1 and kinds.count("agent.idle") == 1


def test_a_prompt_is_recorded_by_its_digest(project: Project) -> None:
    from czar.agent_tools.service import digest

    tools(project).on_hook(
        ClaudeHooks().read({"hook_event_name": "UserPromptSubmit", "prompt": "line one\r\nline two\n"})
    )
    hook = next(e for e in project.store.events_after(0) if e.kind == "agent.hook")
    assert hook.payload["detail"]["prompt_digest"] == digest("line one\nline two")
    assert "prompt" not in hook.payload["detail"]  # the text itself is not copied into the store


def test_an_unreachable_model_is_one_event_per_outage_and_its_clock_follows_the_last_failure(
    project: Project,
) -> None:
    t = tools(project)
    t.report("starting", task="a")

    def worker() -> Any:
        with project.store.read() as conn:
            return Store.worker(conn, "w1")

    t.model_unreachable("claude's model API: 401 (1 failed request in a row)")
    first = worker()
    assert first.state == WorkerState.MODEL_UNREACHABLE.value and "401" in first.detail
    with project.store.write() as conn:  # as if it had been a while
        Store.set_worker(conn, "w1", state_since=first.state_since - 30)
    t.model_unreachable("claude's model API: 401 (2 failed requests in a row)")
    again = worker()
    assert again.state_since >= first.state_since and "2 failed requests" in again.detail
    t.model_reachable()
    assert worker().state == WorkerState.WORKING.value
    kinds = [e.kind for e in project.store.events_after(0) if e.kind.startswith("agent.model_")]
    assert kinds == ["agent.model_unreachable", "agent.model_reachable"]


def test_a_persons_answer_decides_the_request_they_saw_and_the_next_waits_its_turn(project: Project) -> None:
    """Found in review: two requests of one worker waiting at once (two tool calls of one turn)
    were both released by one `czar allow`, the second shown in place of the first: an agent could
    have a person allow `terraform destroy` by asking for `terraform plan` after it."""
    import json

    from czar.supervisor.people import answer_permission

    t = tools(project)
    t.acknowledge("a")
    answers: dict[str, tuple[Decision, str]] = {}

    def ask(target: str) -> None:
        answers[target] = tools(project).decide_permission("WebFetch", target)

    def shown() -> str | None:
        with project.store.read() as conn:
            w = Store.worker(conn, "w1")
        return json.loads(w.detail)["target"] if w.state == "waiting_permission" else None

    first = threading.Thread(target=ask, args=("https://example.com/destroy",))
    first.start()
    retry_until(lambda: shown() == "https://example.com/destroy", what="the first request")
    second = threading.Thread(target=ask, args=("https://example.com/plan",))
    second.start()
    time.sleep(0.5)
    assert shown() == "https://example.com/destroy"  # the second waits its turn, not shown over it
    answer_permission(project, "w1", False)  # the person denies what they see
    first.join(timeout=10)
    assert answers["https://example.com/destroy"][0] is Decision.DENY
    assert "https://example.com/plan" not in answers  # still waiting: now it is shown
    retry_until(lambda: shown() == "https://example.com/plan", what="the second request")
    answer_permission(project, "w1", True)
    second.join(timeout=10)
    assert answers["https://example.com/plan"][0] is Decision.ALLOW
    decided = [e.payload for e in project.store.events_after(0) if e.kind == "permission.decided"]
    assert [(d["target"], d["decision"]) for d in decided if d["by"] == "person"] == [
        ("https://example.com/destroy", "deny"),
        ("https://example.com/plan", "allow"),
    ]


def test_a_request_asked_again_after_its_call_was_cut_takes_the_place_of_the_one_shown(project: Project) -> None:
    """The agent's call was cut while a person had not answered yet (czar's tools server killed:
    the call's waiting ended with it, the request stayed shown), and the agent asks again: the one
    shown is its request, and the person's answer to it is the answer. The same request twice
    while the first still waits is shown twice; one shown cut is never the same as another."""
    import subprocess

    from czar.supervisor.people import answer_permission

    tools(project).acknowledge("a")
    gone = subprocess.Popen(["true"])
    gone.wait()  # the process whose call waited: ended

    def shown(target: str, waiter: int, ask: int) -> None:
        with project.store.write() as conn:
            detail = Asked("WebFetch", target[:1000], time.time(), ask, waiter).dumps()
            Store.set_worker(conn, "w1", state=WorkerState.WAITING_PERMISSION, detail=detail)

    shown("https://example.com/x", gone.pid, 1)
    again, asked = asking(project, "https://example.com/x")
    time.sleep(0.5)
    assert not asked  # waits for the person
    answer_permission(project, "w1", True)
    again.join(timeout=10)
    assert asked == [(Decision.ALLOW, "allowed by a person")]
    kinds = [e.kind for e in project.store.events_after(0) if e.kind.startswith("permission.")]
    assert kinds == ["permission.decided"]  # one answer: nothing asked twice
    # The first call still waits (its process is alive): the second waits its turn.
    shown("https://example.com/x", os.getpid(), 2)
    assert tools(project)._decide("WebFetch", "https://example.com/x")[1] is None
    # One shown cut (longer than the 1000 characters kept) is not taken for the same as another.
    long = "https://example.com/" + "x" * 1000
    shown(long, gone.pid, 3)
    assert tools(project)._decide("WebFetch", long + "/other")[1] is None
    assert tools(project)._decide("WebFetch", long[:1000])[1] == 3  # (the same, whole: taken)


def test_a_request_the_policy_decides_leaves_the_one_shown_to_a_person_waiting(project: Project) -> None:
    """Found in review (older): two tool calls of one turn, one shown to a person and one the
    policy allows: the allowed one set the worker to work, and the one shown was denied at once as
    withdrawn, before any person could answer it."""

    from czar.supervisor.people import answer_permission

    t = tools(project)
    t.acknowledge("a")
    first, asked = asking(project, "https://example.com/x")
    retry_until(lambda: worker_state(project) == "waiting_permission", what="the request shown")
    inside = str(project.paths.worktree("a") / "notes.txt")
    assert tools(project).decide_permission("Write", inside)[0] is Decision.ALLOW
    tools(project).acknowledge("a")  # a report of a parallel call, its model heard again: the same
    tools(project).model_reachable()
    time.sleep(0.5)
    assert not asked and worker_state(project) == "waiting_permission"  # still shown, still waiting
    answer_permission(project, "w1", True)
    first.join(timeout=10)
    assert asked == [(Decision.ALLOW, "allowed by a person")]


def test_a_persons_answer_to_a_question_leaves_a_permission_asked_since_waiting(project: Project) -> None:
    """Found in review (older): the agent asked a question, then made a tool call a person must
    allow; the person's answer to the question (`czar tell`) denied that request as withdrawn."""

    from czar.supervisor.people import answer_permission, tell

    t = tools(project)
    t.acknowledge("a")
    t.ask("which port should the server use?")
    waiting, asked = asking(project, "https://example.com/x")
    retry_until(lambda: worker_state(project) == "waiting_permission", what="the request shown")
    tell(project, "w1", "use 8080")
    time.sleep(0.5)
    assert not asked and worker_state(project) == "waiting_permission"
    assert next(t for t in project.store.tasks() if t.id == "a").blocked_on is None  # the question: answered
    answer_permission(project, "w1", True)
    waiting.join(timeout=10)
    assert asked == [(Decision.ALLOW, "allowed by a person")]


def test_an_answer_given_between_the_waiting_calls_two_looks_is_not_taken_for_a_withdrawal(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen on a loaded machine: the person answered after the waiting call looked for an answer
    and before it looked at the worker, which no longer waited: the request counted as withdrawn
    and was denied though the person had allowed it."""
    from czar.supervisor.people import answer_permission

    t = tools(project)
    t.acknowledge("a")
    real = AgentTools._answer
    looks: list[int] = []

    def a_moment_early(self: AgentTools, since: int, asked: int) -> Any:
        looks.append(asked)
        if len(looks) == 1:  # the first look finds nothing; the person answers right after it
            answer_permission(project, "w1", True)
            return None, since
        return real(self, since, asked)

    monkeypatch.setattr(AgentTools, "_answer", a_moment_early)
    assert t.decide_permission("WebFetch", "https://example.com/x") == (Decision.ALLOW, "allowed by a person")
    assert len(looks) == 2


def test_a_request_shown_to_a_person_outlasts_a_rate_limit_an_outage_and_a_stand_off(project: Project) -> None:
    """Found by review (older): a rate limit, a model out of reach, a stand-off the radar ordered,
    a `czar blocked` or a question of the agent's, or a go-on, each set the worker's state over a
    request shown to a person, and the waiting call took that for a withdrawal and denied it before
    anyone answered. The request stays shown through them all; the person's answer leaves the worker
    waiting still for what its task waits for, and working once it waits for nothing."""
    from czar.supervisor.people import answer_permission

    t = tools(project)
    t.acknowledge("a")
    call, asked = asking(project, "https://example.com/x")
    retry_until(lambda: worker_state(project) == "waiting_permission", what="the request shown")
    t.rate_limited(30.0, "usage limit reached")
    t.model_unreachable("claude's model API: 529 (3 failed requests in a row)")
    t.blocked("b", "needs the parser of task b")
    actions = Actions(project)
    with project.store.write() as conn:
        actions.wait_for(conn, Store.task(conn, "a"), {"c"})  # the radar: stand off for task c
        actions.finished(conn, "c", MessageKind.GO_ON, "task c merged: go on")  # one of its two waits ends
    time.sleep(0.5)
    assert not asked and worker_state(project) == "waiting_permission"  # still shown, still waiting
    kinds = [e.kind for e in project.store.events_after(0)]
    assert "agent.rate_limited" in kinds  # recorded all the same
    answer_permission(project, "w1", True)
    call.join(timeout=10)
    assert asked == [(Decision.ALLOW, "allowed by a person")]
    with project.store.read() as conn:
        worker = Store.worker(conn, "w1")
    assert (worker.state, worker.detail) == ("blocked", "stands off for b")  # what its task waits for still
    with project.store.write() as conn:
        actions.finished(conn, "b", MessageKind.GO_ON, "task b merged: go on")
    assert worker_state(project) == "working"


def test_a_request_made_after_handing_in_stays_shown_when_the_work_is_sent_back(project: Project) -> None:
    """Found by review: the agent asked a person after `done` (the rest of its turn); its
    verification failed, and the send-back to its session denied the request as withdrawn."""
    from czar.supervisor.people import answer_permission

    t = tools(project)
    t.acknowledge("a")
    t.done("did a")
    call, asked = asking(project, "https://example.com/x")
    retry_until(lambda: worker_state(project) == "waiting_permission", what="the request shown")
    with project.store.write() as conn:
        task = Store.task(conn, "a")
        Actions(project).send_back(
            conn, task, MessageKind.FEEDBACK, "tests fail", held=True, reason="not verified", pool_reason="x"
        )
    time.sleep(0.5)
    assert not asked and worker_state(project) == "waiting_permission"
    answer_permission(project, "w1", True)
    call.join(timeout=10)
    assert asked == [(Decision.ALLOW, "allowed by a person")] and worker_state(project) == "working"


def test_a_rate_limit_met_while_a_request_is_shown_is_waited_out_after_the_answer(project: Project) -> None:
    from czar.supervisor.people import answer_permission

    t = tools(project)
    t.acknowledge("a")
    call, asked = asking(project, "https://example.com/x")
    retry_until(lambda: worker_state(project) == "waiting_permission", what="the request shown")
    assert not asked
    since = project.store.last_event_id()
    t.rate_limited(3600.0, "usage limit reached")
    t.model_unreachable("529 overloaded (3 failed requests in a row)")
    assert {"agent.rate_limited", "agent.model_unreachable"} <= {e.kind for e in project.store.events_after(since)}
    answer_permission(project, "w1", True)
    call.join(timeout=10)
    with project.store.read() as conn:
        worker = Store.worker(conn, "w1")
    assert worker.state == WorkerState.RATE_LIMITED.value and worker.wait_until is not None
    assert worker.wait_until > time.time() + 3000  # the health round says continue at the reset


def test_a_tool_call_while_standing_off_is_no_end_of_the_wait(project: Project) -> None:
    """Found by review: a call the policy allowed set a worker standing off for another task to
    working, and the health round then took its waiting for silence."""
    t = tools(project)
    t.acknowledge("a")
    with project.store.write() as conn:
        Actions(project).wait_for(conn, Store.task(conn, "a"), {"b"})
        worktree = Store.attempt(conn, Store.task(conn, "a").attempt_id).worktree
    assert worker_state(project) == "blocked"
    assert tools(project).permission("Read", f"{worktree}/src/a.py").decision is Decision.ALLOW
    t.report("reading while I wait", task="a")
    assert worker_state(project) == "blocked"
    with project.store.write() as conn:
        Actions(project).finished(conn, "b", MessageKind.GO_ON, "task b merged: go on")
    assert worker_state(project) == "working"


@pytest.mark.timeout(120)
def test_czars_commit_for_an_agent_holds_no_write_of_the_store(project: Project, tmp_path: Path) -> None:
    """Found by a probe: for an agent that does not commit (Codex), `done` ran git in the agent's
    checkout inside its write: a clean filter of the agent's that waited held the store for two
    minutes, and the supervisor and the worker hosts, unable to write, ended."""
    with project.store.write() as conn:
        Store.set_worker(conn, "w1", agent="codex")
    w1 = tools(project)
    w1.report("on it", task="a")
    checkout = project.paths.worktree("a")
    gate = tmp_path / "gate"
    git_config = checkout / ".git" / "config"
    git_config.write_text(
        git_config.read_text()
        # (Quoted: a ';' would start a comment in git's configuration.)
        + f'[filter "slow"]\n\tclean = "sh -c \'until [ -e {gate} ]; do sleep 0.05; done; cat\'"\n'
    )
    (checkout / ".gitattributes").write_text("*.py filter=slow\n")
    (checkout / "src").mkdir(exist_ok=True)
    (checkout / "src" / "a.py").write_text("the work\n")
    said: list[object] = []

    def finish() -> None:
        try:
            said.append(w1.done("the work"))
        except Exception as exc:  # (said, for the assertion below)
            said.append(exc)

    # Sent twice (a host's resend after a dropped connection): one commit, and no git refusal
    # for the second (found by a review: index.lock exists).
    calls = [threading.Thread(target=finish) for _ in range(2)]
    for call in calls:
        call.start()
    try:
        time.sleep(0.5)  # (the commit is under way: git waits on the filter)
        assert all(call.is_alive() for call in calls), said
        with project.store.write() as conn:  # not held: another writer goes on at once
            Store.set_worker(conn, "w2", last_output=time.time())
    finally:
        gate.touch()
        for call in calls:
            call.join(60)
    assert len(said) == 2 and not any(isinstance(s, Exception) for s in said), said
    assert any("submitted" in str(s) for s in said), said
    assert task(project, "a").state is TaskState.SUBMITTED  # type: ignore[attr-defined]
    commits = [e for e in project.store.events_after(0) if e.kind == "agent.commit" and e.payload.get("by") == "czar"]
    assert len(commits) == 1


def test_a_task_changed_in_the_plan_after_it_started_is_said_to_go_on_as_given(project: Project) -> None:
    # Found by a probe: a dependency given in the plan to a task at work was dropped without a word.
    from czar.supervisor.project import changed_started

    assert changed_started(project) == []
    text = project.plan.path.read_text()
    project.plan.path.write_text(text.replace("Do a.", "Do a, and more.").replace("Do c.", "Do c, and more."))
    (warning,) = changed_started(open_project(project.plan.path))
    assert warning.startswith(f"task(s) a changed in {project.plan.path.name} after they started")  # not c: not started
