"""The worker host: one per worker, in its tmux window. It owns the agent process of the current
task, carries out the worker's inbox commands once each, turns the agent's output into events
(through the same agent tools the ``czar report/done/...`` commands use), and shows a readable
transcript in the pane.

One loop waits on its doorbell and the agent's output at once with ``select``; threads only
serve the agent's relay and its sandbox's gateway, and let the agent of an ended task go. czar's
MCP server is the project's tools server, not the host's: a host never loads the MCP SDK. Nor the
store's: it reads and writes through the tools server too (``czar.agent_tools.host_link``), and on
the store itself only if that server cannot be reached.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, assert_never

from czar.agent_tools.host_link import (
    Adopted,
    Carrier,
    Fallback,
    HostLink,
    HostTools,
    HttpCarrier,
    host_key,
    published_url,
)
from czar.agent_tools.identity import (
    CallerError,
    new_token,
    token_digest,
)
from czar.agents.adapters import adapter_for
from czar.agents.base import HookKind, Signal, SignalKind
from czar.agents.host_settings import HostSettings
from czar.core import egress, pricing, usage
from czar.core.events import EventKind
from czar.core.host_commands import (
    RESUMED,
    Answer,
    MessageKind,
    Posted,
    Restart,
    StartTask,
    StopAgent,
    Tell,
    Unreadable,
)
from czar.core.shown import on_one_line, visible
from czar.core.states import HANDED_IN, TaskState
from czar.host import delivery, output, signals
from czar.host.agent_process import AgentProcess
from czar.host.agent_run import AgentRun, Submit
from czar.host.delivery import Pasted
from czar.host.output import Note
from czar.host.sandboxing import AgentSandbox
from czar.host.screen import Pane, Screen
from czar.paths import ProjectPaths
from czar.runtime import logs, proc, sandbox, untrusted
from czar.store.doorbell import Listener, worker_bell

if TYPE_CHECKING:
    from czar.store.store import Store

POLL_SECONDS = 5.0  # safety net only: the doorbell and the agent's output wake the loop
HOST_RESTARTS = 3  # starts again of an agent by its own host (not crashes), per attempt
PERSONS_KEPT = 10  # a person's messages given again to each new start of an agent that cannot resume


class WorkerHost:
    """``store``: the store in this process (tests, `czar worker-host`); else the host speaks through
    the project's tools server."""

    def __init__(
        self, settings: HostSettings, paths: ProjectPaths, out: IO[str] = sys.stdout, store: Store | None = None
    ) -> None:
        self.paths = paths
        self.worker = worker_id = settings.worker
        self.agent_kind = agent_kind = settings.kind
        self.settings = settings.agent
        self.reviewer = settings.reviewer  # it reads other agents' work (``czar.supervisor.reviews``)
        self.home = paths.root / "agents" / worker_id  # the agent's own files (configs, a home)
        self.repo = repo = settings.repo
        self.out = out
        carry = self._carrier(store)
        self.link = HostLink(carry)
        self.tools = HostTools(carry)
        self._denied_hosts: set[str] = set()
        self.token = new_token()
        self.current: AgentRun | None = None
        self.last_launch = 0  # its agent's last start, whatever the task: the next is numbered on
        self.stopping = False
        self.listener: Listener | None = None
        self.log = logs.to_file(paths.logs / f"{worker_id}.log")
        self.resized = False
        self.pane = Pane(out)
        self.keyboard: int | None = None  # the pane's keys, while an agent's screen has them
        self.box = AgentSandbox(
            worker=worker_id,
            agent_kind=agent_kind,
            settings=self.settings,
            home=self.home,
            repo=repo,
            config=settings.sandbox,
            on_denied=self._denied,
            read_only=settings.reviewer,
        )
        self.agent = AgentProcess(self)  # the agent's process: started, fed, read, ended

    @classmethod
    def on_store(cls, store: Store, settings: HostSettings, out: IO[str] = sys.stdout) -> WorkerHost:
        return cls(settings, store.paths, out, store)

    def _carrier(self, store: Store | None) -> Carrier:
        def local() -> Carrier:
            from czar.agent_tools.host_service import LocalCarrier
            from czar.store.store import Store

            return LocalCarrier(store or Store(self.paths), self.worker, lambda: self.tools.wrap)

        url = None if store is not None else published_url(self.paths.root)
        if url is None:
            return local()
        return Fallback(HttpCarrier(url, host_key(self.paths.root), self.worker), local, self.say)

    # -- transcript --------------------------------------------------------------------------

    def say(self, text: str) -> None:
        # What agents say, in its log (`czar logs`) and on its window: no escape sequence acts,
        # and no line of theirs passes for one of czar's.
        text = on_one_line(visible(text))
        self.log.info(text)
        if self.current is None or self.current.screen is None:  # else the pane is the agent's screen
            print(f"{time.strftime('%H:%M:%S')} {text}", file=self.out, flush=True)

    # -- main loop ---------------------------------------------------------------------------

    def run(self) -> int:
        for sig in proc.STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGWINCH, self._on_resize)
        # Rung only by commands posted to this worker.
        listener = self.listener = Listener(self.paths.bells, worker_bell(self.worker))
        self.current = self._adopt(self.link.started(os.getpid(), token_digest(self.token)))  # the store keeps a digest
        self.agent.undo_config(None)  # what an agent did in your home while a killed host ran it
        # Gateway folders a killed host left (no gateway of this worker's runs yet).
        shutil.rmtree(self.box.gates, ignore_errors=True)
        self.say(f"worker {self.worker} ready ({self.agent_kind}); waiting for a task")
        try:
            while not self.stopping:
                for cmd in self.link.commands():
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
                self.agent.read_agent()
        finally:
            self.agent.stop_agent()
            for reaper, _ in self.agent.reapers:
                reaper.join(timeout=5)
            listener.close()
            self.link.stopped()
            self.link.close()
        return 0

    def _adopt(self, adopted: Adopted | None) -> AgentRun | None:
        """The attempt this worker still holds from its previous host (one that died, or was
        stopped by `czar down`): carried on, so that a restart loses neither the worker nor the
        task. Its agent starts again when a command says so (the supervisor posts a restart, or
        a message comes); until then nothing runs."""
        if adopted is None:
            return None
        state = TaskState(adopted.state)
        self.say(f"== carrying on task {adopted.task} (attempt {adopted.attempt}, {state})")
        return AgentRun(
            attempt=adopted.attempt,
            task=adopted.task,
            worktree=Path(adopted.worktree),
            prompt=adopted.prompt,
            adapter=adapter_for(self.agent_kind),
            launches=adopted.launches,
            finished=state in HANDED_IN,
            session=adopted.session,
            heard=state is not TaskState.ASSIGNED,  # (acknowledged: its session has the task)
        )

    def _on_resize(self, signum: int, _frame: object) -> None:
        self.resized = True

    def _tend_screen(self, cur: AgentRun, screen: Screen, ready: list[Any], keyboard: int | None) -> None:
        """The agent on its own screen: the pane follows it, keys go to it, pastes get confirmed."""
        if self.resized:
            self.resized = False
            screen.resize()
        if keyboard is not None and keyboard in ready:
            with contextlib.suppress(OSError):
                screen.type_in(os.read(keyboard, 4096))
        self._watch_hooks(cur, screen)
        self.read_transcript(cur)
        if screen.fd in ready and not screen.pump():
            self.agent.on_exit(cur)

    def _watch_hooks(self, cur: AgentRun, screen: Screen) -> None:
        """What the agent's hooks said since the last look: where its transcript is, whether a
        pasted message was submitted, whether it is at work on a turn."""
        busy = seen_other = False
        cur.hooks_since, hooks = self.link.hook_events(cur.hooks_since)
        for e in hooks:
            about, detail = e.payload.get("about"), e.payload.get("detail") or {}
            # At work on a turn (a tool used or decided): a message pasted meanwhile is queued.
            busy = busy or e.kind == EventKind.PERMISSION_DECIDED or about == HookKind.TOOL_USED
            if about == HookKind.SESSION_START:
                named = Path(str(detail.get("transcript_path") or ""))
                if detail.get("transcript_path") and named != cur.transcript and self._transcript_root(named):
                    cur.transcript, cur.transcript_at = named, 0
                if cur.first_paste is not None:
                    text, cur.first_paste = cur.first_paste, None
                    self.send(text, MessageKind.TASK)
            elif about == HookKind.PROMPT and cur.submit is not None:
                if detail.get("prompt_digest") == cur.submit.digest:
                    self.emit(cur, EventKind.AGENT_PROMPT_SUBMITTED, confirmed=True, tries=cur.submit.tries)
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
        folders = [self.home, *self.box.user_state()]
        for folder in folders:
            for root in dict.fromkeys((folder, folder.resolve())):  # named as it is, or where it is
                if transcript.is_relative_to(root) and transcript != root:
                    return root
        return None

    def read_transcript(self, cur: AgentRun, usage_only: bool = False) -> None:
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
                    self.count(cur, sig.data)
                elif not usage_only:
                    with contextlib.suppress(CallerError):
                        self.on_signal(cur, sig)

    def _check_submit(self, cur: AgentRun, screen: Screen, pending: Submit, busy: bool, seen_other: bool) -> None:
        match delivery.look(pending, busy=busy, seen_other=seen_other, now=time.monotonic()):
            case Pasted.WAITING:
                pass
            case Pasted.ENTER_AGAIN:
                self.say("  the pasted message is not submitted yet: Enter again")
                screen.enter()
            case Pasted.UNCONFIRMED:  # a prompt was submitted, not with the text pasted: said, not confirmed
                cur.submit = None
                self.emit(cur, EventKind.AGENT_PROMPT_SUBMITTED, confirmed=False, tries=pending.tries)
            case Pasted.LOST:
                cur.submit = None
                self.say("  the pasted message was not submitted")
                text = f"a message pasted into the agent's screen was not submitted after {pending.tries} Enters"
                self.emit(cur, EventKind.AGENT_ERROR, text=text)

    def emit(self, cur: AgentRun | None, kind: EventKind, **payload: Any) -> None:
        """An event about this worker's agent (on ``cur``'s attempt)."""
        task, attempt = (cur.task, cur.attempt) if cur else (None, None)
        self.link.emit(kind, task, attempt, payload)

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
            self.agent.retire()
            # Numbered on from the worker's last start: the store's when the command was posted,
            # or one this host made since (a message for the last task, handled in between).
            earlier = max(cmd.earlier_launches, self.last_launch)
            again = cmd.again
            if cur is not None and cur.attempt == cmd.attempt:
                # A host that died having started the agent, before it marked this start done: the
                # start comes again, and its launch must be a new one (the store has the last one,
                # superseded since: the agent's calls under its number are refused as replaced).
                again = again or cur.launches > cmd.earlier_launches
                earlier = max(earlier, cur.launches)
            self.current = AgentRun(
                attempt=cmd.attempt,
                task=cmd.task,
                worktree=Path(cmd.worktree),
                prompt=cmd.prompt,
                adapter=adapter_for(self.agent_kind),
                launches=earlier,
                first_launch=0 if again else earlier + 1,
            )
            what = f"review of task {cmd.task}" if self.reviewer else f"task {cmd.task}"
            self.say(f"== {what} (attempt id {cmd.attempt}): prompt of {len(cmd.prompt)} characters")
            self.agent.launch([(self.current.prompt, MessageKind.TASK)])
            self._done(posted, EventKind.AGENT_STARTED, launch=self.current.launches)
            return
        if cur is None or cur.attempt != cmd.attempt:
            reason = "no such attempt on this worker"
            self._done(posted, EventKind.AGENT_COMMAND_DROPPED, dropped=cmd.KIND, reason=reason)
            return
        match cmd:
            case Tell(kind=kind, text=text, show=show):
                self.say(f">> {kind} for {cur.task}: {text.splitlines()[0] if text else ''}")
                # A message may tell it to bring the integration branch (or what it shows) in.
                self.agent.show_integration(cur, show)
                if kind in (MessageKind.FEEDBACK, MessageKind.REVIEW):  # its work came back to it
                    cur.finished = False
                if kind is MessageKind.PERSON:
                    cur.persons = [*cur.persons, (text, kind)][-PERSONS_KEPT:]
                if cur.proc is not None and cur.proc.running() and cur.adapter.capabilities.long_lived:
                    self.send(text, kind)
                else:
                    # The agent is not running (it answers one message per process, or it exited):
                    # start it again, its session resumed, or else with the task's text first.
                    self.agent.relaunch([(text, kind)])
                self._done(posted, EventKind.AGENT_MESSAGE_DELIVERED, about=kind, chars=len(text))
            case Answer(allow=allow, reason=reason):
                self.say(f">> permission {'allowed' if allow else 'denied'}: {reason}")
                if not cur.adapter.capabilities.permission_tool:  # else its permission tool call gets it
                    self.send(f"{'allow' if allow else 'deny'}: {reason}", MessageKind.ANSWER)
                # (Its worker was set to work where the answer was posted: by now it may show the
                # agent's next request, which is not this answer's to withdraw.)
                self._done(posted, EventKind.AGENT_ANSWER_DELIVERED, allow=allow)
            case Restart(reason=reason, reset_to=reset_to, prompt=prompt):
                self.agent.stop_agent(patience=0.0)  # it is being replaced because it misbehaves: no waiting
                if reset_to:
                    self.agent.reset(cur.worktree, reset_to)
                cur.finished = False
                self.say(f"== restarting the agent of {cur.task}: {reason}")
                if prompt:  # a correction: the full, right text again
                    self.agent.relaunch([(prompt, MessageKind.CORRECTION)], whole=True)
                else:
                    self.agent.relaunch([(RESUMED, MessageKind.CONTINUE)])
                self._done(posted, EventKind.AGENT_RESTARTED, launch=cur.launches, reason=reason)
            case StopAgent():
                self.agent.retire()
                self.current = None
                self.say(f"== {'review' if self.reviewer else 'task'} ended; waiting for the next one")
                self._done(posted, EventKind.AGENT_STOPPED)
            case _:
                assert_never(cmd)

    def _done(self, posted: Posted, kind: EventKind, **payload: Any) -> None:
        cur = self.current
        task, attempt = (cur.task, cur.attempt) if cur else (None, None)
        self.link.command_done(posted.id, kind, task, attempt, payload)

    def _denied(self, host: str, why: str) -> None:
        """The agent's sandbox refused it a host: said once per host, as a warning (an agent that
        needs a package index, say, waits for a person to add it to ``allow_hosts``)."""
        if host in self._denied_hosts:
            return
        self._denied_hosts.add(host)
        cur = self.current
        text = f"the agent of {self.worker} could not reach {host}: {why}"
        if egress.permits(host, adapter_for(self.agent_kind).capabilities.chatter):
            self.say(f"  {text} (its program reaches for it at every start; no alert)")
            return
        self.say(f"  {text}")
        self.link.alert("warning", text, cur.task if cur else None, host=host)

    def _write(self, data: str) -> None:
        if self.current is not None:
            delivery.write(self.current, data)

    def send(self, text: str, kind: MessageKind) -> None:
        if self.current is not None:
            delivery.send(self.current, text, kind)

    def notes(self, notes: list[Note]) -> None:
        """Activity events, as the flow lets them through (one for many lines in a flood)."""
        for note in notes:
            times = f" (x{note.lines})" if note.lines > 1 and not note.mixed else ""
            self.say(f"  {output.shown(note.text)}{times}")
            extra = {"lines": note.lines} if note.lines > 1 else {}
            with contextlib.suppress(CallerError):  # the task left this worker meanwhile
                self.tools.activity(note.text, note.repeats, **extra)

    def count(self, cur: AgentRun, data: dict[str, Any]) -> None:
        """Add what an API exchange cost to the attempt, each message once (``czar.core.usage``).

        Usage per message (``provisional``) counts at once, so that budgets are watched as the
        agent works; the agent's running total (``cumulative``), or its turn's total (``turn``),
        then settles the account.
        """
        model = self.settings.model or pricing.DEFAULT_MODELS.get(self.agent_kind)
        now = usage.reported(data, model, self.settings.prices)
        self._record_usage(cur, cur.meter.add(data, now))

    def network_lost(self, cur: AgentRun) -> bool:
        """True if its model seems unreachable only because its sandbox's network is gone (the
        listener that carries its connections out ended: an agent can kill it): then the agent is
        stopped, and started again at once, rather than wait for a model that is fine."""
        agent = cur.proc
        if cur.gateway is None or agent is None or not agent.running():
            return False
        if sandbox.network_listens(agent.pid) is not False:  # it listens, or czar cannot tell
            return False
        self.say("  the network of its sandbox is gone (its listener ended): the agent is stopped, to start again")
        self.restart(cur, "its sandbox's network was gone")
        return True

    def tools_lost(self, cur: AgentRun, text: str) -> None:
        """czar's tools did not connect at the agent's start (its tools server was down, or moved):
        it would work without them, unable to report or hand in. Given the tools server's address,
        it is stopped and started again, where it finds the server that answers now (or starts its
        own); with a server of its own that failed, starting again would not help."""
        self.emit(cur, EventKind.AGENT_ERROR, text=text)
        if cur.proc is None or not cur.proc.running() or cur.mcp_url is None:
            return
        self.say("  czar's tools did not connect: the agent is stopped, to start again")
        self.restart(cur, "czar's tools did not connect")

    def restart(self, cur: AgentRun, why: str) -> None:
        """Stop the agent to start it again here at once (``AgentProcess.on_exit``), up to
        ``HOST_RESTARTS`` times an attempt; beyond, its end is an exit as any other."""
        if cur.proc is None:
            return
        if cur.host_restarts < HOST_RESTARTS:
            cur.restarting = why
        cur.watch = output.ModelWatch()  # (its failed requests were not its model's)
        cur.proc.kill_all()  # (its sandbox's inside too, which holds its output open)

    def unreachable(self, cur: AgentRun) -> str:
        """The evidence that the agent cannot reach its model, for people."""
        where = f" at {self.settings.base_url}" if self.settings.base_url else ""
        return f"{self.agent_kind}'s model API{where}: {cur.watch.summary()}"

    def _record_usage(self, cur: AgentRun, delta: dict[str, float]) -> None:
        if not any(delta.values()):
            return
        self.link.usage(cur.attempt, cur.task, delta)

    def on_signal(self, cur: AgentRun, sig: Signal) -> None:
        signals.on_signal(self, self.tools, cur, sig)

    def keep_session(self, cur: AgentRun) -> None:
        self.link.attempt_fields(cur.attempt, session_id=cur.session)
