"""What the supervisor does to carry out a decision: assign, requeue, verify, merge.

Each action writes its outcome, the events that explain it, and any inbox command it causes in
one transaction, so a crash between two actions never leaves half a decision behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from czar.core.prompt import PromptInput, render
from czar.core.states import AttemptOutcome, TaskState, WorkerState
from czar.errors import CzarError
from czar.store.schema import attempts, inbox, tasks, workers
from czar.store.store import Store
from czar.supervisor.checks import describe_failure, run_checks
from czar.supervisor.project import Project

log = logging.getLogger("czar.supervisor")


def branch_of(task_id: str) -> str:
    return f"czar/{task_id}"


class Actions:
    def __init__(self, project: Project) -> None:
        self.p = project
        self.store = project.store
        self.integration = project.plan.project.integration_branch

    # -- helpers -----------------------------------------------------------------------------

    def _board(self, conn: Connection, worker_id: str) -> list[str]:
        rows = conn.execute(
            select(workers.c.id, tasks.c.id.label("task"), tasks.c.title, tasks.c.state, tasks.c.spec)
            .join(tasks, tasks.c.id == workers.c.task_id)
            .where(workers.c.id != worker_id)
            .order_by(workers.c.id)
        ).all()
        lines = []
        for r in rows:
            scope = json.loads(r.spec)["scope"]
            where = f"; scope: {', '.join(scope)}" if scope else ""
            lines.append(f"{r.id} works on task {r.task} ({r.state}): {r.title}{where}")
        return lines

    @staticmethod
    def _free_worker(conn: Connection, worker_id: str | None, attempt_id: int | None) -> None:
        if worker_id is None:
            return
        Store.set_worker(conn, worker_id, task_id=None, state=WorkerState.IDLE)
        Store.post(conn, worker_id, "stop", {"attempt": attempt_id})

    # -- assign ------------------------------------------------------------------------------

    def assign(self, task_id: str, worker_id: str, reason: str) -> None:
        plan = self.p.plan
        branch = branch_of(task_id)
        worktree = self.p.paths.worktree(task_id)
        with self.p.git_lock.held():
            self.p.git.ensure_branch(branch, self.integration)
            self.p.git.ensure_worktree(worktree, branch)
        base = self.p.git.tip(branch)
        with self.store.write() as conn:
            task = Store.task_row(conn, task_id)
            worker = conn.execute(select(workers).where(workers.c.id == worker_id)).one()
            if task.state != TaskState.READY.value or worker.task_id is not None:
                return  # the state moved on since the decision: decide again
            spec = json.loads(task.spec)
            prompt = render(
                PromptInput(
                    project=plan.project.name,
                    worker=worker_id,
                    task_id=task_id,
                    title=task.title,
                    body=task.body,
                    branch=branch,
                    integration_branch=self.integration,
                    scope=tuple(spec["scope"]),
                    accept=tuple(spec["accept"]),
                    subtasks=tuple(spec["subtasks"]),
                    board=self._board(conn, worker_id),
                    previous_failure=task.note,
                )
            )
            digest = hashlib.sha256(prompt.encode()).hexdigest()
            earlier = len(conn.execute(select(attempts.c.id).where(attempts.c.task_id == task_id)).all())
            attempt_id = int(
                conn.execute(
                    insert(attempts).values(
                        task_id=task_id,
                        worker_id=worker_id,
                        branch=branch,
                        worktree=str(worktree),
                        base_commit=base,
                        prompt=prompt,
                        prompt_sha256=digest,
                        outcome=AttemptOutcome.OPEN.value,
                        started_at=time.time(),
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
            Store.move_task(
                conn,
                task_id,
                TaskState.ASSIGNED,
                expect=TaskState.READY,
                reason=reason,
                worker_id=worker_id,
                attempt_id=attempt_id,
            )
            Store.set_worker(conn, worker_id, task_id=task_id, state=WorkerState.WORKING)
            Store.post(
                conn,
                worker_id,
                "start",
                {
                    "attempt": attempt_id,
                    "task": task_id,
                    "worktree": str(worktree),
                    "prompt": prompt,
                    "digest": digest,
                    "earlier_attempts": earlier,
                },
            )
            Store.emit(
                conn,
                "task.assigned",
                task=task_id,
                worker=worker_id,
                attempt=attempt_id,
                reason=reason,
                branch=branch,
                base=base,
                prompt_chars=len(prompt),
            )

    # -- requeue -----------------------------------------------------------------------------

    def requeue(self, conn: Connection, task_id: str, reason: str) -> None:
        """Take a task back from its worker (gone or given up); its branch keeps the work."""
        task = Store.task_row(conn, task_id)
        max_attempts = self.p.plan.project.max_attempts
        rounds = task.rounds + 1
        if task.attempt_id is not None:
            conn.execute(Store.attempt_update(task.attempt_id, outcome=AttemptOutcome.ABANDONED.value))
        if task.worker_id is not None:
            # Commands still queued for the old attempt must not run later.
            conn.execute(
                update(inbox)
                .where(inbox.c.worker_id == task.worker_id, inbox.c.done_at.is_(None))
                .values(done_at=time.time())
            )
            self._free_worker(conn, task.worker_id, task.attempt_id)
        if rounds >= max_attempts:
            Store.move_task(conn, task_id, TaskState.FAILED, reason=f"{reason}; no attempts left", rounds=rounds)
            Store.emit(conn, "alert", task=task_id, level="critical", message=f"task {task_id} failed: {reason}")
            return
        Store.move_task(
            conn,
            task_id,
            TaskState.READY,
            reason=reason,
            rounds=rounds,
            worker_id=None,
            attempt_id=None,
            note=f"The previous attempt ended early: {reason}. "
            "Your branch keeps what it committed; continue from there.",
        )

    # -- verify ------------------------------------------------------------------------------

    def verify(self, task_id: str) -> None:
        """Check a submitted task in its worktree; runs on a worker thread."""
        with self.store.read() as conn:
            task = Store.task_row(conn, task_id)
            attempt = Store.attempt_row(conn, task.attempt_id)
        spec = json.loads(task.spec)
        branch = branch_of(task_id)
        round_no = task.rounds + 1
        problems: list[str] = []
        changed: list[str] = []
        results = []
        try:
            if self.p.git.commits_ahead(self.integration, branch) == 0:
                problems.append(f"no commits on {branch} beyond {self.integration}: commit your work")
            changed = self.p.git.changed_files(self.integration, branch)
            log_path = self.p.paths.checks / task_id / f"round-{round_no}.log"
            if not problems:
                results = run_checks(
                    spec["accept"], Path(attempt.worktree), self.p.plan.project.accept_timeout, log_path
                )
                failure = describe_failure(results)
                if failure:
                    problems.append(failure)
        except CzarError as exc:
            problems.append(f"verification could not run: {exc}")
        checks = [{"command": r.command, "exit": r.returncode, "timed_out": r.timed_out} for r in results]
        with self.store.write() as conn:
            if problems:
                self._verification_failed(conn, task, round_no, problems, checks)
                return
            Store.move_task(
                conn,
                task_id,
                TaskState.APPROVED,
                expect=TaskState.VERIFYING,
                rounds=round_no,
                reason=f"verified: {len(checks)} check(s) passed, {len(changed)} file(s) changed",
            )
            Store.emit(conn, "verify.passed", task=task_id, attempt=task.attempt_id, checks=checks, changed=changed)
            self._free_worker(conn, task.worker_id, task.attempt_id)

    def _verification_failed(
        self, conn: Connection, task: Any, round_no: int, problems: list[str], checks: list[dict[str, Any]]
    ) -> None:
        max_attempts = self.p.plan.project.max_attempts
        evidence = "\n\n".join(problems)
        Store.emit(
            conn,
            "verify.failed",
            task=task.id,
            attempt=task.attempt_id,
            round=round_no,
            checks=checks,
            evidence=evidence[-4000:],
        )
        if round_no >= max_attempts:
            Store.move_task(
                conn,
                task.id,
                TaskState.FAILED,
                rounds=round_no,
                reason=f"verification failed {round_no} time(s); no attempts left",
            )
            conn.execute(Store.attempt_update(task.attempt_id, outcome=AttemptOutcome.FAILED.value))
            Store.emit(
                conn,
                "alert",
                task=task.id,
                level="critical",
                message=f"task {task.id} failed verification {round_no} time(s)",
            )
            self._free_worker(conn, task.worker_id, task.attempt_id)
            return
        Store.move_task(
            conn,
            task.id,
            TaskState.RUNNING,
            expect=TaskState.VERIFYING,
            rounds=round_no,
            reason=f"verification failed (round {round_no} of {max_attempts}); evidence sent to the worker",
        )
        text = (
            f"Verification of task {task.id} failed (round {round_no} of {max_attempts}).\n\n{evidence}\n\n"
            "Fix this in your worktree, commit, and finish again."
        )
        Store.post(conn, task.worker_id, "message", {"attempt": task.attempt_id, "text": text})

    # -- merge -------------------------------------------------------------------------------

    def merge(self, task_id: str) -> None:
        """Merge an approved task into the integration branch; runs on the merge thread.

        Safe to run again after a crash at any point: ``merge_from`` (the integration tip before
        this merge) tells whether the merge commit already exists and where to go back to.
        """
        with self.store.read() as conn:
            task = Store.task_row(conn, task_id)
        branch = branch_of(task_id)
        git, paths, project = self.p.git, self.p.paths, self.p.plan.project
        integ = paths.integration_worktree
        problem = None
        with self.p.git_lock.held():
            git.clean_worktree(integ)
            head = git.out("rev-parse", "HEAD", cwd=integ)
            before = task.merge_from or head
            tip = git.tip(branch)
            if head != before and git.is_ancestor(tip, head):
                merged_now = True  # the merge commit was made before an interruption
            else:
                result = git.merge(integ, branch, f"czar: merge task {task_id}: {task.title}")
                merged_now = result.ok
                if not result.ok:
                    problem = (
                        f"Merging {branch} into {self.integration} conflicted:\n```\n{result.output[-TAIL:]}\n```\n"
                        f"Merge {self.integration} into your branch, resolve the conflicts, and commit."
                    )
            if merged_now and project.check_after_merge and project.accept:
                log_path = paths.checks / task_id / f"merge-{task.rounds}.log"
                results = run_checks(project.accept, integ, project.accept_timeout, log_path)
                failure = describe_failure(results)
                if failure:
                    git.reset_hard(integ, before)
                    problem = f"After merging into {self.integration}, the project's checks failed:\n{failure}"
            merged_at = git.out("rev-parse", "HEAD", cwd=integ)
        with self.store.write() as conn:
            if problem is None:
                Store.move_task(
                    conn,
                    task_id,
                    TaskState.MERGED,
                    expect=TaskState.MERGING,
                    merge_from=None,
                    reason=f"merged into {self.integration} at {merged_at[:10]}",
                )
                if task.attempt_id is not None:
                    conn.execute(Store.attempt_update(task.attempt_id, outcome=AttemptOutcome.MERGED.value))
                Store.emit(conn, "task.merged", task=task_id, attempt=task.attempt_id, commit=merged_at)
            else:
                Store.emit(conn, "merge.failed", task=task_id, attempt=task.attempt_id, evidence=problem[-4000:])
                rounds = task.rounds + 1
                if rounds >= project.max_attempts:
                    Store.move_task(
                        conn,
                        task_id,
                        TaskState.FAILED,
                        rounds=rounds,
                        merge_from=None,
                        reason="merge failed; no attempts left",
                    )
                    Store.emit(
                        conn, "alert", task=task_id, level="critical", message=f"task {task_id} could not be merged"
                    )
                else:
                    Store.move_task(
                        conn,
                        task_id,
                        TaskState.READY,
                        rounds=rounds,
                        worker_id=None,
                        attempt_id=None,
                        merge_from=None,
                        note=problem,
                        reason="merge failed; back to the pool with the evidence",
                    )
        if problem is None:
            with self.p.git_lock.held():
                git.remove_worktree(paths.worktree(task_id))


TAIL = 3000
