"""What a remote forge says about the tasks' pull requests, acted on (``[forge]`` other than local).

CI: when a check of a pull request's head fails, the task's author hears which check, where to see
it, and what it printed (a GitHub Actions job: the failing step and the end of its log), and the
task goes through the loop again (a round used, as a failed verification uses one). With
``wait_for_ci`` no task merges until every check of its commit has passed.

People: what someone writes on a task's pull request on the forge reaches its author's agent, in
their words; a review that asks for changes sends the task back (no round used: a person's call).

Each failure and each remark is acted on once: the pull request's history records it, so a
supervisor that starts again does not say it twice. Errors from the forge cost a line in the log
and are tried again at the next look.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from czar.core.events import EventKind
from czar.core.forge import CheckRun, Remark
from czar.core.host_commands import MessageKind
from czar.core.rounds import Setback, after_setback
from czar.core.states import TaskState
from czar.errors import CzarError
from czar.store.records import Pull, Task
from czar.store.store import Store, Tx
from czar.supervisor.actions import Actions, branch_of
from czar.supervisor.forge_trouble import ForgeTrouble
from czar.supervisor.project import Project

# Where a pull request exists and what the forge says about it still matters to the task.
WATCHED = (
    TaskState.ASSIGNED,
    TaskState.RUNNING,
    TaskState.SUBMITTED,
    TaskState.VERIFYING,
    TaskState.REVIEWING,
    TaskState.APPROVED,
)
# Where a failing check or a request for changes sends the task back to its author.
SENT_BACK_FROM = (TaskState.REVIEWING, TaskState.APPROVED)
OUTPUT_TAIL = 4000  # characters of a failed check's output told to the agent
NO_CI_AFTER = 600.0  # seconds a commit may wait for its first check before a person hears of it


class ForgeFeedback:
    def __init__(self, project: Project, actions: Actions, say: Callable[[str], None]) -> None:
        self.p = project
        self.actions = actions
        self.say = say
        self.trouble = ForgeTrouble(project, say)
        self.green: dict[str, str] = {}
        self.waiting: dict[tuple[str, str], float] = {}  # (task, commit) -> when it was first seen with no check
        self.said_no_ci: set[tuple[str, str]] = set()  # task -> the commit whose checks all passed on the forge

    def look(self) -> None:
        """Read the forge's checks and remarks for every watched task's pull request, and act."""
        tasks = {t.id: t for t in self.p.store.tasks()}
        with self.p.store.read() as conn:
            pulls = [p for p in Store.all_pulls(conn) if p.remote_number is not None and p.state.value == "open"]
        for pull in pulls:
            task = tasks.get(pull.task_id)
            if task is None or task.state not in WATCHED:
                continue
            try:
                self._remarks(task, pull, self.p.forge.remarks(pull.id))
                if task.state in SENT_BACK_FROM:
                    self._checks(task, pull, self.p.forge.checks(pull.id))
                self.trouble.worked(task.id, "reading its checks and remarks")
            except CzarError as exc:  # tried again at the next look
                self.trouble.failed(task.id, "reading its checks and remarks", exc)

    def _no_ci(self, task: Task, pull: Pull) -> None:
        """``wait_for_ci`` holds a merge for checks that may never come (a repository without CI, a
        workflow that does not run for czar's branches): a person hears it once per commit."""
        now = self.p.clock.time()
        since = self.waiting.setdefault((task.id, pull.head_commit), now)
        if now - since < NO_CI_AFTER or (task.id, pull.head_commit) in self.said_no_ci:
            return
        self.said_no_ci.add((task.id, pull.head_commit))
        with self.p.store.write() as conn:
            Store.alert(
                conn,
                "warning",
                f"no check has reported on the pull request of task {task.id} at {pull.head_commit[:10]} for "
                f"{NO_CI_AFTER / 60:.0f} minutes; wait_for_ci holds its merge (does CI run on czar's branches?)",
                task=task.id,
            )

    def ci_passed(self, task_id: str, commit: str | None) -> bool:
        """Whether ``commit`` of the task may merge as far as the forge's CI goes."""
        return not self.p.plan.forge.wait_for_ci or (commit is not None and self.green.get(task_id) == commit)

    # -- CI -------------------------------------------------------------------------------------

    def _checks(self, task: Task, pull: Pull, checks: Sequence[CheckRun]) -> None:
        failed = [c for c in checks if not c.passed and not c.pending]
        if checks and not failed and not any(c.pending for c in checks):
            self.green[task.id] = pull.head_commit
            return
        self.green.pop(task.id, None)
        if not checks and self.p.plan.forge.wait_for_ci:
            self._no_ci(task, pull)
        if not failed:
            return
        with self.p.store.write() as conn:
            if any(e.commit == pull.head_commit for e in Store.pull_entries(conn, pull.id, "ci_failed")):
                return  # said already
            task = Store.task(conn, task.id)
            if task.state not in SENT_BACK_FROM or self._head(task) != pull.head_commit:
                return  # it moved on meanwhile: its new head gets checks of its own
            names = [c.name for c in failed]
            Store.add_pull_entry(conn, pull.id, "ci_failed", pull.head_commit, checks=names)
            text = ci_text(task.id, pull, failed, self.p.plan.project.max_rounds, task.rounds + 1)
            Store.emit(
                conn,
                EventKind.FORGE_CI_FAILED,
                task=task.id,
                attempt=task.attempt_id,
                commit=pull.head_commit,
                checks=[{"name": c.name, "url": c.url} for c in failed],
                evidence=text[-OUTPUT_TAIL:],
            )
            self._send_back(conn, task, Setback.CI_FAILED, MessageKind.FEEDBACK, text, f"CI failed: {', '.join(names)}")
        self.say(f"task {task.id}: CI failed on its pull request ({', '.join(names)}); sent back")

    # -- people ---------------------------------------------------------------------------------

    def _remarks(self, task: Task, pull: Pull, remarks: Sequence[Remark]) -> None:
        if not remarks:
            return
        with self.p.store.write() as conn:
            seen = {str(e.detail.get("id")) for e in Store.pull_entries(conn, pull.id, "remark")}
            new = [r for r in remarks if r.id not in seen]
            if not new:
                return
            for r in new:
                Store.add_pull_entry(
                    conn,
                    pull.id,
                    "remark",
                    r.commit,
                    id=r.id,
                    author=r.author,
                    body=r.body[:OUTPUT_TAIL],
                    changes_requested=r.changes_requested,
                    path=r.path,
                    line=r.line,
                )
                Store.emit(
                    conn,
                    EventKind.FORGE_REMARK,
                    task=task.id,
                    author=r.author,
                    remark=r.id,
                    changes_requested=r.changes_requested,
                )
            task = Store.task(conn, task.id)
            # Every remark not passed on yet, these and those recorded while nobody was at work
            # on the task (one look may see a person's comment before their review that came
            # with it): the agent hears them together, once.
            entries = Store.pull_entries(conn, pull.id)
            told = max((e.id for e in entries if e.kind == "remarks_told"), default=0)
            untold = [_remark(e.detail, e.commit) for e in entries if e.kind == "remark" and e.id > told]
            text = remarks_text(task.id, pull, untold)
            if any(r.changes_requested for r in new) and task.state in SENT_BACK_FROM:
                who = ", ".join(sorted({r.author for r in new if r.changes_requested}))
                self._send_back(conn, task, Setback.PERSON_ASKED, MessageKind.REVIEW, text, f"{who} asked for changes")
            elif self.actions.holder(conn, task) is not None and task.state in (TaskState.ASSIGNED, TaskState.RUNNING):
                self.actions.tell(conn, task, MessageKind.PERSON, text)
            else:
                return  # nobody at work on it: kept for the next one (and on `czar pr show`)
            Store.add_pull_entry(conn, pull.id, "remarks_told", pull.head_commit, count=len(untold))
        self.say(f"task {task.id}: {len(new)} remark(s) on its pull request passed on")

    # -- both -----------------------------------------------------------------------------------

    def _send_back(self, conn: Tx, task: Task, setback: Setback, kind: MessageKind, text: str, reason: str) -> None:
        """Back to its author's session when its worker still holds it, else to the pool with the
        text; failed if the setback leaves it no round."""
        after = after_setback(setback, task.rounds, self.p.plan.project.max_rounds)
        author = self.actions.holder(conn, task)
        if after.fails:
            alert = f"task {task.id} failed: {reason}"
            self.actions.give_up(conn, task, author, f"{reason}; no rounds left", alert, rounds=after.rounds)
            return
        self.actions.send_back(
            conn,
            task,
            kind,
            text,
            held=author is not None,
            reason=f"{reason}; sent to its agent",
            pool_reason=f"{reason}; back to the pool with what was said",
            rounds=after.rounds,
        )

    def _head(self, task: Task) -> str | None:
        """The task's branch's commit now (its pull request's head, once czar has updated it)."""
        return self.p.repo.tips().get(branch_of(task.id))


def _remark(detail: dict[str, Any], commit: str | None) -> Remark:
    """A remark as the pull request's history recorded it."""
    line = detail.get("line")
    return Remark(
        str(detail.get("id")),
        str(detail.get("author")),
        str(detail.get("body") or ""),
        bool(detail.get("changes_requested")),
        commit,
        detail.get("path"),
        int(line) if line else None,
    )


def ci_text(task: str, pull: Pull, failed: Sequence[CheckRun], max_rounds: int, round_no: int) -> str:
    """What the author hears of CI failing on its pull request: each failing check, where to see
    it, and the end of what it printed."""
    where = f" ({pull.url})" if pull.url else ""
    at = f"at {pull.head_commit[:10]} (round {round_no} of {max_rounds})"
    lines = [f"CI failed on the pull request of task {task}{where} {at}."]
    for c in failed:
        state = "timed out" if c.timed_out else "failed"
        lines += ["", f"Check `{c.name}` {state}" + (f": {c.url}" if c.url else "")]
        if c.output.strip():
            out = c.output.strip()[-OUTPUT_TAIL:]
            fence = _fence(out)
            lines += [fence, out, fence]
    lines += ["", "Fix this in your worktree, commit, and finish again."]
    return "\n".join(lines)


def remarks_text(task: str, pull: Pull, remarks: Sequence[Remark]) -> str:
    """What people wrote on the pull request, in their words, with the line each is about."""
    where = f" ({pull.url})" if pull.url else ""
    lines = [f"People wrote on the pull request of task {task}{where}:"]
    for r in remarks:
        about = f" on {r.path}:{r.line}" if r.path else ""
        verb = "asked for changes" if r.changes_requested else "wrote"
        body = r.body.strip()[:OUTPUT_TAIL] or "(no text)"
        fence = _fence(body)
        lines += ["", f"{r.author} {verb}{about}:", fence, body, fence]
    if any(r.changes_requested for r in remarks):
        lines += ["", "Make the changes asked for in your worktree, commit, and finish again."]
    else:
        lines += ["", "Take it into account in your work; no answer is needed."]
    return "\n".join(lines)


def _fence(text: str) -> str:
    """Tildes, more than any run in the text (it is someone else's words, or a log)."""
    runs = [len(r) for r in re.findall(r"~+", text)]
    return "~" * max([3, *(n + 1 for n in runs)])
