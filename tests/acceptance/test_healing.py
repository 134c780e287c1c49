"""Misbehaving agents in a real run: every fault is detected, repaired, and the run still finishes
with nobody touching anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from czar.paths import ProjectPaths
from czar.store.store import Event, Store
from helpers import czar, git, make_repo, retry_until, write_plan

HEALTH = """
[health]
silent_after = 2
idle_after = 0.3
grace = 1.5
loop_after = 5
"""


def task(tid: str, script: str, *, scope: str | None = None, extra: str = "") -> str:
    scope = scope or f"{tid}.txt"
    head = f'[[tasks]]\nid = "{tid}"\nscope = ["{scope}"]\n{extra}'
    return head + f"body = '''\nDo {tid}.\n\n```czar-sim\n{script}\n```\n'''\n"


def work(tid: str, content: str | None = None) -> str:
    return f"write {tid}.txt <<E\n{content or tid}\nE\ncommit {tid}\nfinish {tid} done"


def events_of(name: str) -> list[Event]:
    store = Store(ProjectPaths.for_project(name))
    try:
        return store.events_after(0, limit=100_000)
    finally:
        store.close()


def _run(tmp_path: Path, name: str, tasks: list[str], workers: int = 3, extra: str = HEALTH) -> dict[str, object]:
    make_repo(tmp_path / "repo")
    plan = write_plan(tmp_path, name, tasks, workers=workers, project_extra="max_rounds = 3\n" + extra)
    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


def test_every_fault_is_detected_and_repaired_without_a_person(tmp_path: Path, czar_home: Path) -> None:
    tasks = [
        task("crashy", f"write crashy.txt <<E\nhalf\nE\ncrash\n{work('crashy')}"),
        task("hangy", f"hang\n{work('hangy')}"),
        task("idler", f"idle\n{work('idler')}"),
        task("looper", f"loop reading the same file again\n{work('looper')}"),
        task("quitter", f"quit\n{work('quitter')}"),
        task("limited", f"ratelimit 1\n{work('limited')}"),
        task("asker", f"ask Bash python -c pass\n{work('asker')}"),
        task(
            "confused",
            f"claim-task crashy\n{work('confused')}\non wrong-task\n"
            "write crashy.txt <<E\nwrong\nE\ncommit wrong work\nfinish wrong",
        ),
    ]
    summary = _run(tmp_path, "faults", tasks)
    assert summary["tasks_merged"] == summary["tasks_total"] == 8
    assert summary["interventions"] == 0
    events = events_of("faults")

    def detected(problem: str) -> list[Event]:
        return [e for e in events if e.kind == "health.detected" and e.payload["problem"] == problem]

    def repaired(kind: str, task_id: str) -> bool:
        return any(e.kind == f"health.{kind}" and e.task_id == task_id for e in events)

    expectations: list[tuple[str, str, str]] = [
        ("crashy", "agent_exited", "restart"),
        ("quitter", "agent_exited", "restart"),
        ("hangy", "silent", "restart"),
        ("idler", "idle", "nudge"),
        ("looper", "looping", "nudge"),
        ("limited", "rate_limit_over", "continue"),
        ("confused", "wrong_task", "correct"),
    ]
    for task_id, problem, repair in expectations:
        assert any(e.task_id == task_id for e in detected(problem)), (task_id, problem)
        assert repaired(repair, task_id), (task_id, repair)
    assert repaired("nudge", "hangy"), "a silent agent is nudged before it is restarted"
    allowed = [e for e in events if e.kind == "permission.decided" and e.task_id == "asker"]
    assert allowed and allowed[0].payload["decision"] == "allow" and allowed[0].payload["by"] == "policy"
    # The wrong work was undone: the integration branch has the right text in each file.
    repo = tmp_path / "repo"
    for tid in ("crashy", "confused", "hangy"):
        assert git(repo, "show", f"czar/integration:{tid}.txt") == tid


def test_out_of_scope_edits_and_early_finishes_go_back_to_the_agent(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What you ignore beyond the repository's .gitignore (its own exclude file, your global one)
    # and tools' caches are not the task's work: its `git add -A` leaves them out, and nothing
    # sends it back for them (a clone has neither file, and every task committed them).
    repo = make_repo(tmp_path / "repo")
    (repo / ".git" / "info" / "exclude").write_text("# mine\nnotes.local\n")
    config = tmp_path / "config"
    (config / "git").mkdir(parents=True)
    (config / "git" / "ignore").write_text(".idea/\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    junk = "write notes.local <<E\nn\nE\nwrite .idea/ws.xml <<E\ni\nE\nwrite .pytest_cache/v <<E\nc\nE\n"
    tasks = [
        task(
            "wanderer",
            "write wanderer.txt <<E\nw\nE\nwrite elsewhere.txt <<E\nx\nE\n"
            # A binary file and an empty one: a diff has no lines to show of them (they went by).
            "run python3 -c \"open('logo.bin', 'wb').write(bytes(range(256)))\"\nrun touch empty.txt\n"
            f"{junk}commit wander\nfinish ok\n"
            "on feedback\nrun git rm -q elsewhere.txt logo.bin empty.txt\ncommit back in scope\nfinish fixed",
        ),
        task("hasty", f"finish all done, honest\non feedback\n{work('hasty')}"),
    ]
    plan = write_plan(tmp_path, "scope", tasks, workers=2, project_extra="max_rounds = 3\n" + HEALTH)
    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 2
    failures = {e.task_id: e.payload["evidence"] for e in events_of("scope") if e.kind == "verify.failed"}
    assert "outside your task's scope" in failures["wanderer"]
    assert all(name in failures["wanderer"] for name in ("elsewhere.txt", "logo.bin", "empty.txt")), failures
    assert not any(name in failures["wanderer"] for name in ("notes.local", ".idea", ".pytest_cache")), failures
    assert "no commits" in failures["hasty"]
    files = git(repo, "ls-tree", "-r", "--name-only", "czar/integration").split()
    assert not {"elsewhere.txt", "logo.bin", "empty.txt", "notes.local", ".idea/ws.xml"} & set(files)
    assert "hasty.txt" in files and "wanderer.txt" in files and not [f for f in files if "cache" in f]


def test_an_agent_killed_in_the_middle_of_a_git_command_leaves_nothing_locked(tmp_path: Path, czar_home: Path) -> None:
    # On its first start the agent leaves what a git command killed midway leaves (the index's
    # lock), then hangs until czar restarts it: the next start must be able to commit.
    lock_once = '[ "$CZAR_FIRST_START" = 1 ] && : > .git/index.lock; true'
    script = f"write .git/lock-once.sh <<E\n{lock_once}\nE\nrun sh .git/lock-once.sh\nhang\n{work('locked')}"
    tasks = [task("locked", script)]
    summary = _run(tmp_path, "locks", tasks, workers=1)
    assert summary["tasks_merged"] == 1
    events = events_of("locks")
    assert any(e.kind == "health.restart" and e.task_id == "locked" for e in events)
    assert not [e for e in events if e.kind == "verify.failed"]


def test_agents_use_the_czar_commands_and_hear_when_what_they_wait_for_merges(tmp_path: Path, czar_home: Path) -> None:
    # The first finishes only once the second waits for it (on the board): no race with how fast
    # a busy machine runs the second's commands.
    until_waited = "run sh -c \"until czar board | grep -q 'waits for first'; do sleep 0.2; done\"\n"
    first = task("first", until_waited + work("first"))
    # The second task reports through the czar command, is refused a path the first holds, waits
    # for the first, and brings it in once told it merged.
    second = task(
        "second",
        "run czar report --task second starting the second task\n"
        "run czar claim first.txt\n"
        "run czar board\n"
        "run czar blocked --on first needs the first file\n"
        "idle\n"
        "on merged\n"
        "run git merge -q czar/integration\n"
        "write second.txt <<E\nsecond\nE\nrun czar report --checkpoint 1 wrote it\ncommit second\n"
        "run czar done second is done",
    )
    # The later task is still at work when the first merges, however slow the machine: it hands in
    # only once told that the first merged. (It used to watch the board for the second's wait to
    # come and go: a slow machine could start it after the wait had gone, and it watched forever.)
    later = task("later", "idle\non merged\n" + work("later"), extra='after = ["first"]\n')
    # Patient thresholds: these agents are slow on purpose, not unwell.
    summary = _run(tmp_path, "talk", [first, second, later], workers=3, extra="[health]\nsilent_after = 60\n")
    assert summary["tasks_merged"] == 3
    events = events_of("talk")
    refused = [e for e in events if e.kind == "claim.refused" and e.task_id == "second"]
    holder = next(e.worker_id for e in events if e.kind == "task.assigned" and e.task_id == "first")
    assert refused and refused[0].payload["reason"] == f"first.txt is held by task first (worker {holder})"
    told = {(e.task_id, e.payload["about"]) for e in events if e.kind == "worker.told"}
    assert ("second", "merged") in told and ("later", "merged") in told
    assert any(e.kind == "agent.progress" and e.task_id == "second" for e in events)
    blocked = [e for e in events if e.kind == "health.detected" and e.task_id == "second"]
    assert not blocked, "an agent that waits for a task is not unwell"
    assert git(tmp_path / "repo", "show", "czar/integration:second.txt") == "second"


def test_a_person_answers_what_no_rule_decides(tmp_path: Path, czar_home: Path) -> None:
    make_repo(tmp_path / "repo")
    plan = write_plan(
        tmp_path,
        "asking",
        [task("deploy", f"ask Bash terraform apply\n{work('deploy')}"), task("other", work("other"))],
        workers=2,
        project_extra="[health]\npermission_timeout = 600\n",
    )
    czar("up", str(plan), check=True)

    def waiting() -> bool:
        status = json.loads(czar("status", str(plan), "--json", check=True).stdout)
        return any(w["state"] == "waiting_permission" for w in status["workers"])

    retry_until(waiting, timeout=60, what="the permission request")
    alerts = [e for e in events_of("asking") if e.kind == "alert"]
    assert alerts and "terraform apply" in alerts[-1].payload["message"]
    worker = next(e.worker_id for e in events_of("asking") if e.kind == "permission.asked")
    assert worker is not None
    assert "allowed" in czar("allow", worker, "--plan", str(plan), check=True).stdout
    result = czar("run", str(plan), "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 2
    people = [e for e in events_of("asking") if e.actor == "person"]
    assert [e.kind for e in people] == ["permission.decided"]
    wrong = czar("allow", "w9", "--plan", str(plan))
    assert wrong.returncode == 1 and wrong.stderr.strip() == "czar: no worker 'w9' in project asking"


def test_alerts_reach_the_webhook_and_the_status(tmp_path: Path, czar_home: Path) -> None:
    import http.server
    import threading

    received: list[dict[str, object]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        make_repo(tmp_path / "repo")
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        hopeless = task("hopeless", work("hopeless"), extra='accept = ["python -c \\"raise SystemExit(3)\\""]\n')
        plan = write_plan(
            tmp_path,
            "alerting",
            [hopeless],
            workers=1,
            project_extra=f'max_rounds = 1\n\n[alerts]\nwebhook = "{url}"\nlevel = "critical"\n',
        )
        result = czar("run", str(plan), "--json", timeout=120)
        assert result.returncode == 1
        retry_until(lambda: received, what="the alert to reach the webhook")
        (alert,) = received
        assert alert["project"] == "alerting" and alert["level"] == "critical" and alert["task"] == "hopeless"
        assert "failed verification" in str(alert["message"])
        status = json.loads(czar("status", str(plan), "--json", check=True).stdout)
        assert [a["message"] for a in status["alerts"]] == [alert["message"]]
        assert status["tasks"][0]["state"] == "failed"
    finally:
        server.shutdown()
        server.server_close()
