"""A worker's agent process: started (in its sandbox, on a pipe or a screen of its own), its output
read, and ended (with everything it started), its last usage counted and what it changed in your
home undone. One process at a time per task; an agent let go ends in the background while the
next one starts."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import select
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from czar.agent_tools.host_link import answers, mcp_path
from czar.agent_tools.identity import ENV_PROJECT, ENV_TOKEN, ENV_WORKER, CallerError
from czar.agent_tools.relay import ENV_ENDPOINT, RelayServer
from czar.agents.base import LaunchContext, SignalKind
from czar.core.events import EventKind
from czar.core.host_commands import RESUMED, MessageKind
from czar.errors import CzarError
from czar.host import output, user_config
from czar.host.agent_run import AgentRun
from czar.host.sandboxing import wrapper
from czar.host.screen import Screen
from czar.runtime import sandbox, search_path
from czar.runtime.proc import Child, run, spawn
from czar.vcs import checkout
from czar.vcs.git import Git

if TYPE_CHECKING:
    from czar.host.worker_host import WorkerHost

AGENT_NICENESS = 10  # the agent's scheduling priority, below czar's


class AgentProcess:
    def __init__(self, host: WorkerHost) -> None:
        self.host = host
        # Ending agents of earlier tasks, and the threads that end them.
        self.reapers: list[tuple[threading.Thread, Child]] = []

    def reset(self, worktree: Path, commit: str) -> None:
        """Drop what the agent changed since ``commit`` (work on the wrong task, say)."""
        if not checkout.is_commit_id(commit):
            self.host.say(f"== cannot reset the checkout to {commit[:40]!r}: not a commit id")
            return
        git = self.git_in_checkout(self.host.current) if self.host.current else None
        if git is None:
            return
        self.unlock(worktree)
        # A commit id, never an option (git 2.39's reset does not take --end-of-options).
        for argv in (["reset", "--hard", "-q", commit], ["clean", "-fdq"]):
            git.run(*argv, check=False)
        self.host.say(f"== worktree reset to {commit[:10]}")

    def end_retiring(self) -> None:
        """Agents of earlier tasks still ending end now, before the next one starts: they share its
        home (czar is about to write its settings there, which a link they planted would turn
        elsewhere) and maybe its checkout (a git command of theirs would hold it locked)."""
        for reaper, proc in self.reapers:
            if reaper.is_alive():
                proc.end_all()  # its reaper then counts its last usage and says what is left
                reaper.join()
        self.reapers = []

    def unlock(self, worktree: Path) -> None:
        """The checkout freed of what an agent killed in the middle of a git command left locked,
        before the next one starts there."""
        if removed := checkout.unlock(worktree):
            self.host.say(f"== removed what a stopped agent left locked: {', '.join(removed)}")

    def relaunch(self, messages: list[tuple[str, MessageKind]], *, whole: bool = False) -> None:
        """Start the agent again: its own session resumed if it has one (the messages are then all it
        needs), else with the task's text first. ``whole``: the first message is a whole task text."""
        cur = self.host.current
        assert cur is not None
        # On its own screen, a session it never wrote down (killed at once) cannot be resumed; nor
        # one its model never answered in (killed at its start): it may not hold the task's text.
        lost = cur.transcript is not None and not cur.transcript.exists()
        if cur.adapter.capabilities.resumes and cur.session and not lost and cur.heard:
            self.launch(messages, resume=True)
        elif whole:
            self.launch(messages)
        else:
            carried = [m for m in dict.fromkeys([*cur.persons, *cur.unheard]) if m not in messages]
            self.launch([(cur.prompt, MessageKind.TASK), *carried, *messages])

    def launch(self, messages: list[tuple[str, MessageKind]], *, resume: bool = False) -> None:
        cur = self.host.current
        assert cur is not None
        cur.launches += 1
        cur.unheard = [m for m in messages if m[1] is not MessageKind.TASK]
        cur.restarting = None  # (of its last start, if that one did not end through ``on_exit``)
        cur.watch.started()
        self.host.last_launch = cur.launches
        self.host.tools.launch = cur.launches
        self.close_endpoint(cur)
        self.end_retiring()
        self.undo_config(cur)  # of its last start, if it ended without czar seeing it end
        self.unlock(cur.worktree)
        try:
            confine = self.host.box.confinement(cur.worktree, new_session=True)
        except CzarError as exc:
            self.cannot_start(cur, self.host.agent_kind, exc)
            return
        self.host.tools.wrap = wrapper(confine)
        if cur.adapter.capabilities.mcp_http:
            cur.mcp_url = self.tools_url(cur.launches)
        if confine is not None:
            # In its sandbox the agent cannot open the store: its `czar` commands come here.
            cur.relay = RelayServer(self.host.tools.at(cur.launches), self.host.token)
        self.show_integration(cur)
        ctx = LaunchContext(
            worktree=cur.worktree,
            worker=self.host.worker,
            task=cur.task,
            env=self.agent_env(cur, sandbox.project_bins(confine)),
            messages=messages,
            session=cur.session if resume else None,
            home=self.host.home,
            # -P: run in the checkout, `-m czar` would take a `czar` of the project's first.
            czar=(sys.executable, "-P", "-m", "czar"),
            git_dir=_git_dir(cur.worktree),
            settings=self.host.settings,
            mcp_url=cur.mcp_url,
            confined=confine is not None,
        )
        self.host.home.mkdir(parents=True, exist_ok=True)
        launch = cur.adapter.launch(ctx)
        argv = launch.argv
        try:
            if confine is not None:
                # Czar's own git in the checkout runs with no network and no program of the agent's.
                confine = dataclasses.replace(
                    confine,
                    new_session=not launch.terminal,
                    programs=(*confine.programs, *sandbox.program_folders(launch.argv[0], launch.env.get("PATH"))),
                    network=self.host.box.network(cur),
                )
                argv = sandbox.wrap(argv, confine)
                if self.host.settings.home == "user":
                    cur.config_before = user_config.snapshot(self.host.agent_kind, Path.home())
                    user_config.save(cur.config_before, self.config_file)
            # Agents yield the CPU to czar's own processes: supervision must stay responsive when
            # a hundred agents (and the tests they run) compete for two cores.
            if launch.terminal:
                cur.hooks_since = self.host.link.newest_event()
                cur.screen = Screen(argv, launch.env, cur.worktree, self.host.out, niceness=AGENT_NICENESS)
                cur.proc = cur.screen.proc
                self.host.keyboard = self.host.pane.lend()
            else:
                cur.proc = spawn(argv, cwd=cur.worktree, env=launch.env, niceness=AGENT_NICENESS)
        except (OSError, ValueError, CzarError) as exc:
            self.cannot_start(cur, launch.argv[0], exc)
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
        first, cur.started = not cur.started, True
        self.host.link.launched(cur.attempt, cur.proc.pid, cur.launches, cur.session, first)
        for line in [] if launch.terminal else launch.stdin:
            self.host._write(line)
        if not launch.keep_stdin and not launch.terminal:
            cur.proc.close_input()

    def tools_url(self, launch: int) -> str | None:
        """Where this start of the agent finds czar's MCP server: the project's tools server
        (``czar.agent_tools.tools_server``); None (the agent then starts one over stdio) if none
        runs."""
        base = self.host.link.tools_address()
        if base is None:
            self.host.say("  czar's tools server is not running; the agent starts its own")
            return None
        if not answers(base):  # killed, or moved, since this host last called on it
            self.host.say(f"  czar's tools server at {base} does not answer; the agent starts its own")
            return None
        return base + mcp_path(self.host.worker, launch)

    @staticmethod
    def close_endpoint(cur: AgentRun) -> None:
        """The agent's servers (its relay, its sandbox's gateway) closed, in the background: each
        takes up to half a second to see it must stop, which the next agent's start must not wait
        for."""
        servers = [s for s in (cur.relay, cur.gateway) if s is not None]
        cur.mcp_url = None
        cur.relay = cur.gateway = None
        if servers:
            threading.Thread(target=_stop_all, args=(servers,), name="czar-endpoint-stop", daemon=True).start()

    def show_integration(self, cur: AgentRun, also: tuple[tuple[str, str], ...] = ()) -> None:
        """Point the checkout's copy of the integration branch at the repository's, and ``also``'s
        branches (name, commit) at theirs: a task's clone holds only its own branch, and agents
        are told to `git merge` these. Each ref file written by czar (``checkout.show_ref``), else
        ``update-ref`` in the agent's sandbox (it runs the clone's hooks, which are the agent's)."""
        if self.host.repo is None or not (cur.worktree / ".git").is_dir():
            return
        name = self.host.link.integration_branch()
        refs = list(also)
        with contextlib.suppress(CzarError):  # not made yet
            refs.insert(0, (name, Git(self.host.repo).tip(name)))
        for ref, commit in refs:
            if checkout.show_ref(cur.worktree, ref, commit):
                continue
            git = self.git_in_checkout(cur)
            if git is not None and checkout.is_commit_id(commit):
                git.run("update-ref", f"refs/heads/{ref}", commit, check=False)

    def cannot_start(self, cur: AgentRun, program: str, exc: Exception) -> None:
        """The agent's program is missing or cannot run, or no sandbox can hold it: the attempt's
        agent "exited" at once."""
        self.host.say(f"cannot start {program}: {getattr(exc, 'strerror', None) or exc}")
        self.host.link.cannot_start(cur.attempt, cur.task, cur.launches, f"cannot start {program}: {exc}")

    def git_in_checkout(self, cur: AgentRun) -> Git | None:
        """git in the task's checkout, in the agent's sandbox (the checkout's configuration and
        hooks are the agent's to write): made here if no start of the agent made it yet (a host
        that carried on an attempt of its previous one). None if the sandbox cannot be had."""
        if self.host.tools.wrap is None and self.host.box.enabled:
            try:
                confine = self.host.box.confinement(cur.worktree, new_session=True)
            except CzarError as exc:
                self.host.say(f"  no git in the checkout: {exc}")
                return None
            if confine is not None:
                self.host.tools.wrap = wrapper(confine)
        return Git(cur.worktree, self.host.tools.wrap, remember=False)  # the agent's checkout

    def agent_env(self, cur: AgentRun, first: list[Path]) -> dict[str, str]:
        return {
            "CZAR_HOME": str(self.host.paths.root.parent.parent),
            ENV_PROJECT: self.host.paths.name,
            ENV_WORKER: self.host.worker,
            ENV_TOKEN: self.host.token,
            "CZAR_TASK": cur.task,
            "CZAR_ATTEMPT": str(cur.attempt),
            "CZAR_AGENT_LAUNCH": str(cur.launches),
            # The task's first agent start (a simulated agent's scripted faults act on it only).
            "CZAR_FIRST_START": "1" if cur.launches == cur.first_launch else "0",
            # czar's tools through this host: inside its sandbox the agent cannot reach the store.
            **({ENV_ENDPOINT: cur.relay.base} if cur.relay is not None else {}),
            "PATH": self.agent_path(first),
            "GIT_AUTHOR_NAME": f"czar {self.host.worker}",
            "GIT_AUTHOR_EMAIL": f"{self.host.worker}@czar.localhost",
            "GIT_COMMITTER_NAME": f"czar {self.host.worker}",
            "GIT_COMMITTER_EMAIL": f"{self.host.worker}@czar.localhost",
        }

    def agent_path(self, first: list[Path]) -> str:
        """Its `czar` first, then ``first`` (the project's own virtualenv, shared with its
        checkout, when you activated none), then yours (with czar's folder first, `python` and
        `pytest` were czar's own, without the project's virtualenv), then czar's folder."""
        try:
            return search_path.for_project_code(search_path.czar_only(self.host.box.commands), *first)
        except OSError as exc:  # a full disk, say: the agent still finds czar, first
            self.host.say(f"  no folder of its own for the agent's czar ({exc}): czar's folder comes first")
            return search_path.czar_env()["PATH"]

    def stop_agent(self, patience: float = 2.0) -> None:
        """End the agent: close its input and give it ``patience`` seconds, then kill its group."""
        cur = self.host.current
        if cur is None or cur.proc is None:
            return
        if cur.screen is not None:
            self.take_pane_back()
        self.end(cur, cur.proc, patience)
        cur.proc = None
        self.host.link.worker_fields(agent_pid=None)

    def retire(self) -> None:
        """Let the agent of the task that ended go, without waiting for it: the next task starts
        at once while a thread gives the old agent its time to exit and counts its last usage."""
        cur = self.host.current
        if cur is None or cur.proc is None:
            if cur is not None:
                self.close_endpoint(cur)
            return
        proc, cur.proc = cur.proc, None
        if cur.screen is not None:
            self.take_pane_back()
        with contextlib.suppress(OSError):
            # Its last breath (hooks, saving its session) must not slow the next agent's start.
            os.setpriority(os.PRIO_PGRP, proc.pid, 19)
        self.host.link.worker_fields(agent_pid=None)
        reaper = threading.Thread(target=self.end, args=(cur, proc, 2.0), name="czar-reaper", daemon=True)
        reaper.start()
        self.reapers = [(r, p) for r, p in self.reapers if r.is_alive()] + [(reaper, proc)]

    def take_pane_back(self) -> None:
        """The pane is the host's again (in the main thread: one saved mode for every agent)."""
        self.host.pane.take_back()
        self.host.keyboard = None

    def end(self, cur: AgentRun, proc: Child, patience: float) -> None:
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
            self.host.say(f"  processes of the stopped agent still run: {left}")
        self.undo_config(cur)
        self.drain(cur, proc)
        proc.close()
        self.host.read_transcript(cur, usage_only=True)
        self.close_endpoint(cur)
        if screen is not None:
            screen.close()

    @property
    def config_file(self) -> Path:
        return self.host.home.with_name(f"{self.host.worker}.config-before.json")

    def undo_config(self, cur: AgentRun | None) -> None:
        """What the agent added to its configuration in your home, undone (``host.user_config``):
        of its last start, or of a start by a worker host killed while its agent ran."""
        before = cur.config_before if cur is not None else None
        if cur is not None:
            cur.config_before = None
        if before is None:
            before = user_config.load(self.config_file)
        if before is None:
            return
        keep = self.host.paths.logs / "undone" / f"{self.host.worker}-{time.strftime('%Y%m%d-%H%M%S')}"
        try:
            undone = user_config.undo(self.host.agent_kind, before, keep)
        except OSError as exc:
            undone = [f"(could not undo all: {exc})"]
        self.config_file.unlink(missing_ok=True)
        if undone:
            text = (
                f"the agent of {self.host.worker} changed its configuration in your home: {'; '.join(undone)}. "
                f"Undone; what it wrote is kept in {keep}"
            )
            self.host.say(f"  {text}")
            self.host.link.alert("critical", text, cur.task if cur else None)

    def drain(self, cur: AgentRun, proc: Child) -> None:
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
                    self.host.count(cur, sig.data)
        cur.buffer = b""
        self.settle(cur)

    def read_agent(self) -> None:
        cur = self.host.current
        if cur is None:
            return
        self.host.notes(cur.flow.due(time.monotonic()))  # activity held back in a flood, once its second is over
        if cur.proc is None or cur.proc.output_fd is None:
            return
        # A bounded amount per turn of the loop: an agent that floods its output must not keep the
        # host from its inbox (a stop, a restart).
        data, eof = cur.proc.read(output.READ_BYTES)
        lines, cur.buffer = output.split_lines(cur.buffer + data)
        for raw in lines:
            for signal_ in cur.adapter.parse(raw.decode(errors="replace")):
                try:
                    self.host.on_signal(cur, signal_)
                except CallerError as exc:
                    # The task left this worker meanwhile (requeued, cancelled): its output no longer counts.
                    self.host.say(f"  (ignored: {exc})")
        if eof:
            self.host.notes(cur.flow.flush())
            self.on_exit(cur)

    def settle(self, cur: AgentRun) -> None:
        """The process ended: what its messages counted stands."""
        cur.meter.settle()

    def on_exit(self, cur: AgentRun) -> None:
        assert cur.proc is not None
        code = cur.proc.exit_code()
        cur.proc.close()
        self.settle(cur)
        self.close_endpoint(cur)
        self.undo_config(cur)
        if cur.screen is not None:
            cur.screen.close()
            cur.screen = None
            self.host.read_transcript(cur)
            self.take_pane_back()
        if cur.session_lost:
            # Its session died with it before it was written down: not a crash of this start;
            # start it afresh (its branch keeps what it committed).
            cur.session_lost, cur.proc = False, None
            self.launch([(cur.prompt, MessageKind.TASK)])
            return
        cur.proc = None
        self.host.say(f"agent exited with code {code}" + ("" if cur.finished else " before finishing"))
        why, cur.restarting = cur.restarting, None
        if why is not None and not cur.finished:
            # Stopped by this host to start again: not a crash of its own, nothing charged.
            cur.host_restarts += 1
            self.relaunch([(RESUMED, MessageKind.CONTINUE)])
            self.host.emit(cur, EventKind.AGENT_RESTARTED, launch=cur.launches, reason=why, by="host")
            return
        # An agent that ends on failed requests to its model did not crash: it waits for its model
        # (the health round has it try again later), its restarts and attempts untouched.
        unreachable = not cur.finished and cur.watch.exited(code)
        if unreachable:
            with contextlib.suppress(CallerError):
                self.host.tools.model_unreachable(self.host.unreachable(cur))
        self.host.link.agent_exited(
            task=cur.task,
            attempt=cur.attempt,
            code=code,
            finished=cur.finished,
            reviewer=self.host.reviewer,
            long_lived=cur.adapter.capabilities.long_lived,
            unreachable=unreachable,
        )


def _stop_all(servers: list[Any]) -> None:
    for server in servers:
        server.stop()


def _git_dir(worktree: Path) -> Path | None:
    """The checkout's git folder: its own ``.git`` (a task's clone), without running git there
    (its configuration is the agent's); for a worktree, the folder its ``.git`` file points to."""
    if (worktree / ".git").is_dir():
        return worktree / ".git"
    result = run(
        ["git", "-C", str(worktree), "rev-parse", "--path-format=absolute", "--git-common-dir"], errors_too=False
    )
    return Path(result.output.strip()) if result.ok and result.output.strip() else None
