"""The worker host: one per worker, in its tmux window. It owns the agent process of the current
task, carries out the worker's inbox commands once each, turns the agent's output into events,
and shows a readable transcript in the pane.

Single-threaded: it waits on the doorbell and the agent's output at once with ``select``.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import update

from czar.agents import adapter_for
from czar.agents.base import AgentAdapter, Signal
from czar.core.states import TaskState, WorkerState
from czar.runtime.proc import kill_group
from czar.store.doorbell import Listener
from czar.store.schema import workers
from czar.store.store import Command, Store, TransitionRefused

POLL_SECONDS = 2.0  # safety net only: the doorbell and the agent's output wake the loop


@dataclass
class Current:
    """The attempt this worker is on, and its agent process if one runs."""

    attempt: int
    task: str
    worktree: Path
    prompt: str
    digest: str
    adapter: AgentAdapter
    launches: int = 0  # agent starts in this attempt and, before it, in earlier attempts of the task
    proc: subprocess.Popen[bytes] | None = None
    buffer: bytes = b""
    finished: bool = False
    pending: list[str] = field(default_factory=list)


class WorkerHost:
    def __init__(self, store: Store, worker_id: str, agent_kind: str, out: IO[str] = sys.stdout) -> None:
        self.store = store
        self.worker = worker_id
        self.agent_kind = agent_kind
        self.out = out
        self.current: Current | None = None
        self.stopping = False
        self.listener: Listener | None = None
        self.log_path = store.paths.logs / f"{worker_id}.log"

    # -- transcript --------------------------------------------------------------------------

    def say(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {text}"
        print(line, file=self.out, flush=True)
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    # -- main loop ---------------------------------------------------------------------------

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        listener = self.listener = self.store.listen(f"w-{self.worker}")
        with self.store.write() as conn:
            Store.set_worker(conn, self.worker, pid=os.getpid(), last_seen=time.time(), agent_pid=None)
            # Idle unless the supervisor gave this worker a task while the host was starting.
            conn.execute(
                update(workers)
                .where(workers.c.id == self.worker, workers.c.task_id.is_(None))
                .values(state=WorkerState.IDLE.value)
            )
            Store.emit(conn, "worker.host_started", actor=self.worker, worker=self.worker, pid=os.getpid())
        self.say(f"worker {self.worker} ready ({self.agent_kind}); waiting for a task")
        try:
            while not self.stopping:
                for cmd in self.store.open_commands(self.worker):
                    self.handle(cmd)
                    if self.stopping:
                        break
                fds: list[Any] = [listener]
                if self.current and self.current.proc and self.current.proc.stdout:
                    fds.append(self.current.proc.stdout)
                try:
                    ready, _, _ = select.select(fds, [], [], POLL_SECONDS)
                except InterruptedError:
                    continue
                if listener in ready:
                    listener.wait(0)
                self._read_agent()
        finally:
            self._stop_agent()
            listener.close()
            with self.store.write() as conn:
                Store.set_worker(conn, self.worker, state=WorkerState.STOPPED, agent_pid=None)
                Store.emit(conn, "worker.host_stopped", actor=self.worker, worker=self.worker)
        return 0

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True
        if self.listener is not None:
            self.listener.poke()

    # -- commands ----------------------------------------------------------------------------

    def handle(self, cmd: Command) -> None:
        p = cmd.payload
        if cmd.kind == "start":
            self._stop_agent()
            self.current = Current(
                attempt=int(p["attempt"]),
                task=str(p["task"]),
                worktree=Path(p["worktree"]),
                prompt=str(p["prompt"]),
                digest=str(p["digest"]),
                adapter=adapter_for(self.agent_kind),
                launches=int(p.get("earlier_attempts", 0)),
            )
            self.say(f"== task {p['task']} (attempt {p['attempt']}): prompt of {len(p['prompt'])} characters")
            self._launch([self.current.prompt])
            detail = {"pid": self.current.proc.pid if self.current.proc else None}
            self._done(cmd, "agent.started", **detail)
        elif cmd.kind == "message":
            text = str(p["text"])
            cur = self.current
            if cur is None or cur.attempt != int(p["attempt"]):
                self._done(cmd, "agent.message_dropped", reason="no such attempt on this worker")
                return
            self.say(f">> message for {cur.task}: {text.splitlines()[0] if text else ''}")
            cur.finished = False
            if cur.proc is not None and cur.proc.poll() is None:
                self._send(text)
            else:
                # The agent already exited: start it again with the task and the message.
                self._launch([cur.prompt, text])
            self._done(cmd, "agent.message_delivered", chars=len(text))
        elif cmd.kind == "stop":
            if self.current is not None and self.current.attempt == int(p.get("attempt", -1)):
                self._stop_agent()
                self.current = None
                self.say("== task ended; waiting for the next one")
            self._done(cmd, "agent.stopped")
        else:
            self._done(cmd, "worker.unknown_command", command=cmd.kind)

    def _done(self, cmd: Command, kind: str, **payload: Any) -> None:
        with self.store.write() as conn:
            if Store.mark_done(conn, cmd.id):
                cur = self.current
                Store.emit(
                    conn,
                    kind,
                    actor=self.worker,
                    worker=self.worker,
                    task=cur.task if cur else None,
                    attempt=cur.attempt if cur else None,
                    command=cmd.id,
                    **payload,
                )

    # -- the agent process -------------------------------------------------------------------

    def _launch(self, messages: list[str]) -> None:
        cur = self.current
        assert cur is not None
        cur.launches += 1
        env = dict(os.environ)
        env.update(
            CZAR_WORKER=self.worker,
            CZAR_TASK=cur.task,
            CZAR_ATTEMPT=str(cur.attempt),
            CZAR_AGENT_LAUNCH=str(cur.launches),
            PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            GIT_AUTHOR_NAME=f"czar {self.worker}",
            GIT_AUTHOR_EMAIL=f"{self.worker}@czar.localhost",
            GIT_COMMITTER_NAME=f"czar {self.worker}",
            GIT_COMMITTER_EMAIL=f"{self.worker}@czar.localhost",
        )
        cur.proc = subprocess.Popen(
            cur.adapter.argv(cur.worktree),
            cwd=cur.worktree,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so stopping it kills its whole process group
        )
        cur.buffer = b""
        os.set_blocking(cur.proc.stdout.fileno(), False)  # type: ignore[union-attr]
        with self.store.write() as conn:
            Store.set_worker(conn, self.worker, agent_pid=cur.proc.pid, last_seen=time.time())
        for text in messages:
            self._send(text)

    def _send(self, text: str) -> None:
        cur = self.current
        assert cur is not None and cur.proc is not None and cur.proc.stdin is not None
        try:
            cur.proc.stdin.write(cur.adapter.encode(text).encode())
            cur.proc.stdin.flush()
        except BrokenPipeError:
            pass  # the agent died; its exit is noticed when its output closes

    def _stop_agent(self) -> None:
        cur = self.current
        if cur is None or cur.proc is None:
            return
        proc = cur.proc
        with contextlib.suppress(OSError):
            if proc.stdin:
                proc.stdin.close()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            proc.wait()
        kill_group(proc.pid)  # any grandchildren it left
        cur.proc = None
        with self.store.write() as conn:
            Store.set_worker(conn, self.worker, agent_pid=None)

    def _read_agent(self) -> None:
        cur = self.current
        if cur is None or cur.proc is None or cur.proc.stdout is None:
            return
        eof = False
        while True:
            try:
                chunk = os.read(cur.proc.stdout.fileno(), 65536)
            except BlockingIOError:
                break
            if not chunk:
                eof = True
                break
            cur.buffer += chunk
        *lines, cur.buffer = cur.buffer.split(b"\n")
        for raw in lines:
            signal_ = cur.adapter.parse(raw.decode(errors="replace"))
            if signal_ is not None:
                self.on_signal(cur, signal_)
        if eof:
            self._on_exit(cur)

    def _on_exit(self, cur: Current) -> None:
        assert cur.proc is not None
        code = cur.proc.wait()
        cur.proc = None
        self.say(f"agent exited with code {code}" + ("" if cur.finished else " before finishing"))
        with self.store.write() as conn:
            Store.set_worker(conn, self.worker, agent_pid=None, last_seen=time.time())
            state = TaskState(Store.task_row(conn, cur.task).state)
            unfinished = not cur.finished and state in (TaskState.ASSIGNED, TaskState.RUNNING)
            if unfinished:
                conn.execute(
                    Store.attempt_update(cur.attempt, agent_exited_at=time.time()),
                )
            Store.emit(
                conn,
                "agent.exited",
                actor=self.worker,
                worker=self.worker,
                task=cur.task,
                attempt=cur.attempt,
                code=code,
                finished=not unfinished,
            )

    # -- signals from the agent --------------------------------------------------------------

    def on_signal(self, cur: Current, sig: Signal) -> None:
        ids: dict[str, Any] = {"actor": self.worker, "worker": self.worker, "task": cur.task, "attempt": cur.attempt}
        if sig.kind == "ack":
            confirmed = sig.digest == cur.digest
            self.say(
                f"agent acknowledged task {sig.task}" + ("" if confirmed else " (text differs from what was sent!)")
            )
            with self.store.write() as conn:
                conn.execute(Store.attempt_update(cur.attempt, acked_at=time.time()))
                Store.emit(conn, "agent.ack", **ids, named=sig.task, confirmed=confirmed)
                with contextlib.suppress(TransitionRefused):
                    Store.move_task(
                        conn,
                        cur.task,
                        TaskState.RUNNING,
                        expect=TaskState.ASSIGNED,
                        actor=self.worker,
                        reason="the agent acknowledged the task",
                    )
        elif sig.kind == "finished":
            cur.finished = True
            self.say(f"agent finished: {sig.text}")
            with self.store.write() as conn:
                conn.execute(Store.attempt_update(cur.attempt, finished_at=time.time(), summary=sig.text))
                Store.emit(conn, "agent.finished", **ids, summary=sig.text)
                with contextlib.suppress(TransitionRefused):
                    if TaskState(Store.task_row(conn, cur.task).state) is TaskState.ASSIGNED:
                        Store.move_task(
                            conn, cur.task, TaskState.RUNNING, actor=self.worker, reason="finished before acking"
                        )
                    Store.move_task(
                        conn,
                        cur.task,
                        TaskState.SUBMITTED,
                        expect=TaskState.RUNNING,
                        actor=self.worker,
                        reason=f"the agent finished: {sig.text}",
                    )
        elif sig.kind in ("progress", "commit", "error", "permission"):
            self.say(f"{sig.kind}: {sig.text}")
            with self.store.write() as conn:
                Store.emit(conn, f"agent.{sig.kind}", **ids, text=sig.text, **_small(sig.data))
                Store.set_worker(conn, self.worker, last_seen=time.time())
        elif sig.kind == "activity":
            self.say(f"  {sig.text}")
            with self.store.write() as conn:
                Store.emit(conn, "agent.activity", **ids, text=sig.text[:500])
                Store.set_worker(conn, self.worker, last_seen=time.time())


def _small(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("type", "output") and k not in ("actor", "task", "worker")}
