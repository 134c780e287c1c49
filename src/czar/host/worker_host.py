"""The worker host: one per worker, in its tmux window. It owns the agent process of the current
task, carries out the worker's inbox commands once each, turns the agent's output into events
(through the same agent tools the ``czar report/done/...`` commands use), and shows a readable
transcript in the pane.

One loop waits on its doorbell and the agent's output at once with ``select``; threads only
serve czar's MCP server to the agent and let the agent of an ended task go.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import select
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, assert_never

from czar.agent_tools.identity import (
    ENV_PROJECT,
    ENV_TOKEN,
    ENV_WORKER,
    Caller,
    CallerError,
    new_token,
    token_digest,
)
from czar.agent_tools.relay import ENV_ENDPOINT, RelayServer
from czar.agent_tools.service import AgentTools, digest
from czar.agents import adapter_for
from czar.agents.base import AgentAdapter, AgentSettings, HookKind, LaunchContext, Signal, SignalKind
from czar.core import egress, pricing, usage
from czar.core.events import EventKind
from czar.core.host_commands import Answer, MessageKind, Restart, StartTask, StopAgent, Tell, Unreadable
from czar.core.policy import Decision
from czar.core.states import ACTIVE_TASK_STATES, TaskState, WorkerState
from czar.core.usage import Meter
from czar.errors import CzarError
from czar.host import output, user_config
from czar.host.output import Flow, ModelWatch, Note
from czar.host.screen import Pane, Screen
from czar.paths import czar_home
from czar.plan.model import AgentConfig, SandboxConfig
from czar.runtime import sandbox, untrusted
from czar.runtime.gateway import Gateway
from czar.runtime.proc import Child, run, spawn
from czar.store.doorbell import Listener
from czar.store.store import Posted, Store, Tx
from czar.vcs import checkout
from czar.vcs.git import Git

# What an agent keeps in your home when it runs with it (``home = "user"``): writable in its sandbox.
USER_STATE = {
    "claude": (".claude", ".claude.json"),
    "codex": (".codex",),
    "gemini": (".gemini",),
    "aider": (".aider",),
}

POLL_SECONDS = 5.0  # safety net only: the doorbell and the agent's output wake the loop
AGENT_NICENESS = 10  # the agent's scheduling priority, below czar's
SUBMIT_WAIT = 3.0  # seconds for a pasted message to be confirmed submitted before Enter again
SUBMIT_TRIES = 3


@dataclass
class Submit:
    """A message pasted into an agent's screen, until its hook confirms the prompt."""

    digest: str
    deadline: float
    tries: int = 1
    other: bool = False  # a prompt with other text was submitted meanwhile


@dataclass
class Current:
    """The attempt this worker is on, and its agent process if one runs."""

    attempt: int
    task: str
    worktree: Path
    prompt: str
    adapter: AgentAdapter
    launches: int = 0  # agent starts for this task, in this attempt and earlier ones
    proc: Child | None = None
    buffer: bytes = b""
    finished: bool = False
    digest: str = ""  # of the first message of the current launch, to confirm delivery
    last_text: str = ""
    repeats: int = 0
    session: str | None = None  # the agent's own session, to resume it
    meter: Meter = field(default_factory=Meter)  # its usage, each API message counted once
    flow: Flow = field(default_factory=Flow)  # its activity, coalesced when it floods
    watch: ModelWatch = field(default_factory=ModelWatch)  # whether it reaches its model
    session_lost: bool = False  # the session it was resumed with does not exist
    endpoint: Any = None  # czar's MCP server for the agent's current start, when the host serves it
    relay: RelayServer | None = None  # czar's tools for its `czar` commands, when it runs in a sandbox
    gateway: Gateway | None = None  # the doors of its sandbox's network (czar's tools, its model's API)
    screen: Screen | None = None  # the agent's terminal, when it runs on its own screen
    submit: Submit | None = None  # a pasted message not confirmed yet
    transcript: Path | None = None  # what the agent on a screen writes down (its usage), and how far read
    transcript_at: int = 0
    hooks_since: int = 0  # the last event looked at for its hooks (on a screen)
    first_paste: str | None = None  # a first message too long for its command line, pasted once it started
    sent_back: bool = False  # sent back to work when its turn ended, and no tool used since
    config_before: user_config.Snapshot | None = None  # its configuration in your home, before it ran


