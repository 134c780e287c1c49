"""Whole runs through the `czar` command: plan -> workers in tmux -> verified merges."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from czar.paths import ProjectPaths
from czar.runtime.proc import find_by_env
from czar.supervisor.outcome import integration_check
from czar.supervisor.project import open_project
from helpers import czar, git, lfs_repo, make_repo, retry_until, sim_task, write_plan

CHECK = ["python", "-c", "import pathlib, sys; sys.exit(0 if pathlib.Path('{f}').read_text() == '{c}\\n' else 1)"]


def _plan(root: Path, name: str) -> Path:
    make_repo(root / "repo")
    tasks = [
        sim_task("a", accept=["python -c \"assert open('a.txt').read() == 'a\\n'\""]),
        sim_task("b"),
        sim_task("c", deps=("a",)),
        sim_task("d", deps=("a", "b")),
        sim_task("e", deps=("c", "d"), files={"e.txt": "e\n"}),
    ]
    return write_plan(root, name, tasks, workers=3, project_extra='accept = ["git status --porcelain"]')


def _user_checkout(repo: Path) -> dict[str, str]:
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "branch": git(repo, "symbolic-ref", "HEAD"),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
        "index": git(repo, "ls-files", "--stage"),
        "stash": git(repo, "stash", "list"),
        "worktree_file": (repo / "README.md").read_text(),
    }


def test_run_merges_everything_and_never_touches_the_users_checkout(tmp_path: Path, czar_home: Path) -> None:
    plan = _plan(tmp_path, "runs")
    repo = tmp_path / "repo"
    # The user is in the middle of something: a stash, a staged change, an unstaged edit, a new file.
    (repo / "README.md").write_text("# sample\nstashed\n")
    git(repo, "stash", "-q")
    (repo / "staged.txt").write_text("staged\n")
    git(repo, "add", "staged.txt")
    (repo / "README.md").write_text("# sample\nwork in progress\n")
    (repo / "untracked.txt").write_text("mine\n")
    before = _user_checkout(repo)

    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["tasks_total"] == 5
    assert summary["tasks_merged"] == 5
    assert summary["tasks_failed"] == 0
    assert summary["integration_tests_passed"] is True
    assert summary["interventions"] == 0
    assert summary["integration_branch"] == "czar/integration"
    assert summary["wall_seconds"] > 0
    assert summary["prs_opened"] == 5 and summary["containment_ok"] is True

    assert _user_checkout(repo) == before
    merged = git(repo, "ls-tree", "-r", "--name-only", "czar/integration").splitlines()
    assert {"a.txt", "b.txt", "c.txt", "d.txt", "e.txt"} <= set(merged)
    assert git(repo, "rev-parse", "main") == before["head"]
    # Dependents start from the integration branch after their dependencies merged.
    assert git(repo, "merge-base", "--is-ancestor", "czar/a", "czar/c") == ""
    for dep in ("c", "d"):
        git(repo, "merge-base", "--is-ancestor", f"czar/{dep}", "czar/e")
    # A pull request per task, each merged at the commit that was verified, all in the branch.
    pulls = [p for p in json.loads(czar("prs", str(plan), "--json", check=True).stdout) if p["task"] != "(omnibus)"]
    assert sorted(p["task"] for p in pulls) == ["a", "b", "c", "d", "e"]
    for p in pulls:
        assert p["state"] == "merged" and p["checks"] == p["checks_passed"], p
        for commit in (p["head_commit"], p["merged_as"]):
            git(repo, "merge-base", "--is-ancestor", commit, "czar/integration")
    # The omnibus proposes the integration branch for main; main itself is the user's.
    shown = json.loads(czar("pr", "show", str(summary["omnibus"]), str(plan), "--json", check=True).stdout)
    assert (shown["head"], shown["base"], shown["state"]) == ("czar/integration", "main", "open")
    assert shown["head_commit"] == git(repo, "rev-parse", "czar/integration") and "Containment: proven" in shown["body"]
    # The run's last look at the integration branch: its last merge's checks passed on the same
    # files, in a clean checkout too, so they were not run again.
    final = ProjectPaths.for_project("runs").checks / "integration-final.log"
    assert "not run again" in final.read_text()
    # Its files changed since (a commit of yours on it): they are checked again, and only once.
    listing = git(repo, "ls-tree", "czar/integration")
    blob = subprocess.run(
        ["git", "-C", str(repo), "hash-object", "-w", "--stdin"], input="yours\n", capture_output=True, text=True
    ).stdout.strip()
    tree = subprocess.run(
        ["git", "-C", str(repo), "mktree"],
        input=f"{listing}\n100644 blob {blob}\tyours.txt\n",
        capture_output=True,
        text=True,
    ).stdout.strip()
    git(
        repo,
        "update-ref",
        "refs/heads/czar/integration",
        git(repo, "commit-tree", tree, "-p", "czar/integration", "-m", "yours"),
    )
    project = open_project(plan)
    try:
        assert integration_check(project) is True
        assert "not run again" not in final.read_text() and "git status --porcelain" in final.read_text()
        assert integration_check(project) is True
        assert "not run again" in final.read_text()
    finally:
        project.store.close()
    # The integration branch lost the tasks' work (moved back by hand; found by a probe: the run
    # exited 0 on it): put back at its last merge, said so, and only then proven.
    last = git(repo, "rev-parse", "czar/integration~1")  # (the run's last merge, before "yours")
    git(repo, "update-ref", "refs/heads/czar/integration", "main")
    again = czar("run", str(plan), "--json", timeout=180)
    assert again.returncode == 0 and json.loads(again.stdout)["containment_ok"] is True, again.stderr
    moved = f"czar/integration was moved to {git(repo, 'rev-parse', 'main')[:10]}, which lacks czar's merges"
    assert moved in again.stderr
    assert git(repo, "rev-parse", "czar/integration") == last


def test_two_ups_typed_together_start_one_supervisor_and_say_so(tmp_path: Path, czar_home: Path) -> None:
    # The second replaced the first's supervisor window while it started, and both said "started".
    make_repo(tmp_path / "repo")
    plan = write_plan(tmp_path, "twins", [sim_task("slow", extra="ask may I continue?")], workers=1)
    argv = [sys.executable, "-m", "czar", "up", str(plan)]
    ups = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        said = [up.communicate(timeout=120) for up in ups]
        assert [up.returncode for up in ups] == [0, 0], said
        lines = sorted(out.split(" (pid")[0] for out, _ in said)
        assert lines == ["supervisor already running", "supervisor started"], said
        pids = {out.split("pid ")[1].split(")")[0] for out, _ in said}
        assert len(pids) == 1
        project = open_project(plan)
        try:
            started = [e for e in project.store.events_after(0) if e.kind == "supervisor.started"]
        finally:
            project.store.close()
        assert [str(e.payload["pid"]) for e in started] == list(pids)
    finally:
        czar("down", str(plan))


def _heeding_kills() -> None:
    """SIGTERM heard whatever the suite was started under (a wrapper that ignores it)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_up_and_down_wait_for_a_start_in_progress_and_say_so(tmp_path: Path, czar_home: Path) -> None:
    import fcntl
    import select

    make_repo(tmp_path / "repo")
    plan = write_plan(tmp_path, "waits", [sim_task("slow", extra="ask may I continue?")], workers=1)
    lock = ProjectPaths.for_project("waits").supervisor_lock.with_name("starting.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    for command in ("up", "down"):
        with open(lock, "a") as held:  # another command's start (or stop), in progress
            fcntl.flock(held, fcntl.LOCK_EX)
            waiting = subprocess.Popen(
                [sys.executable, "-m", "czar", command, str(plan)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=_heeding_kills,
            )
            assert waiting.stderr is not None
            # Its first words, however long a busy machine takes to start it: that it waits.
            ready, _, _ = select.select([waiting.stderr], [], [], 120)
            assert ready, "no word from it in 120 s"
            assert waiting.stderr.readline() == "czar: another czar command is starting or stopping this run; waiting\n"
            assert waiting.poll() is None  # and it does
            if command == "down":
                # Killed meanwhile (`timeout 30 czar down`), it stops the run all the same, in a
                # hurry: it ended where it stood, the run left going.
                waiting.send_signal(signal.SIGTERM)
        out, err = waiting.communicate(timeout=120)
        if command == "up":
            assert waiting.returncode == 0, err
            assert "supervisor started" in out
    # The kill is not lost: once the run is stopped, it ends `down` as it would have at once.
    assert waiting.returncode == -signal.SIGTERM, err
    assert "czar: stopping at once" in err
    assert find_by_env({"CZAR_HOME": str(czar_home)}) == []


def test_up_is_idempotent_and_down_keeps_branches_and_checkouts(tmp_path: Path, czar_home: Path) -> None:
    make_repo(tmp_path / "repo")
    # The task waits for a message that never comes, so the run stays in flight.
    plan = write_plan(tmp_path, "updown", [sim_task("slow", extra="ask may I continue?")], workers=1)
    first = czar("up", str(plan), check=True)
    assert "started" in first.stdout
    second = czar("up", str(plan), check=True)
    assert "already running" in second.stdout and second.stderr == ""
    pid = first.stdout.split("pid ")[1].split(")")[0]
    assert f"pid {pid})" in second.stdout
    # A task added to the plan meanwhile: the running supervisor has not taken it in, and says so.
    plan.write_text(plan.read_text() + sim_task("later"))
    third = czar("up", str(plan), check=True)
    assert "already running" in third.stdout
    assert "it has changed since (task(s) added: later): `czar down`, then `czar up`" in third.stderr

    def slow_running() -> bool:
        status = json.loads(czar("status", str(plan), "--json", check=True).stdout)
        return status["tasks"][0]["state"] == "running"

    retry_until(slow_running, what="the task to run")
    status = json.loads(czar("status", str(plan), "--json", check=True).stdout)
    assert status["supervisor"]["running"] is True
    assert status["workers"][0]["task"] == "slow"
    # Paused, it says so: else a run that starts nothing looks hung (found by a probe).
    czar("pause", str(plan), check=True)
    assert "| PAUSED (`czar resume`)" in " ".join(czar("status", str(plan), check=True).stdout.split())
    joined = czar("run", str(plan), "--keep-running", "--timeout", "1")
    assert "the run is paused: no task or review starts until `czar resume`" in joined.stdout, joined.stdout
    czar("resume", str(plan), check=True)
    # A task of the run taken out of the plan goes on, and a person hears so (found by a probe).
    assert write_plan(tmp_path, "updown", [sim_task("later")], workers=1) == plan
    dropped = czar("up", str(plan), check=True).stderr
    assert "task(s) slow of the run are no longer in czar.toml: they go on (`czar cancel slow` drops one)" in dropped

    down = czar("down", str(plan), check=True)
    assert "stopped" in down.stdout
    repo = tmp_path / "repo"
    assert git(repo, "rev-parse", "--verify", "czar/slow")
    # The task's checkout, a clone of its own, is kept with its branch.
    checkout = czar_home / "projects" / "updown" / "worktrees" / "slow"
    assert git(checkout, "symbolic-ref", "HEAD") == "refs/heads/czar/slow"
    status = json.loads(czar("status", str(plan), "--json", check=True).stdout)
    assert status["supervisor"]["running"] is False
    assert all(w["state"] == "stopped" for w in status["workers"])
    assert "nothing was running" in czar("down", str(plan), check=True).stdout


def test_failing_checks_go_back_to_the_worker_until_attempts_run_out(tmp_path: Path, czar_home: Path) -> None:
    make_repo(tmp_path / "repo")
    fixed = sim_task(
        "fixme",
        files={"v.txt": "wrong\n"},
        accept=["python -c \"assert open('v.txt').read() == 'right\\n'\""],
        feedback="write v.txt <<END\nright\nEND\ncommit fix v\nfinish fixed",
    )
    hopeless = sim_task("hopeless", files={"h.txt": "x\n"}, accept=['python -c "raise SystemExit(3)"'])
    plan = write_plan(tmp_path, "retries", [fixed, hopeless], project_extra="max_rounds = 2")
    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["tasks_merged"] == 1
    assert summary["tasks_failed"] == 1
    assert summary["failed_tasks"] == ["hopeless"]
    # What failed is accounted for: the omnibus lists it for a person, and proves the rest.
    assert summary["containment_ok"] is True and summary["prs_opened"] == 1
    notes = json.loads(czar("pr", "show", str(summary["omnibus"]), str(plan), "--json", check=True).stdout)["body"]
    assert "**hopeless**" in notes.split("## Not merged")[1]
    status = {t["id"]: t for t in json.loads(czar("status", str(plan), "--json").stdout)["tasks"]}
    assert status["fixme"]["state"] == "merged" and status["fixme"]["rounds"] == 2
    assert status["hopeless"]["state"] == "failed" and status["hopeless"]["rounds"] == 2
    log = (
        czar("logs", "w1", "--plan", str(plan), "-n", "200").stdout
        + czar("logs", "w2", "--plan", str(plan), "-n", "200").stdout
    )
    assert "Verification of task fixme failed (round 1 of 2)" in log


@pytest.mark.parametrize("failure", ["crash", "quit"])
def test_an_agent_that_ends_early_gets_its_task_requeued(tmp_path: Path, czar_home: Path, failure: str) -> None:
    make_repo(tmp_path / "repo")
    plan = write_plan(tmp_path, f"early-{failure}", [sim_task("t", extra=failure)], workers=1)
    result = czar("run", str(plan), "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 1


def test_land_merge_merges_the_omnibus_into_the_base_branch_only_where_no_checkout_of_yours_has_it(
    tmp_path: Path, czar_home: Path
) -> None:
    # Your checkout is on main: czar does not move it; it says so, and main stays as it was.
    held = tmp_path / "held"
    repo = make_repo(held / "repo")
    plan = write_plan(held, "land-held", [sim_task("a"), sim_task("b")], project_extra='land = "merge"\n')
    main = git(repo, "rev-parse", "main")
    result = czar("run", str(plan), timeout=180)
    assert result.returncode == 0, result.stderr
    assert "omnibus not landed: main is checked out in" in result.stdout
    assert git(repo, "rev-parse", "main") == main

    # Your checkout is on a branch of your own: main gets the integration branch, your checkout
    # nothing, and the omnibus is recorded merged.
    free = tmp_path / "free"
    repo = make_repo(free / "repo")
    git(repo, "switch", "-q", "-c", "mine")
    plan = write_plan(free, "land-free", [sim_task("a"), sim_task("b")], project_extra='land = "merge"\n')
    before = _user_checkout(repo)
    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert "omnibus landed: main is at" in result.stderr
    git(repo, "merge-base", "--is-ancestor", "czar/integration", "main")
    assert {"a.txt", "b.txt"} <= set(git(repo, "ls-tree", "-r", "--name-only", "main").splitlines())
    assert _user_checkout(repo) == before
    shown = json.loads(czar("pr", "show", str(summary["omnibus"]), str(plan), "--json", check=True).stdout)
    assert shown["state"] == "merged"


@pytest.mark.parametrize("where", ["beside", "inside", "inside-not-activated"])
def test_checks_run_with_the_persons_virtualenv(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # Found by hand: with a virtualenv of the project's activated, czar put its own interpreter
    # first and the sandbox hid the virtualenv's packages: `python` had none of the project's
    # dependencies, and the task failed its checks three times. Beside the repository, or inside
    # it (`.venv`, ignored), where the sandbox hides the rest of the person's checkout.
    make_repo(tmp_path / "repo")
    venv = tmp_path / "venv" if where == "beside" else tmp_path / "repo" / ".venv"
    if where != "beside":
        (tmp_path / "repo" / ".gitignore").write_text(".venv/\n")
        git(tmp_path / "repo", "commit", "-qam", "ignore .venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = venv.glob("lib/python3*/site-packages")
    (site / "projectdep.py").write_text("VALUE = 42\n")
    if where != "inside-not-activated":
        monkeypatch.setenv("PATH", f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")  # activated
    # Else, as a project whose tools use its .venv without activating it (uv's): czar shares it
    # with each checkout (`[sandbox] shared`) and puts it first for agents and checks.
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    # The agent's own run of the project's code too (found after: czar's folder came first on the
    # agent's PATH, whose `python` had none of the project's packages), and its `czar` is czar's.
    own_run = (
        'run sh -c \'python -c "import projectdep, sys; print(projectdep.VALUE, sys.prefix)" > where.txt;'
        " command -v czar >> where.txt; czar board > /dev/null && echo board-ok >> where.txt'"
    )
    task = sim_task(
        "a",
        files={"a.txt": "a\n", "where.txt": "\n"},
        extra=own_run,
        accept=["python -c 'import projectdep; assert projectdep.VALUE == 42'"],
    )
    plan = write_plan(tmp_path, f"persons-venv-{where}", [task], workers=1)
    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 1
    answer, found, board = git(tmp_path / "repo", "show", "czar/integration:where.txt").splitlines()
    assert answer == f"42 {venv}"
    assert Path(found).name == "czar" and sorted(p.name for p in Path(found).parent.iterdir()) == ["czar"]
    assert board == "board-ok"


def test_a_repository_with_submodules_gives_its_agents_and_checks_their_files(tmp_path: Path, czar_home: Path) -> None:
    # Found by hand: a task's clone had empty submodule folders (their commits are in the
    # repository's .git/modules, which the sandbox hides, and agents have no network to fetch
    # them): every check that needed one failed, and each task failed its merge in turn.
    lib = make_repo(tmp_path / "lib")
    (lib / "lib.py").write_text("LIB = 1\n")
    git(lib, "add", "-A")
    git(lib, "commit", "-qm", "lib")
    repo = make_repo(tmp_path / "repo")
    allow = ("-c", "protocol.file.allow=always")
    subprocess.run(["git", "-C", str(repo), *allow, "submodule", "add", "-q", str(lib), "vendor/lib"], check=True)
    git(repo, "commit", "-qm", "vendor lib")
    task = sim_task(
        "a",
        # The agent reads it through git: the copy's objects are readable in its sandbox.
        extra="run sh -c 'git -C vendor/lib cat-file -p HEAD:lib.py > a.txt'",
        accept=['python -c \'import runpy; assert runpy.run_path("vendor/lib/lib.py")["LIB"] == 1\''],
    )
    plan = write_plan(
        tmp_path, "submodules", [task], workers=1, project_extra='accept = ["test -f vendor/lib/lib.py"]\n'
    )
    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["tasks_merged"] == 1 and summary["integration_tests_passed"] is True
    assert git(repo, "show", "czar/integration:a.txt") == "LIB = 1"


def test_a_person_who_signs_their_commits_gets_a_run_whose_commits_are_not_signed(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by hand: with `commit.gpgsign = true` in ~/.gitconfig every agent's commit failed in
    # its sandbox (no key there), and each task failed with "commit your work"; czar's own merges
    # would have waited for a passphrase. Signing fails loudly here, whatever gpg this machine has.
    home = tmp_path / "person"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Person\n\temail = person@example.com\n\tsigningkey = ABCDEF0123456789\n"
        f"[commit]\n\tgpgsign = true\n[tag]\n\tgpgsign = true\n[gpg]\n\tprogram = {shutil.which('false')}\n"
    )
    repo = make_repo(tmp_path / "repo")
    monkeypatch.setenv("HOME", str(home))
    plan = write_plan(tmp_path, "signer", [sim_task("a"), sim_task("b", deps=("a",))], workers=2)
    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 2
    assert git(repo, "log", "-1", "--format=%G?", "czar/integration") == "N"  # czar's merge: not signed
    # Your own commits are yours to sign: your configuration is left as it was.
    assert "gpgsign = true" in (home / ".gitconfig").read_text()


def test_large_files_of_git_lfs_that_agents_add_reach_the_repository(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by hand: an agent's new large file stayed in its clone's LFS store (a fetch brings the
    # pointer only), so the merge's checkout could not make the file: every such task failed its
    # merge, sent back as a conflict, and the file was lost with the clone.
    monkeypatch.setenv("HOME", str(tmp_path / "person"))
    repo = lfs_repo(tmp_path, tmp_path / "person", "data one\n")
    reads = 'python -c \'import sys; sys.exit(open("{0}").read() != "{1}\\n")\''
    tasks = [
        sim_task("a", files={"new.bin": "new one"}, accept=[reads.format("data.bin", "data one")]),
        # Its clone is made from a's merge: the file a added is there, whole.
        sim_task("b", deps=("a",), files={"data.bin": "data two"}, accept=[reads.format("new.bin", "new one")]),
    ]
    # The integration branch's checks read the files themselves too, not their pointers.
    whole = 'python -c \'import sys; sys.exit(any("git-lfs" in open(p).read() for p in ("data.bin", "new.bin")))\''
    plan = write_plan(tmp_path, "large-files", tasks, workers=2, project_extra=f"accept = [{json.dumps(whole)}]")
    before = _user_checkout(repo)
    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["tasks_merged"] == 2 and summary["integration_tests_passed"] is True
    # Each merged file is in your repository's LFS store: a checkout of the integration branch gets it.
    for path, content in (("new.bin", "new one\n"), ("data.bin", "data two\n")):
        pointer = git(repo, "show", f"czar/integration:{path}") + "\n"
        assert pointer.startswith("version https://git-lfs.github.com/spec/v1")
        smudged = subprocess.run(
            ["git", "-C", str(repo), "lfs", "smudge"], input=pointer, capture_output=True, text=True, check=True
        )
        assert smudged.stdout == content
    assert _user_checkout(repo) == before


def test_the_dependencies_installed_in_your_checkout_are_there_for_agents_and_checks(
    tmp_path: Path, czar_home: Path
) -> None:
    # Found by hand: in a JavaScript project every check failed in every task's clone (`Cannot
    # find module`): node_modules, installed in your checkout and ignored by git, is not in a
    # clone, and a sandbox cannot download it again. Each task failed its rounds.
    repo = make_repo(tmp_path / "repo")
    # Ignored where a clone does not look (your exclude file): an agent's `git add -A` must still
    # not commit what is shown there.
    (repo / ".git" / "info" / "exclude").write_text("node_modules/\n")
    small = repo / "node_modules" / "is-small"
    small.mkdir(parents=True)
    (small / "index.js").write_text("module.exports = (n) => n < 10;\n")
    (repo / "vendor").mkdir()
    (repo / "vendor" / "v.txt").write_text("yours\n")  # tracked: never shown over the task's own
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a project with dependencies")
    uses = "node -e \"if (!require('is-small')(3)) process.exit(1)\""
    tasks = [
        # It cannot change your installed packages: its write fails, and yours stay as they were.
        sim_task("a", extra="run sh -c 'echo broken > node_modules/is-small/index.js || true'", accept=[uses]),
        sim_task(
            "b",
            files={"vendor/v.txt": "the task's own\n"},
            accept=['python -c \'assert open("vendor/v.txt").read().startswith("the task")\''],
        ),
    ]
    extra = f'accept = [{json.dumps(uses)}]\n\n[sandbox]\nshared = ["node_modules", "vendor"]\n'
    plan = write_plan(tmp_path, "dependencies", tasks, workers=2, project_extra=extra)
    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["tasks_merged"] == 2 and summary["integration_tests_passed"] is True
    assert (small / "index.js").read_text() == "module.exports = (n) => n < 10;\n"
    assert git(repo, "status", "--porcelain") == ""


def test_up_sees_its_supervisor_start_behind_a_thousand_tasks_added(tmp_path: Path, czar_home: Path) -> None:
    # Before, `czar up` looked for the supervisor's start among the first thousand events after it
    # began: a plan of 2000 tasks adds 2000 before it, and `up` said after 30 s that the supervisor
    # did not start, while it ran.
    make_repo(tmp_path / "repo")
    tasks = [sim_task(f"t{i}", extra="ask may I continue?") for i in range(1100)]
    plan = write_plan(tmp_path, "many", tasks, workers=1)
    up = czar("up", str(plan), timeout=90)
    assert up.returncode == 0 and "supervisor started" in up.stdout, up
    czar("down", str(plan), check=True)
