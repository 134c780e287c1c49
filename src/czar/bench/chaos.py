"""czar under fire (``czar bench chaos``): a run of tasks on a few workers (the simulated agent, or
a real agent CLI against the scripted model) while czar's own processes and the agents' are killed
with SIGKILL at random moments: the supervisor, the tools server, a worker host, an agent, its
sandbox, and the process that carries a sandbox's connections out. Whenever
the supervisor is gone, the run is started again (``czar up``), as a person or a service manager
would. Passed: every task merged, every task's file in the integration branch, within the time.

Each seed is one sequence of kills; the runs that found real faults (an agent whose sandbox lost
its network, waited for as an outage for ever) were of this kind. Not a speed measure: the figures
say what was killed and how long the run took with it.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from czar.bench import agents
from czar.core.events import EventKind
from czar.demo.sample import init_repo
from czar.errors import CzarError
from czar.runtime import proc
from czar.runtime.ancestry import process
from czar.store.store import Event, Store
from czar.supervisor import launcher, outcome
from czar.supervisor.project import Project, open_project
from czar.testing.bare_forge import BareForge
from czar.testing.github import FakeGitHub
from czar.testing.gitlab import FakeGitLab

KINDS = ("sim", *agents.KINDS)
# Merge commits of a task's work: ``MergeQueue``'s, and GitHub's and GitLab's (as czar asks) when
# they merge its pull request.
MERGE_SUBJECT = re.compile(
    r"czar: merge task ([\w-]+): |Merge pull request #\d+ from [^/\s]+/czar/([\w-]+)$|czar: merge ([\w-]+): "
)
# A process's role, told by its command line (the tmux server that holds the run is spared: a
# person's terminal server is not czar's to lose).
ROLES = (
    ("sandbox", "bwrap "),  # (its command line names the agent and netns.py: checked first)
    ("supervisor", "czar supervise"),
    ("tools", "tools_server"),
    ("host", "czar.host"),
    ("network", "netns.py"),
    ("agent", "czar.agents.sim"),
    *(("agent", kind) for kind in agents.KINDS),
)


# The forges (czar's fakes of their APIs): czar merges and pushes, or the forge merges each one.
FORGES = ("github", "github-merges", "gitlab", "gitlab-merges")
REPOSITORY = {"github": "acme/app", "gitlab": "acme/tools/app"}  # (the fakes' own)
READY_CHECK = "test -f README.md"
# After each merge, with stacked simulated agents: no chain head's first version in the integration
# branch (its task's own checks pass it: it is sent back by the checks after its merge).
RESTACK_CHECK = "sh -c '! grep -qsx first t*.txt'"


def _first_then_good(tid: str) -> str:
    """A head's first attempt writes "first"; the next (its branch holds the file) writes "good" at
    once, approved again while its dependent is still at work: restacked."""
    return f'run sh -c "if [ -f {tid}.txt ]; then echo good > {tid}.txt; else echo first > {tid}.txt; sleep 3; fi"'


def plan_text(
    kind: str,
    tasks: int,
    workers: int,
    model_url: str | None,
    *,
    review: bool = False,
    stack: bool = False,
    forge: tuple[str, str] | None = None,
) -> str:
    """The plan: ``tasks`` small tasks, every other one after the task three before it (with
    ``stack``, in chains of three); with
    ``review``, a reviewer of the same kind reads each (the simulated one asks for changes once on
    every third task, and its author makes them); with ``stack``, a dependent starts from its
    dependency's approved work. Stacked simulated agents also reach restacking: the first version
    of each chain's head breaks the checks after its merge (``RESTACK_CHECK``), so it is sent back
    and approved again at a new commit under its dependent at work, which merges it in. With
    ``forge`` (one of ``FORGES``, and its API's address), pull requests live on that forge, over
    the remote ``origin``, which czar pushes to."""
    ids = [f"t{i}" for i in range(tasks)]
    restacks = stack and kind == "sim"
    # Checks on each task and after each merge: a sandboxed process of czar's the kills reach too.
    accept = [READY_CHECK, RESTACK_CHECK] if restacks else [READY_CHECK]
    head = (
        f'[project]\nname = "chaos"\nrepo = "repo"\naccept = {json.dumps(accept)}\n'
        + ("stack = true\n" if stack else "")
        # (a head's rounds: its verification, the one after its review, its broken merge, the next)
        + ("max_rounds = 6\n" if restacks else "")
        + ('remote = "origin"\npush = true\n' if forge else "")
        + f'\n[workers]\nagent = "{kind}"\ncount = {workers}\n\n'
    )
    if forge is not None:
        how, url = forge
        name = how.removesuffix("-merges")
        head += f'[forge]\nkind = "{name}"\napi_url = "{url}"\nrepository = "{REPOSITORY[name]}"\npoll_seconds = 2\n'
        head += 'merge_via = "pull-request"\n\n' if how.endswith("-merges") else "\n"
    if review:
        head += f"[review]\nagents = {{ {kind} = 1 }}\nmax_review_rounds = 2\n\n"
    if kind != "sim":
        head += f'[agents.{kind}]\ncommand = "{agents.find_cli(kind)}"\nbase_url = "{model_url}"\nhome = "private"\n\n'
    body = ""
    for i, tid in enumerate(ids):
        # With stack, chains of three: each dependent may start on the approved work before it.
        after = (i % 3 > 0) if stack else (i >= 3 and i % 2 == 1)
        deps = [ids[i - 1] if stack else ids[i - 3]] if after else []
        if kind == "sim":
            steps = f"write {tid}.txt <<EOF\n{tid}\nEOF\nsleep 3\ncommit add {tid}\nfinish {tid}.txt is written"
            if restacks and i % 3 == 0:  # its first version breaks the checks after its merge
                steps = steps.replace(f"write {tid}.txt <<EOF\n{tid}\nEOF\nsleep 3", _first_then_good(tid), 1)
                steps += f"\non feedback\nwrite {tid}.txt <<EOF\ngood\nEOF\ncommit make it good\nfinish it is good now"
            elif restacks:  # told its dependency's approved work changed: it merges that in
                steps += (
                    f"\non restack\nwrite {tid}.txt <<EOF\n{tid}\nEOF\ncommit add {tid}\n"
                    f"run git merge --no-edit czar-stack/{tid}\nfinish {tid}.txt is written on the new work"
                )
            script = f"```czar-sim\n{steps}\n```"
            if review and i % 3 == 0:  # one round of changes asked for, and made
                fix = (
                    f"on review\nappend {tid}.txt <<EOF\nreviewed\nEOF\ncommit answer the review\nfinish done as asked"
                )
                asked = (
                    f"finding {tid}.txt 1 blocking the file does not say it was reviewed\nrequest-changes one finding"
                )
                script = (
                    f"```czar-sim\n{steps}\n{fix}\n```\n\n```czar-review\n{asked}\non review\napprove as asked\n```"
                )
        else:
            script = f"```czar-model\n{agents.script(tid)}\n```"
            if review:
                script += "\n\n```czar-model-review\napprove it does what the task says\nend Done.\n```"
        body += (
            f'[[tasks]]\nid = "{tid}"\ntitle = "Write {tid}.txt"\nscope = ["{tid}.txt"]\n'
            f"depends_on = {json.dumps(deps)}\n"
            + (f"accept = {json.dumps([READY_CHECK])}\n" if restacks else "")
            + f"body = '''\nWrite {tid}.txt with the task id in it, commit it and hand the task in.\n\n"
            + f"{script}\n'''\n\n"
        )
    return head + body


def processes(project: Project) -> dict[str, list[int]]:
    """The run's processes (those carrying its marks: czar's, the agents', what they start), by role."""
    found: dict[str, list[int]] = {}
    for pid in proc.find_by_env(project.marks()):
        info = process(pid)
        if info is None or not info.cmdline or os.path.basename(info.cmdline[0]) == "tmux":
            continue
        command = " ".join(info.cmdline)
        role = next((name for name, words in ROLES if words in command), None)
        if role is not None:
            found.setdefault(role, []).append(pid)
    return found


def unreviewed(project: Project) -> list[str]:
    """The merged tasks whose merge did not bring in the very commit their reviewer last approved
    (a merge of a branch that moved after its review, or of work never approved)."""
    events = project.store.all_events_after(0, kinds=(EventKind.REVIEW_VERDICT, EventKind.TASK_MERGED))
    branch = project.plan.project.integration_branch
    listed = proc.run(["git", "-C", str(project.plan.repo), "log", "--first-parent", "--format=%P%x09%s", branch, "--"])
    return not_as_reviewed(events, merged_tips(listed.output if listed.ok else ""))


def merged_tips(log: str) -> dict[str, str]:
    """Each task's commit that czar's merge of it brought in (its merge commit's second parent),
    from the integration branch's first-parent log (``%P<tab>%s`` a line)."""
    found: dict[str, str] = {}
    for line in log.splitlines():
        parents, _, subject = line.partition("\t")
        merged = MERGE_SUBJECT.match(subject)
        if merged and len(parents.split()) == 2:
            found.setdefault(next(g for g in merged.groups() if g), parents.split()[1])
    return found


def not_as_reviewed(events: Sequence[Event], merged: Mapping[str, str]) -> list[str]:
    """Of ``events`` (verdicts and merges), the merged tasks whose merged commit (``merged``; else,
    merged without a merge commit of its own, the one its event names) is not the last one
    approved."""
    approved: dict[str, str] = {}
    at: dict[str, str] = {}
    for event in events:
        if event.task_id is None:
            continue
        if event.kind == EventKind.TASK_MERGED:
            at[event.task_id] = merged.get(event.task_id) or str(event.payload.get("commit", ""))
        elif event.kind == EventKind.REVIEW_VERDICT:
            ok = event.payload.get("verdict") == "approve"
            approved[event.task_id] = str(event.payload.get("commit", "")) if ok else ""
    return sorted(task for task, commit in at.items() if not approved.get(task) or approved[task] != commit)


def why_failed(events: Sequence[Event]) -> str:
    """Of a run's changes of task state, why each task that failed did, its own reason (not a
    dependency's): a person tells a task whose agent kept being killed (by design: each crash
    spends a restart, then an attempt) from a fault of czar's at a glance."""
    reasons = {}
    for event in events:
        reason = str(event.payload.get("reason", ""))
        if event.payload.get("new") == "failed" and event.task_id and not reason.startswith("dependency "):
            reasons[event.task_id] = re.sub(r"; it said last: .*?(?=; no attempts left|$)", "", reason)[:160]
    return "; ".join(f"{task}: {why}" for task, why in reasons.items())


def _finished(project: Project) -> bool:
    with project.store.read() as conn:
        return Store.all_finished(conn)


def run(
    kind: str = "sim",
    *,
    tasks: int = 12,
    workers: int = 3,
    seed: int = 1,
    kills: int = 20,
    every: float = 0.7,
    folder: Path | None = None,
    timeout: float = 600,
    progress: bool = False,
    review: bool = False,
    stack: bool = False,
    forge: str | None = None,
) -> dict[str, Any]:
    """One run under fire; its figures and ``passed``."""
    if kind not in KINDS:
        raise CzarError(f"no agent {kind!r} for the chaos benchmark; choose one of: {', '.join(KINDS)}")
    if forge is not None and forge not in FORGES:
        raise CzarError(f"no forge {forge!r} for the chaos benchmark; choose one of: {', '.join(FORGES)}")
    if kind != "sim" and agents.find_cli(kind) is None:
        raise CzarError(f"the {kind} CLI is not installed (make agent-clis)")
    root = (folder or Path(tempfile.mkdtemp(prefix=f"czar-bench-chaos-{seed}-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    saved = dict(os.environ)
    os.environ["CZAR_HOME"] = str(root / "home")
    server = None
    fake: BareForge | None = None
    try:
        url = None
        if kind != "sim":
            from czar.model.server import serve

            os.environ.update(agents.KEYS)
            server = serve(0, root / "model.log")
            url = f"http://127.0.0.1:{server.server_address[1]}"
        init_repo(root / "repo", {"README.md": "# chaos\n"}, "initial commit")
        on_forge = None
        if forge is not None:
            bare = _remote_of(root / "repo", root / "remote.git")
            fake = FakeGitLab(bare) if forge.startswith("gitlab") else FakeGitHub(bare)
            for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITLAB_TOKEN"):
                os.environ.pop(name, None)
            os.environ["GITLAB_TOKEN" if forge.startswith("gitlab") else "GITHUB_TOKEN"] = fake.token
            on_forge = (forge, fake.start())
        plan = root / "czar.toml"
        text = plan_text(kind, tasks, workers, url, review=review, stack=stack, forge=on_forge)
        plan.write_text(text, encoding="utf-8")
        project = open_project(plan)
        measured = _under_fire(project, random.Random(seed), (kills, every), timeout, progress)
        if fake is not None:
            measured = _on_forge(project, fake, measured)
        return measured | {
            "agent": kind,
            "seed": seed,
            "every": every,
            "workers": workers,
            "review": review,
            "stack": stack,
            "forge": forge or "",
            "folder": str(root),
        }
    finally:
        if server is not None:
            server.shutdown()
        if fake is not None:
            fake.stop()
        os.environ.clear()
        os.environ.update(saved)


def _remote_of(repo: Path, bare: Path) -> Path:
    """``bare``, made the remote ``origin`` of ``repo`` and given its ``main``."""
    for argv in (
        ["git", "init", "-q", "--bare", "-b", "main", str(bare)],
        ["git", "-C", str(repo), "remote", "add", "origin", str(bare)],
        ["git", "-C", str(repo), "push", "-q", "origin", "main"],
    ):
        done = proc.run(argv)
        if not done.ok:
            raise CzarError(f"cannot make the remote: {' '.join(argv[:4])}: {done.output.strip()[-300:]}")
    return bare


def _on_forge(project: Project, fake: BareForge, measured: dict[str, Any]) -> dict[str, Any]:
    """The run as the forge saw it: each task's pull request merged there, and the remote's
    integration branch holding every task's file."""
    branch = project.plan.project.integration_branch
    listed = fake.git("ls-tree", "--name-only", branch)
    files = set(listed.output.split()) if listed.ok else set()
    ids = [t.id for t in project.store.tasks()]
    unmerged = [tid for tid in ids if not fake.merged_from(f"czar/{tid}")]
    pushed = [tid for tid in ids if f"{tid}.txt" in files]
    targets = measured["targets"] | {
        "merged on the forge": {"value": len(ids) - len(unmerged), "target": len(ids), "met": not unmerged},
        "files in the remote's integration branch": {
            "value": len(pushed),
            "target": len(ids),
            "met": len(pushed) == len(ids),
        },
    }
    return measured | {
        "pull_requests_unmerged": ", ".join(unmerged),
        "files_not_pushed": len(ids) - len(pushed),
        "targets": targets,
        "passed": measured["passed"] and not unmerged and len(pushed) == len(ids),
    }


def _under_fire(
    project: Project, rng: random.Random, pace: tuple[int, float], timeout: float, progress: bool
) -> dict[str, Any]:
    """``pace``: the most kills, and the mean of the seconds between two looks (four in five kill)."""
    kills, every = pace

    def say(text: str) -> None:
        if progress:
            print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)

    killed: Counter[str] = Counter()
    restarts = 0
    refused: list[str] = []  # `czar up` failing, as a person would see it
    started = time.monotonic()
    launcher.up(project)
    try:
        while time.monotonic() - started < timeout and not _finished(project):
            time.sleep(rng.uniform(0.3 * every, 1.7 * every))
            if launcher.supervisor_pid(project) is None:
                try:
                    launcher.up(project)
                    restarts += 1
                    say("the supervisor was gone: started again")
                except CzarError as exc:  # a person would be stuck here: the benchmark fails
                    refused.append(str(exc))
                    say(f"czar up failed: {exc}")
                continue
            running = processes(project)
            if sum(killed.values()) >= kills or not running or rng.random() > 0.8:
                continue
            role = rng.choice(sorted(running))
            pid = rng.choice(running[role])
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed[role] += 1
                say(f"killed the {role} ({pid})")
        done = _finished(project)
        wall = time.monotonic() - started
    finally:
        launcher.down(project, reason="benchmark finished")
    result = outcome.outcome(project, None)
    listed = proc.run(["git", "-C", str(project.plan.repo), "ls-tree", "--name-only", result.integration_branch])
    files = set(listed.output.split()) if listed.ok else set()
    ids = [t.id for t in project.store.tasks()]
    missing = [tid for tid in ids if f"{tid}.txt" not in files]
    wrong = unreviewed(project) if project.plan.reviewers else []
    stacked = [
        e for e in project.store.all_events_after(0, kinds=(EventKind.TASK_ASSIGNED,)) if e.payload.get("stacked_on")
    ]
    restacked = project.store.all_events_after(0, kinds=(EventKind.TASK_RESTACKED,))
    passed = done and result.tasks_merged == result.tasks_total and not missing and not refused and not wrong
    return {
        "tasks_total": result.tasks_total,
        "tasks_merged": result.tasks_merged,
        "tasks_failed": result.tasks_failed,
        "files_missing": len(missing),
        "kills": sum(killed.values()),
        "kills_by_role": ", ".join(f"{role} {n}" for role, n in sorted(killed.items())) or "none",
        "restarts": restarts,
        "merged_not_as_reviewed": len(wrong),
        "stacked_starts": len(stacked),
        "restacks": len(restacked),
        "start_failures": len(refused),
        "first_start_failure": refused[0] if refused else "",
        "why_tasks_failed": why_failed(project.store.all_events_after(0, kinds=(EventKind.TASK_STATE,))),
        "wall_seconds": round(wall, 1),
        "targets": {
            "merged": {
                "value": f"{result.tasks_merged}/{result.tasks_total}",
                "target": "all, in time",
                "met": done and result.tasks_merged == result.tasks_total,
            },
            "started again each time": {"value": len(refused), "target": 0, "met": not refused},
            "files in the integration branch": {
                "value": len(ids) - len(missing),
                "target": len(ids),
                "met": not missing,
            },
        }
        | (
            {"merged as reviewed": {"value": len(ids) - len(wrong), "target": len(ids), "met": not wrong}}
            if project.plan.reviewers
            else {}
        ),
        "passed": passed,
    }