class WorkerHost:
    def __init__(
        self,
        store: Store,
        worker_id: str,
        agent_kind: str,
        agent_config: AgentConfig | None = None,
        out: IO[str] = sys.stdout,
        repo: Path | None = None,
        sandbox_config: SandboxConfig | None = None,
    ) -> None:
        self.store = store
        self.worker = worker_id
        self.agent_kind = agent_kind
        self.settings = settings_of(agent_config)
        self.home = store.paths.root / "agents" / worker_id  # the agent's own files (configs, a home)
        self.repo = repo
        self.sandbox = sandbox_config if sandbox_config is not None else SandboxConfig(enabled=False)
        self.out = out
        self.tools = AgentTools(store, worker_id)
        self._denied_hosts: set[str] = set()
        self.token = new_token()
        self.current: Current | None = None
        self.stopping = False
        self.listener: Listener | None = None
        self.log_path = store.paths.logs / f"{worker_id}.log"
        # Ending agents of earlier tasks, and the threads that end them.
        self.reapers: list[tuple[threading.Thread, Child]] = []
        self.resized = False
        self.pane = Pane(out)
        self.keyboard: int | None = None  # the pane's keys, while an agent's screen has them
        self.objects: Path | None = None  # the repository's objects, which task checkouts borrow

    # -- transcript --------------------------------------------------------------------------

    def say(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {text}"
        if self.current is None or self.current.screen is None:  # else the pane is the agent's screen
            print(line, file=self.out, flush=True)
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    # -- main loop ---------------------------------------------------------------------------

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGWINCH, self._on_resize)
        listener = self.listener = self.store.listen_as_worker(self.worker)
        with self.store.write() as conn:
            Store.set_worker(
                conn,
                self.worker,
                pid=os.getpid(),
                last_seen=time.time(),
                agent_pid=None,
                token=token_digest(self.token),  # the store keeps only its digest
                repeats=0,
            )
            # Idle unless the supervisor gave this worker a task while the host was starting.
            Store.idle_unless_given_a_task(conn, self.worker)
            self.current = self._adopt(conn)
            Store.emit(conn, EventKind.WORKER_HOST_STARTED, actor=self.worker, worker=self.worker, pid=os.getpid())
        self._undo_config(None)  # what an agent did in your home while a killed host ran it
        # Gateway folders a killed host left (no gateway of this worker's runs yet).
        shutil.rmtree(self._gates, ignore_errors=True)
        if adapter_for(self.agent_kind).capabilities.mcp_http:
            # Load the MCP server's code while there is nothing to do, not when a task starts.
            threading.Thread(target=_load_mcp, name="czar-mcp-load", daemon=True).start()
        self.say(f"worker {self.worker} ready ({self.agent_kind}); waiting for a task")
        try:
            while not self.stopping:
                for cmd in self.store.open_commands(self.worker):
                    self.handle(cmd)
                    if self.stopping:
                        break
                fds: list[Any] = [listener]
                cur = self.current
                if cur and cur.proc and cur.proc.output_fd is not None:
                    fds.append(cur.proc.output_fd)
                screen = cur.screen if cur else None
                keyboard = self.keyboard if screen else None
                if screen:
                    fds += [screen.fd, *([keyboard] if keyboard is not None else [])]
                try:
                    wait = 0.5 if cur and cur.submit else 1.0 if screen else POLL_SECONDS
                    ready, _, _ = select.select(fds, [], [], wait)
                except InterruptedError:
                    ready = []
                if listener in ready:
                    listener.wait(0)
                if cur and screen:
                    self._tend_screen(cur, screen, ready, keyboard)
                self._read_agent()
        finally:
            self._stop_agent()
            for reaper, _ in self.reapers:
                reaper.join(timeout=5)
            listener.close()
            with self.store.write() as conn:
                Store.set_worker(conn, self.worker, state=WorkerState.STOPPED, agent_pid=None)
                Store.emit(conn, EventKind.WORKER_HOST_STOPPED, actor=self.worker, worker=self.worker)
        return 0

    def _adopt(self, conn: Tx) -> Current | None:
        """The attempt this worker still holds from its previous host (one that died, or was
        stopped by `czar down`): carried on, so that a restart loses neither the worker nor the
        task. Its agent starts again when a command says so (the supervisor posts a restart, or
        a message comes); until then nothing runs."""
        row = Store.worker(conn, self.worker)
        if row.task_id is None:
            return None
        task = Store.task(conn, row.task_id)
        state = TaskState(task.state)
        if task.worker_id != self.worker or task.attempt_id is None or state not in ACTIVE_TASK_STATES:
            return None
        attempt = Store.attempt(conn, task.attempt_id)
        if row.state == WorkerState.STARTING.value:
            Store.set_worker(conn, self.worker, state=WorkerState.WORKING, detail=None)
        self.say(f"== carrying on task {task.id} (attempt {attempt.id}, {state})")
        return Current(
            attempt=attempt.id,
            task=task.id,
            worktree=Path(attempt.worktree),
            prompt=Store.prompt(conn, attempt.id),
            adapter=adapter_for(self.agent_kind),
            launches=attempt.launches,
            finished=state in (TaskState.SUBMITTED, TaskState.VERIFYING),
            session=attempt.session_id,
        )

    def _on_resize(self, signum: int, _frame: object) -> None:
        self.resized = True

    def _tend_screen(self, cur: Current, screen: Screen, ready: list[Any], keyboard: int | None) -> None:
        """The agent on its own screen: the pane follows it, keys go to it, pastes get confirmed."""
        if self.resized:
            self.resized = False
            screen.resize()
        if keyboard is not None and keyboard in ready:
            with contextlib.suppress(OSError):
                screen.type_in(os.read(keyboard, 4096))
        self._watch_hooks(cur, screen)
        self._read_transcript(cur)
        if screen.fd in ready and not screen.pump():
            self._on_exit(cur)

    def _watch_hooks(self, cur: Current, screen: Screen) -> None:
        """What the agent's hooks said since the last look: where its transcript is, whether a
        pasted message was submitted, whether it is at work on a turn."""
        busy = seen_other = False
        for e in self.store.events_after(cur.hooks_since, kinds=(EventKind.AGENT_HOOK, EventKind.PERMISSION_DECIDED)):
            cur.hooks_since = e.id
            if e.worker_id != self.worker:
                continue
            about, detail = e.payload.get("about"), e.payload.get("detail") or {}
            # At work on a turn (a tool used or decided): a message pasted meanwhile is queued.
            busy = busy or e.kind == EventKind.PERMISSION_DECIDED or about == HookKind.TOOL_USED
            if about == HookKind.SESSION_START:
                named = Path(str(detail.get("transcript_path") or ""))
                if detail.get("transcript_path") and named != cur.transcript and self._transcript_root(named):
                    cur.transcript, cur.transcript_at = named, 0
                if cur.first_paste is not None:
                    text, cur.first_paste = cur.first_paste, None
                    self._send(text, MessageKind.TASK)
            elif about == HookKind.PROMPT and cur.submit is not None:
                if detail.get("prompt_digest") == cur.submit.digest:
                    self._emit(cur, EventKind.AGENT_PROMPT_SUBMITTED, confirmed=True, tries=cur.submit.tries)
                    cur.submit = None
                else:
                    seen_other = True  # somebody else's prompt (a person typing): ours may follow
        if cur.submit is not None:
            self._check_submit(cur, screen, cur.submit, busy, seen_other)

    def _transcript_root(self, transcript: Path) -> Path | None:
        """Where the agent's own files are (its home, or its folder in yours) that ``transcript``
        lies in, by its name: czar reads it from there, outside the sandbox, one folder at a time
        and never through a link (``untrusted.read_beneath``). None if it lies elsewhere."""
        if not transcript.is_absolute() or ".." in transcript.parts:
            return None
        folders = [self.home, *(Path.home() / rel for rel in USER_STATE.get(self.agent_kind, ()))]
        for folder in folders:
            for root in dict.fromkeys((folder, folder.resolve())):  # named as it is, or where it is
                if transcript.is_relative_to(root) and transcript != root:
                    return root
        return None

    def _read_transcript(self, cur: Current, usage_only: bool = False) -> None:
        """The agent's new events from its transcript: usage, tools used, what it said.
        ``usage_only``: for an agent already let go (its other signals would go to the next task)."""
        if cur.transcript is None:
            return
        root = self._transcript_root(cur.transcript)
        data = untrusted.read_beneath(root, cur.transcript, offset=cur.transcript_at) if root else None
        if data is None:
            return  # not written yet (or not a file czar reads)
        complete = data.rfind(b"\n") + 1
        if not complete and len(data) >= untrusted.LIMIT:
            cur.transcript_at += len(data)  # a line too long to be one of the agent's events: skipped
            return
        cur.transcript_at += complete
        for raw in data[:complete].splitlines():
            for sig in cur.adapter.parse(raw.decode(errors="replace")):
                if sig.kind is SignalKind.USAGE:
                    self._count(cur, sig.data)
                elif not usage_only:
                    with contextlib.suppress(CallerError):
                        self.on_signal(cur, sig)

    def _check_submit(self, cur: Current, screen: Screen, pending: Submit, busy: bool, seen_other: bool) -> None:
        pending.other = pending.other or seen_other
        if busy:
            pending.deadline = time.monotonic() + SUBMIT_WAIT
        if time.monotonic() < pending.deadline:
            return
        if pending.tries < SUBMIT_TRIES:
            self.say("  the pasted message is not submitted yet: Enter again")
            screen.enter()
            pending.tries += 1
            pending.deadline = time.monotonic() + SUBMIT_WAIT
            return
        cur.submit = None
        if pending.other:  # a prompt was submitted, not with the text pasted: said, not confirmed
            self._emit(cur, EventKind.AGENT_PROMPT_SUBMITTED, confirmed=False, tries=pending.tries)
            return
        self.say("  the pasted message was not submitted")
        text = f"a message pasted into the agent's screen was not submitted after {SUBMIT_TRIES} Enters"
        self._emit(cur, EventKind.AGENT_ERROR, text=text)

    def _emit(self, cur: Current, kind: EventKind, **payload: Any) -> None:
        """An event about the agent of ``cur``, in a transaction of its own."""
        with self.store.write() as conn:
            self._event(conn, cur, kind, **payload)

    def _event(self, conn: Any, cur: Current | None, kind: EventKind, **payload: Any) -> None:
        """An event about this worker's agent (on ``cur``'s attempt), in the transaction ``conn``."""
        task, attempt = (cur.task, cur.attempt) if cur else (None, None)
        Store.emit(conn, kind, actor=self.worker, worker=self.worker, task=task, attempt=attempt, **payload)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True
        if self.listener is not None:
            self.listener.poke()

    # -- commands ----------------------------------------------------------------------------

    def handle(self, posted: Posted) -> None:
        cmd, cur = posted.command, self.current
        if isinstance(cmd, Unreadable):
            self._done(posted, EventKind.WORKER_UNKNOWN_COMMAND, unknown=cmd.kind, why=cmd.why)
            return
        if isinstance(cmd, StartTask):
            self._retire()
            self.current = Current(
                attempt=cmd.attempt,
                task=cmd.task,
                worktree=Path(cmd.worktree),
                prompt=cmd.prompt,
                adapter=adapter_for(self.agent_kind),
                launches=cmd.earlier_launches,
            )
            self.say(f"== task {cmd.task} (attempt {cmd.attempt}): prompt of {len(cmd.prompt)} characters")
            self._launch([(self.current.prompt, MessageKind.TASK)])
            self._done(posted, EventKind.AGENT_STARTED, launch=self.current.launches)
            return
        if cur is None or cur.attempt != cmd.attempt:
            reason = "no such attempt on this worker"
            self._done(posted, EventKind.AGENT_COMMAND_DROPPED, dropped=cmd.KIND, reason=reason)
            return
        match cmd:
            case Tell(kind=kind, text=text):
                self.say(f">> {kind} for {cur.task}: {text.splitlines()[0] if text else ''}")
                self._show_integration(cur)  # a message may tell it to bring the integration branch in
                if kind is MessageKind.FEEDBACK:
                    cur.finished = False
                if cur.proc is not None and cur.proc.running() and cur.adapter.capabilities.long_lived:
                    self._send(text, kind)
                else:
                    # The agent is not running (it answers one message per process, or it exited):
                    # start it again, its session resumed, or else with the task's text first.
                    self._relaunch([(text, kind)])
                self._done(posted, EventKind.AGENT_MESSAGE_DELIVERED, about=kind, chars=len(text))
            case Answer(allow=allow, reason=reason):
                self.say(f">> permission {'allowed' if allow else 'denied'}: {reason}")
                if not cur.adapter.capabilities.permission_tool:  # else its permission tool call gets it
                    self._send(f"{'allow' if allow else 'deny'}: {reason}", MessageKind.ANSWER)
                with self.store.write() as conn:
                    Store.set_worker(conn, self.worker, state=WorkerState.WORKING, detail=None)
                self._done(posted, EventKind.AGENT_ANSWER_DELIVERED, allow=allow)
            case Restart(reason=reason, reset_to=reset_to, prompt=prompt):
                self._stop_agent(patience=0.0)  # it is being replaced because it misbehaves: no waiting
                if reset_to:
                    self._reset(cur.worktree, reset_to)
                cur.finished = False
                self.say(f"== restarting the agent of {cur.task}: {reason}")
                if prompt:  # a correction: the full, right text again
                    self._relaunch([(prompt, MessageKind.CORRECTION)], whole=True)
                else:
                    self._relaunch(
                        [("czar restarted you. Continue your task where you left off.", MessageKind.CONTINUE)]
                    )
                self._done(posted, EventKind.AGENT_RESTARTED, launch=cur.launches, reason=reason)
            case StopAgent():
                self._retire()
                self.current = None
                self.say("== task ended; waiting for the next one")
                self._done(posted, EventKind.AGENT_STOPPED)
            case _:
                assert_never(cmd)

    def _done(self, posted: Posted, kind: EventKind, **payload: Any) -> None:
        with self.store.write() as conn:
            if Store.mark_done(conn, posted.id):
                self._event(conn, self.current, kind, command=posted.id, **payload)

    def _reset(self, worktree: Path, commit: str) -> None:
        """Drop what the agent changed since ``commit`` (work on the wrong task, say)."""
        if not checkout.is_commit_id(commit):
            self.say(f"== cannot reset the checkout to {commit[:40]!r}: not a commit id")
            return
        git = self._git_in_checkout(self.current) if self.current else None
        if git is None:
            return
        self._unlock(worktree)
        # A commit id, never an option (git 2.39's reset does not take --end-of-options).
        for argv in (["reset", "--hard", "-q", commit], ["clean", "-fdq"]):
            git.run(*argv, check=False)
        self.say(f"== worktree reset to {commit[:10]}")

    # -- the agent process -------------------------------------------------------------------

    def _end_retiring(self) -> None:
        """Agents of earlier tasks still ending end now, before the next one starts: they share its
        home (czar is about to write its settings there, which a link they planted would turn
        elsewhere) and maybe its checkout (a git command of theirs would hold it locked)."""
        for reaper, proc in self.reapers:
            if reaper.is_alive():
                proc.end_all()  # its reaper then counts its last usage and says what is left
                reaper.join()
        self.reapers = []

    def _unlock(self, worktree: Path) -> None:
        """The checkout freed of what an agent killed in the middle of a git command left locked,
        before the next one starts there."""
        if removed := checkout.unlock(worktree):
            self.say(f"== removed what a stopped agent left locked: {', '.join(removed)}")

    def _relaunch(self, messages: list[tuple[str, MessageKind]], *, whole: bool = False) -> None:
        """Start the agent again: its own session resumed if it has one (the messages are then all it
        needs), else with the task's text first. ``whole``: the first message is a whole task text."""
        cur = self.current
        assert cur is not None
        # On its own screen, a session it never wrote down (killed at once) cannot be resumed.
        lost = cur.transcript is not None and not cur.transcript.exists()
        if cur.adapter.capabilities.resumes and cur.session and not lost:
            self._launch(messages, resume=True)
        elif whole:
            self._launch(messages)
        else:
            self._launch([(cur.prompt, MessageKind.TASK), *messages])

    def _launch(self, messages: list[tuple[str, MessageKind]], *, resume: bool = False) -> None:
        cur = self.current
        assert cur is not None
        cur.launches += 1
        self.tools.launch = cur.launches
        self._close_endpoint(cur)
        self._end_retiring()
        self._undo_config(cur)  # of its last start, if it ended without czar seeing it end
        self._unlock(cur.worktree)
        try:
            confine = self._confinement(cur, new_session=True)
        except CzarError as exc:
            self._cannot_start(cur, self.agent_kind, exc)
            return
        self.tools.wrap = functools.partial(_confined, confine) if confine is not None else None
        if cur.adapter.capabilities.mcp_http:
            cur.endpoint = self._open_endpoint(cur.launches)
        if confine is not None:
            # In its sandbox the agent cannot open the store: its `czar` commands come here.
            tools = AgentTools(self.store, self.worker, cur.launches)
            tools.wrap = self.tools.wrap
            cur.relay = RelayServer(tools, self.token)
        self._show_integration(cur)
        ctx = LaunchContext(
            worktree=cur.worktree,
            worker=self.worker,
            task=cur.task,
            env=self._agent_env(cur),
            messages=messages,
            session=cur.session if resume else None,
            home=self.home,
            czar=(sys.executable, "-m", "czar"),
            git_dir=_git_dir(cur.worktree),
            settings=self.settings,
            mcp_url=cur.endpoint.url if cur.endpoint else None,
            confined=confine is not None,
        )
        self.home.mkdir(parents=True, exist_ok=True)
        launch = cur.adapter.launch(ctx)
        argv = launch.argv
        try:
            if confine is not None:
                # Czar's own git in the checkout runs with no network and no program of the agent's.
                confine = dataclasses.replace(
                    confine,
                    new_session=not launch.terminal,
                    programs=sandbox.program_folders(launch.argv[0]),
                    network=self._network(cur),
                )
                argv = sandbox.wrap(argv, confine)
                if self.settings.home == "user":
                    cur.config_before = user_config.snapshot(self.agent_kind, Path.home())
                    user_config.save(cur.config_before, self._config_file)
            # Agents yield the CPU to czar's own processes: supervision must stay responsive when
            # a hundred agents (and the tests they run) compete for two cores.
            if launch.terminal:
                cur.hooks_since = self.store.last_event_id()
                cur.screen = Screen(argv, launch.env, cur.worktree, self.out, niceness=AGENT_NICENESS)
                cur.proc = cur.screen.proc
                self.keyboard = self.pane.lend()
            else:
                cur.proc = spawn(argv, cwd=cur.worktree, env=launch.env, niceness=AGENT_NICENESS)
        except (OSError, ValueError, CzarError) as exc:
            self._cannot_start(cur, launch.argv[0], exc)
            return
        cur.buffer = b""
        cur.repeats = 0
        cur.meter.new_process()
        cur.digest = hashlib.sha256(messages[0][0].encode()).hexdigest()
        if launch.session:
            cur.session = launch.session
        cur.submit = None
        cur.first_paste = "\n\n".join(launch.stdin) if launch.terminal and launch.stdin else None
        if launch.transcript is not None and launch.transcript != cur.transcript:
            cur.transcript = launch.transcript
            cur.transcript_at = launch.transcript.stat().st_size if launch.transcript.exists() else 0
        with self.store.write() as conn:
            now = time.time()
            Store.set_worker(conn, self.worker, agent_pid=cur.proc.pid, last_seen=now, last_output=now, repeats=0)
            Store.set_attempt(conn, cur.attempt, launches=cur.launches, agent_exited_at=None, session_id=cur.session)
        for line in [] if launch.terminal else launch.stdin:
            self._write(line)
        if not launch.keep_stdin and not launch.terminal:
            cur.proc.close_input()

    def _open_endpoint(self, launch: int) -> Any:
        """czar's MCP server for this start of the agent, over HTTP; None (the agent then starts
        one over stdio) if it cannot be served here."""
        try:
            from czar.agent_tools.mcp_tools import Endpoint

            return Endpoint(Caller(self.store.paths, self.worker, self.token, launch), self.tools.wrap)
        except Exception as exc:  # any failure here only costs the agent a slower start
            self.say(f"  czar's MCP server over HTTP is not available ({exc}); the agent starts its own")
            return None

    @staticmethod
    def _close_endpoint(cur: Current) -> None:
        """The agent's servers (czar's MCP server, its relay) closed, in the background: each takes
        up to half a second to see it must stop, which the next agent's start must not wait for."""
        servers = [s for s in (cur.endpoint, cur.relay, cur.gateway) if s is not None]
        cur.endpoint = cur.relay = cur.gateway = None
        if servers:
            threading.Thread(target=_stop_all, args=(servers,), name="czar-endpoint-stop", daemon=True).start()

    def _show_integration(self, cur: Current) -> None:
        """Point the checkout's copy of the integration branch at the repository's: a task's clone
        holds only its own branch, and agents are told to `git merge` the integration branch.
        Its ref file written by czar (``checkout.show_ref``), else ``update-ref`` in the agent's
        sandbox (it runs the clone's hooks, which are the agent's)."""
        if self.repo is None or not (cur.worktree / ".git").is_dir():
            return
        with self.store.read() as conn:
            name = str(Store.get_meta(conn, "integration_branch", "czar/integration"))
        try:
            tip = Git(self.repo).tip(name)
        except CzarError:
            return  # not made yet
        if checkout.show_ref(cur.worktree, name, tip):
            return
        git = self._git_in_checkout(cur)
        if git is not None:
            git.run("update-ref", f"refs/heads/{name}", tip, check=False)

    def _cannot_start(self, cur: Current, program: str, exc: Exception) -> None:
        """The agent's program is missing or cannot run, or no sandbox can hold it: the attempt's
        agent "exited" at once."""
        self.say(f"cannot start {program}: {getattr(exc, 'strerror', None) or exc}")
        with self.store.write() as conn:
            Store.set_attempt(conn, cur.attempt, agent_exited_at=time.time(), launches=cur.launches)
            self._event(conn, cur, EventKind.AGENT_ERROR, text=f"cannot start {program}: {exc}")

    def _git_in_checkout(self, cur: Current) -> Git | None:
        """git in the task's checkout, in the agent's sandbox (the checkout's configuration and
        hooks are the agent's to write): made here if no start of the agent made it yet (a host
        that carried on an attempt of its previous one). None if the sandbox cannot be had."""
        if self.tools.wrap is None and self.sandbox.enabled:
            try:
                confine = self._confinement(cur, new_session=True)
            except CzarError as exc:
                self.say(f"  no git in the checkout: {exc}")
                return None
            if confine is not None:
                self.tools.wrap = functools.partial(_confined, confine)
        return Git(cur.worktree, self.tools.wrap)

    def _network(self, cur: Current) -> sandbox.Network:
        """The network of the agent's sandbox for this start: its own, where a gateway opens the
        doors to czar's tools and its model (see ``czar.core.egress``), unless the plan shares
        the machine's. Called once the agent's servers are open: their ports are forwarded."""
        if self.sandbox.network == "host":
            return sandbox.HOST_NETWORK
        named = [cur.relay.base if cur.relay else "", cur.endpoint.url if cur.endpoint else ""]
        named += [self.settings.base_url or "", *self.settings.env.values()]
        hosts = [*cur.adapter.capabilities.hosts, *self.sandbox.allow_hosts]
        if self.settings.base_url and (elsewhere := egress.url_host(self.settings.base_url)):
            hosts.append(elsewhere)
        ports = egress.forwarded_ports([*named, *(f"http://127.0.0.1:{p}" for p in self.sandbox.ports)])
        network = sandbox.Network(
            # A folder of this start's own: the last start's gateway, stopped in the background,
            # removes its folder when it is done, which must not be this one.
            gate=self._gates / f"{cur.attempt}-{cur.launches}",
            ports=ports,
            hosts=tuple(hosts),
        )
        cur.gateway = Gateway(network, on_denied=self._denied)
        return network

    def _denied(self, host: str, why: str) -> None:
        """The agent's sandbox refused it a host: said once per host, as a warning (an agent that
        needs a package index, say, waits for a person to add it to ``allow_hosts``)."""
        if host in self._denied_hosts:
            return
        self._denied_hosts.add(host)
        cur = self.current
        text = f"the agent of {self.worker} could not reach {host}: {why}"
        self.say(f"  {text}")
        with self.store.write() as conn:
            Store.alert(
                conn, "warning", text, task=cur.task if cur else None, worker=self.worker, actor=self.worker, host=host
            )

    def _confinement(self, cur: Current, *, new_session: bool) -> sandbox.Confinement | None:
        """The agent's sandbox (see ``czar.runtime.sandbox``), or None when the plan opts out.
        Only the simulated agent, czar's own, runs unconfined on a machine that cannot confine."""
        if not self.sandbox.enabled or self.repo is None:
            return None
        why = sandbox.available()
        if why is not None:
            if self.agent_kind == "sim":
                return None
            raise CzarError(f"no sandbox for the agent: {why}")
        if self.objects is None:
            self.objects = Git(self.repo).common_dir() / "objects"
        extra = [Path(p) for p in self.sandbox.writable]
        locked: tuple[Path, ...] = ()
        private: tuple[tuple[Path, Path], ...] = ()
        if self.settings.home == "user":  # the agent's own state in your home stays its to write
            state = [Path.home() / rel for rel in USER_STATE.get(self.agent_kind, ())]
            for folder in state:  # made as the agent would make it: else its sessions live in a tmpfs
                if folder.suffix != ".json":
                    folder.mkdir(parents=True, exist_ok=True)
            extra += state
            user_config.prepare(self.agent_kind, Path.home())  # but not its configuration
            locked = user_config.locked(self.agent_kind, Path.home())
            # Beside the agent's home, not in it: a folder bound read-write must not be the
            # agent's to swap for a link.
            private = user_config.private(self.agent_kind, Path.home(), self.home.with_name(f"{self.worker}.user"))
        return sandbox.for_task(
            cur.worktree,
            home=self.home,
            data=czar_home(),
            repo=self.repo,
            objects=self.objects,
            extra=tuple(extra),
            new_session=new_session,
            locked=locked,
            network=sandbox.HOST_NETWORK if self.sandbox.network == "host" else sandbox.NO_NETWORK,
            private=private,
        )

    def _agent_env(self, cur: Current) -> dict[str, str]:
        return {
            "CZAR_HOME": str(self.store.paths.root.parent.parent),
            ENV_PROJECT: self.store.paths.name,
            ENV_WORKER: self.worker,
            ENV_TOKEN: self.token,
            "CZAR_TASK": cur.task,
            "CZAR_ATTEMPT": str(cur.attempt),
            "CZAR_AGENT_LAUNCH": str(cur.launches),
            # czar's tools through this host: inside its sandbox the agent cannot reach the store.
            **({ENV_ENDPOINT: cur.relay.base} if cur.relay is not None else {}),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "GIT_AUTHOR_NAME": f"czar {self.worker}",
            "GIT_AUTHOR_EMAIL": f"{self.worker}@czar.localhost",
            "GIT_COMMITTER_NAME": f"czar {self.worker}",
            "GIT_COMMITTER_EMAIL": f"{self.worker}@czar.localhost",
        }

    def _write(self, data: str) -> None:
        cur = self.current
        if cur is not None and cur.proc is not None and cur.screen is None:
            cur.proc.send(data.encode())  # if it died, its exit is noticed when its output closes

    def _send(self, text: str, kind: MessageKind) -> None:
        cur = self.current
        if cur is None:
            return
        if cur.screen is None:
            self._write(cur.adapter.encode(text, kind))
            return
        cur.screen.paste(text)
        cur.submit = Submit(digest(text), time.monotonic() + SUBMIT_WAIT)

    def _stop_agent(self, patience: float = 2.0) -> None:
        """End the agent: close its input and give it ``patience`` seconds, then kill its group."""
        cur = self.current
        if cur is None or cur.proc is None:
            return
        if cur.screen is not None:
            self._take_pane_back()
        self._end(cur, cur.proc, patience)
        cur.proc = None
        with self.store.write() as conn:
            Store.set_worker(conn, self.worker, agent_pid=None)

    def _retire(self) -> None:
        """Let the agent of the task that ended go, without waiting for it: the next task starts
        at once while a thread gives the old agent its time to exit and counts its last usage."""
        cur = self.current
        if cur is None or cur.proc is None:
            if cur is not None:
                self._close_endpoint(cur)
            return
        proc, cur.proc = cur.proc, None
        if cur.screen is not None:
            self._take_pane_back()
        with contextlib.suppress(OSError):
            # Its last breath (hooks, saving its session) must not slow the next agent's start.
            os.setpriority(os.PRIO_PGRP, proc.pid, 19)
        with self.store.write() as conn:
            Store.set_worker(conn, self.worker, agent_pid=None)
        reaper = threading.Thread(target=self._end, args=(cur, proc, 2.0), name="czar-reaper", daemon=True)
        reaper.start()
        self.reapers = [(r, p) for r, p in self.reapers if r.is_alive()] + [(reaper, proc)]

    def _take_pane_back(self) -> None:
        """The pane is the host's again (in the main thread: one saved mode for every agent)."""
        self.pane.take_back()
        self.keyboard = None

    def _end(self, cur: Current, proc: Child, patience: float) -> None:
        """Close its input (or, on a screen, ask it to end), give it ``patience`` seconds while
        reading what it still prints, kill its group, and count its last usage."""
        screen, cur.screen = cur.screen, None
        proc.close_input()
        if screen is not None:  # on its own screen it waits for more: ask it to end
            proc.signal_group(signal.SIGTERM)
        # Read while it ends: an agent whose output nobody reads blocks on a full pipe.
        source = proc.output_fd if proc.output_fd is not None else screen.fd if screen else None
        deadline = time.monotonic() + patience
        while proc.running() and time.monotonic() < deadline and source is not None:
            with contextlib.suppress(OSError, ValueError):
                if select.select([source], [], [], 0.1)[0]:
                    chunk = os.read(source, 65536)
                    if not chunk:
                        break
                    if proc.output_fd is not None:  # only its last lines matter (its usage): a bounded tail
                        cur.buffer = (cur.buffer + chunk)[-output.MAX_LINE :]
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        if left := proc.end_all():
            self.say(f"  processes of the stopped agent still run: {left}")
        self._undo_config(cur)
        self._drain(cur, proc)
        proc.close()
        self._read_transcript(cur, usage_only=True)
        self._close_endpoint(cur)
        if screen is not None:
            screen.close()

    @property
    def _gates(self) -> Path:
        """Where the gateways of the agent's starts keep their sockets (beside its home)."""
        return self.home.with_name(f"{self.worker}.net")

    @property
    def _config_file(self) -> Path:
        return self.home.with_name(f"{self.worker}.config-before.json")

    def _undo_config(self, cur: Current | None) -> None:
        """What the agent added to its configuration in your home, undone (``host.user_config``):
        of its last start, or of a start by a worker host killed while its agent ran."""
        before = cur.config_before if cur is not None else None
        if cur is not None:
            cur.config_before = None
        if before is None:
            before = user_config.load(self._config_file)
        if before is None:
            return
        keep = self.store.paths.logs / "undone" / f"{self.worker}-{time.strftime('%Y%m%d-%H%M%S')}"
        try:
            undone = user_config.undo(self.agent_kind, before, keep)
        except OSError as exc:
            undone = [f"(could not undo all: {exc})"]
        self._config_file.unlink(missing_ok=True)
        if undone:
            text = (
                f"the agent of {self.worker} changed its configuration in your home: {'; '.join(undone)}. "
                f"Undone; what it wrote is kept in {keep}"
            )
            self.say(f"  {text}")
            with self.store.write() as conn:
                Store.alert(
                    conn, "critical", text, task=cur.task if cur else None, worker=self.worker, actor=self.worker
                )

    def _drain(self, cur: Current, proc: Child) -> None:
        """What a stopped agent printed last and was not read yet: its usage still counts (a
        final report of cost often comes just as the task is taken from it)."""
        if proc.output_fd is None:
            return
        while True:
            chunk, ended = proc.read(65536)
            cur.buffer = (cur.buffer + chunk)[-output.MAX_LINE :]
            if ended or not chunk:
                break
        for raw in cur.buffer.split(b"\n"):
            for sig in cur.adapter.parse(raw.decode(errors="replace")):
                if sig.kind is SignalKind.USAGE:
                    self._count(cur, sig.data)
        cur.buffer = b""
        self._settle(cur)

    def _read_agent(self) -> None:
        cur = self.current
        if cur is None:
            return
        self._notes(cur.flow.due(time.monotonic()))  # activity held back in a flood, once its second is over
        if cur.proc is None or cur.proc.output_fd is None:
            return
        # A bounded amount per turn of the loop: an agent that floods its output must not keep the
        # host from its inbox (a stop, a restart).
        data, eof = cur.proc.read(output.READ_BYTES)
        lines, cur.buffer = output.split_lines(cur.buffer + data)
        for raw in lines:
            for signal_ in cur.adapter.parse(raw.decode(errors="replace")):
                try:
                    self.on_signal(cur, signal_)
                except CallerError as exc:
                    # The task left this worker meanwhile (requeued, cancelled): its output no longer counts.
                    self.say(f"  (ignored: {exc})")
        if eof:
            self._notes(cur.flow.flush())
            self._on_exit(cur)

    def _notes(self, notes: list[Note]) -> None:
        """Activity events, as the flow lets them through (one for many lines in a flood)."""
        for note in notes:
            times = f" (x{note.lines})" if note.lines > 1 and not note.mixed else ""
            self.say(f"  {output.shown(note.text)}{times}")
            extra = {"lines": note.lines} if note.lines > 1 else {}
            with contextlib.suppress(CallerError):  # the task left this worker meanwhile
                self.tools.activity(note.text, note.repeats, **extra)

    def _count(self, cur: Current, data: dict[str, Any]) -> None:
        """Add what an API exchange cost to the attempt, each message once (``czar.core.usage``).

        Usage per message (``provisional``) counts at once, so that budgets are watched as the
        agent works; the agent's running total (``cumulative``), or its turn's total (``turn``),
        then settles the account.
        """
        model = self.settings.model or pricing.DEFAULT_MODELS.get(self.agent_kind)
        now = usage.reported(data, model, self.settings.prices)
        self._record_usage(cur, cur.meter.add(data, now))

    def _settle(self, cur: Current) -> None:
        """The process ended: what its messages counted stands."""
        cur.meter.settle()

    def _unreachable(self, cur: Current) -> str:
        """The evidence that the agent cannot reach its model, for people."""
        where = f" at {self.settings.base_url}" if self.settings.base_url else ""
        return f"{self.agent_kind}'s model API{where}: {cur.watch.summary()}"

    def _record_usage(self, cur: Current, delta: dict[str, float]) -> None:
        if not any(delta.values()):
            return
        with self.store.write() as conn:
            Store.add_usage(
                conn,
                cur.attempt,
                input_tokens=int(delta["input_tokens"]),
                output_tokens=int(delta["output_tokens"]),
                cache_read_tokens=int(delta["cache_read_tokens"]),
                cache_write_tokens=int(delta["cache_write_tokens"]),
                cost_usd=delta["cost_usd"],
            )
            self._event(conn, cur, EventKind.AGENT_USAGE, **{k: round(v, 6) for k, v in delta.items()})

    def _on_exit(self, cur: Current) -> None:
        assert cur.proc is not None
        code = cur.proc.exit_code()
        cur.proc.close()
        self._settle(cur)
        self._close_endpoint(cur)
        self._undo_config(cur)
        if cur.screen is not None:
            cur.screen.close()
            cur.screen = None
            self._read_transcript(cur)
            self._take_pane_back()
        if cur.session_lost:
            # Its session died with it before it was written down: not a crash of this start;
            # start it afresh (its branch keeps what it committed).
            cur.session_lost, cur.proc = False, None
            self._launch([(cur.prompt, MessageKind.TASK)])
            return
        cur.proc = None
        self.say(f"agent exited with code {code}" + ("" if cur.finished else " before finishing"))
        # An agent that ends on failed requests to its model did not crash: it waits for its model
        # (the health round has it try again later), its restarts and attempts untouched.
        unreachable = not cur.finished and cur.watch.exited(code)
        if unreachable:
            with contextlib.suppress(CallerError):
                self.tools.model_unreachable(self._unreachable(cur))
        with self.store.write() as conn:
            Store.set_worker(conn, self.worker, agent_pid=None, last_seen=time.time())
            state = TaskState(Store.task(conn, cur.task).state)
            unfinished = not cur.finished and state in (TaskState.ASSIGNED, TaskState.RUNNING)
            # An agent that answers one message per process ends its turn by exiting: that is
            # waiting for the next message, not a crash.
            answered = not cur.adapter.capabilities.long_lived and code == 0
            if unfinished and answered and not unreachable:
                unfinished = False
                if Store.worker(conn, self.worker).state == WorkerState.WORKING.value:
                    Store.set_worker(conn, self.worker, state=WorkerState.WAITING_INPUT, detail="waiting for input")
            elif unfinished and not unreachable:
                Store.set_attempt(conn, cur.attempt, agent_exited_at=time.time())
            why = {"model_unreachable": True} if unreachable else {}
            self._event(conn, cur, EventKind.AGENT_EXITED, code=code, finished=not unfinished, **why)

    # -- signals from the agent --------------------------------------------------------------

    def on_signal(self, cur: Current, sig: Signal) -> None:
        tools = self.tools
        if sig.kind not in (SignalKind.ACTIVITY, SignalKind.ERROR, SignalKind.USAGE, SignalKind.MODEL_ERROR):
            self._notes(cur.flow.flush())  # activity held back comes first: events keep the agent's order
        match sig.kind:
            case SignalKind.ACK:
                confirmed = sig.digest == cur.digest
                self.say(
                    f"agent acknowledged task {sig.task}: {sig.text}"
                    + ("" if confirmed else " (text differs from what was sent!)")
                )
                self.say("  " + tools.acknowledge(sig.task, sig.text or None, confirmed))
            case SignalKind.FINISHED:
                cur.finished = True
                self.say(f"agent finished: {sig.text}")
                head = sig.data.get("head")
                self.say("  " + tools.done(sig.text, head=str(head) if head else None))
            case SignalKind.PROGRESS:
                checkpoint = sig.data.get("checkpoint")
                self.say(f"checkpoint {checkpoint}: {sig.text}")
                tools.report(sig.text, checkpoint=checkpoint if isinstance(checkpoint, int) else None, task=sig.task)
            case SignalKind.COMMIT:
                self.say(f"commit {str(sig.data.get('sha', ''))[:10]}: {sig.text}")
                tools.commit(str(sig.data.get("sha", "")), sig.text)
            case SignalKind.IDLE:
                if not cur.finished:
                    self.say("agent waits for input without having finished")
                    tools.idle()
            case SignalKind.PERMISSION:
                tool = str(sig.data.get("tool", ""))
                verdict = tools.permission(tool, sig.text)
                self.say(f"permission {tool} {sig.text}: {verdict.decision} ({verdict.reason})")
                if verdict.decision is not Decision.ASK:
                    self._send(f"{verdict.decision}: {verdict.reason}", MessageKind.ANSWER)
            case SignalKind.CLAIM | SignalKind.RELEASE:  # proposed by an agent that runs no command (Aider)
                paths = [str(p) for p in sig.data.get("paths") or []]
                results = tools.claim(paths) if sig.kind is SignalKind.CLAIM else tools.release(paths)
                self.say("  " + "; ".join(r.line() for r in results))
            case SignalKind.BLOCKED:
                self.say("  " + tools.blocked(sig.task, sig.text))
            case SignalKind.ASK:
                self.say("  " + tools.ask(sig.text))
            case SignalKind.RATE_LIMITED:
                reset_in = float(sig.data.get("reset_in") or 60)
                self.say(f"rate limited for {reset_in:g} s: {sig.text}")
                tools.rate_limited(reset_in, sig.text)
            case SignalKind.SESSION:
                cur.session = sig.text or cur.session
                with self.store.write() as conn:
                    Store.set_attempt(conn, cur.attempt, session_id=cur.session)
            case SignalKind.USAGE:
                self._count(cur, sig.data)
                # Tokens of a message or a turn: the model answered (a running total proves nothing).
                tokens = sig.data.get("input_tokens") or sig.data.get("output_tokens")
                answered = tokens and not sig.data.get("cumulative")
                if answered and cur.watch.answered():
                    self.say("  the model answers again")
                    tools.model_reachable()
            case SignalKind.MODEL_ERROR:
                self.say(f"  model error: {output.shown(sig.text)}")
                kind, retry = str(sig.data.get("kind") or "other"), bool(sig.data.get("retry", True))
                if cur.watch.failed(sig.text, kind, retry=retry):
                    tools.model_unreachable(self._unreachable(cur))
            case SignalKind.SESSION_LOST:
                self.say(f"  {sig.text}: starting it afresh with the task's text")
                cur.session, cur.session_lost = None, True
            case SignalKind.TURN_DONE:
                self.say(f"the agent's turn ended ({sig.text})")
                # It stopped before handing its task in: back to work, once; unless it answers one
                # message per process (the next message starts it), or its model cannot be reached
                # (the health round has it try again later).
                waits = cur.finished or cur.watch.down or not cur.adapter.capabilities.long_lived
                reason = None if waits else tools.turn_ended(again=cur.sent_back)
                if reason:
                    cur.sent_back = True
                    self.say(f">> back to work: {reason}")
                    self._send(reason, MessageKind.CONTINUE)
                elif waits:
                    tools.idle()
            case SignalKind.ACTIVITY | SignalKind.ERROR:
                if sig.data.get("tool"):
                    cur.sent_back = False  # it works again
                text = (sig.text if sig.kind is SignalKind.ACTIVITY else f"error: {sig.text}")[: output.KEPT]
                cur.repeats = cur.repeats + 1 if text == cur.last_text else 0
                cur.last_text = text
                # Written at once, or coalesced with the lines around it when the agent floods.
                self._notes(cur.flow.offer(text, cur.repeats, time.monotonic()))

            case _:
                assert_never(sig.kind)


def _stop_all(servers: list[Any]) -> None:
    for server in servers:
        server.stop()


def _confined(confine: sandbox.Confinement, argv: list[str]) -> list[str]:
    return sandbox.wrap(argv, confine)


def _load_mcp() -> None:
    with contextlib.suppress(Exception):
        from czar.agent_tools.mcp_tools import warm_up

        warm_up()


def settings_of(config: AgentConfig | None) -> AgentSettings:
    """The plan's ``[agents.<kind>]`` table, as the adapters take it."""
    if config is None:
        return AgentSettings()
    return AgentSettings(
        command=config.command,
        base_url=config.base_url,
        model=config.model,
        home=config.home,
        args=tuple(config.args),
        env=dict(config.env),
        prices={str(k): v for k, v in config.prices.items()},
        interactive=config.interactive,
    )


def _git_dir(worktree: Path) -> Path | None:
    """The checkout's git folder: its own ``.git`` (a task's clone), without running git there
    (its configuration is the agent's); for a worktree, the folder its ``.git`` file points to."""
    if (worktree / ".git").is_dir():
        return worktree / ".git"
    result = run(
        ["git", "-C", str(worktree), "rev-parse", "--path-format=absolute", "--git-common-dir"], errors_too=False
    )
    return Path(result.output.strip()) if result.ok and result.output.strip() else None
