"""The project's tools server (``czar.agent_tools.tools_server``), kept running by the supervisor.

The supervisor makes its listening socket and hands it down, so its address (``tools_url`` in the
store, which worker hosts give their agents) is good from the start and stays the same when the
server is started again. The server outlives its supervisor, as the worker hosts do: a new
supervisor keeps the one it finds running (its agents keep their address), and `czar down` ends
it with the rest of the run. If a kept server dies with its supervisor, the socket dies with them:
the next one listens at the same port when it is free (agents given the address keep their tools),
else at another, which agents started since get.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import urllib.parse
from collections.abc import Callable

from czar.agent_tools.host_link import URL_FILE
from czar.agent_tools.tools_server import MCP_FLAG, MODULE, PID_KEY, URL_KEY, Sandboxing
from czar.agents.adapters import adapter_for
from czar.core.events import EventKind
from czar.errors import CzarError
from czar.runtime import proc
from czar.runtime.ancestry import ProcessInfo, process
from czar.store.store import Store
from czar.supervisor.project import Project

LOG = "tools-server.log"  # in the project's logs
RESTARTS = 5  # starts within RESTART_WINDOW before the supervisor gives up on it
RESTART_WINDOW = 60.0
FD = "--fd"


class ToolsServer:
    def __init__(self, project: Project, say: Callable[[str], None]) -> None:
        self.p = project
        self.say = say
        self.listening: socket.socket | None = None
        self.child: proc.Child | None = None
        self.pid: int | None = None  # the server's, ours or adopted
        self.starts: list[float] = []
        self.given_up = False
        # MCP is served (its SDK loaded) only for a plan with an agent that speaks it over HTTP.
        self.mcp = any(adapter_for(kind).capabilities.mcp_http for kind in project.plan.worker_kinds.values())

    def start(self) -> None:
        """At the supervisor's start: the server of an earlier supervisor kept, else one started."""
        with self.p.store.read() as conn:
            url, pid = Store.get_meta(conn, URL_KEY), Store.get_meta(conn, PID_KEY)
        info = process(pid) if isinstance(pid, int) else None
        if url and info is not None and self._of_this_plan(info):
            if self._is_ours(info):
                self.pid = info.pid
                self._publish(str(url))
                self.say(f"tools server at {url} (pid {info.pid}) kept")
                return
            # The plan's agents changed since it started: MCP is now needed, or no longer.
            self.say(f"the tools server (pid {info.pid}) does not serve what the plan needs now: replaced")
            proc.kill_group(info.pid, signal.SIGTERM)
        self._start()

    def check(self) -> None:
        """In the health round: a server that died is started again (on the same socket)."""
        if self.given_up or self.pid is None or (proc.pid_alive(self.pid) and not self._exited()):
            return
        now = self.p.clock.monotonic()
        self.starts = [t for t in self.starts if now - t < RESTART_WINDOW]
        if len(self.starts) >= RESTARTS:
            self.given_up = True
            self._forget()
            if self.listening is not None:  # refused from now on, rather than left waiting
                self.listening.close()
                self.listening = None
            text = (
                f"czar's tools server died {len(self.starts)} times within {RESTART_WINDOW:g} s; agents start "
                f"their own (see {LOG})"
            )
            self.say(text)
            with self.p.store.write() as conn:
                Store.alert(conn, "error", text, actor="supervisor")
            return
        self.say("the tools server is gone: starting it again")
        try:
            self._start()
        except CzarError as exc:  # short of processes or files: a later round tries again
            self.starts.append(now)  # and counts it, so that this cannot go on for ever
            self.say(str(exc))

    def stop(self) -> None:
        """End the server (tests, and whoever owns it without `czar down`'s sweep)."""
        pid, self.pid = self.pid, None
        if pid is not None:
            proc.kill_group(pid, signal.SIGTERM)
            if self.child is not None and self.child.wait(timeout=3) is None:
                self.child.signal_group(signal.SIGKILL)
                self.child.wait(timeout=3)
            self._forget()
        if self.listening is not None:
            self.listening.close()
            self.listening = None

    def _start(self) -> None:
        if self.listening is None:
            self.listening = self._socket()
            self.listening.listen(128)  # agents that connect before the server runs wait here
        if self.child is not None:
            self.child.wait(timeout=1)  # the last one, reaped
        argv = [sys.executable, "-m", MODULE, *self._told(), FD, str(self.listening.fileno())]
        try:
            self.child = proc.start_server(
                argv,
                cwd=self.p.paths.root,
                env=self.p.child_env(),
                log_to=self.p.paths.logs / LOG,
                keep=[self.listening.fileno()],
            )
        except OSError as exc:
            raise CzarError(f"cannot start czar's tools server: {exc}") from exc
        self.pid = self.child.pid
        self.starts.append(self.p.clock.monotonic())
        url = f"http://127.0.0.1:{self.listening.getsockname()[1]}"
        with self.p.store.write() as conn:
            Store.set_meta(conn, URL_KEY, url)
            Store.set_meta(conn, PID_KEY, self.pid)
            Store.emit(conn, EventKind.TOOLS_STARTED, actor="supervisor", url=url, pid=self.pid)
        self._publish(url)
        self.say(f"tools server at {url} (pid {self.pid})")

    def _socket(self) -> socket.socket:
        """The server's socket: at the port of the last server when it is free (that one died with
        the supervisor that held its socket: the agents it served, given its address, go on
        reaching czar's tools, which keep no session), else at any port."""
        with self.p.store.read() as conn:
            last = Store.get_meta(conn, URL_KEY)
        port = urllib.parse.urlsplit(last).port if isinstance(last, str) else None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # (its connections' TIME_WAIT)
        try:
            sock.bind(("127.0.0.1", port or 0))
        except OSError:  # taken meanwhile
            sock.bind(("127.0.0.1", 0))
        return sock

    def _exited(self) -> bool:
        return self.child is not None and not self.child.running()

    def _forget(self) -> None:
        with self.p.store.write() as conn:
            Store.set_meta(conn, URL_KEY, None)
            Store.set_meta(conn, PID_KEY, None)
        self._publish(None)

    def _publish(self, url: str | None) -> None:
        """Where worker hosts find the server (``host_link.URL_FILE``): a host reads no store."""
        path = self.p.paths.root / URL_FILE
        try:
            if url is None:
                path.unlink(missing_ok=True)
                return
            fresh = path.with_name(f".{URL_FILE}.{os.getpid()}")
            fresh.write_text(url + "\n", encoding="utf-8")
            fresh.replace(path)
        except OSError as exc:  # the hosts then go on on the store itself
            self.say(f"cannot publish the tools server's address: {exc}")

    def _told(self) -> list[str]:
        """What the server is told, but its socket: the plan, its project, how agents are
        confined, and whether the plan's agents speak MCP."""
        plan = self.p.plan
        mcp = [MCP_FLAG] if self.mcp else []
        return ["--plan", str(plan.path), "--project", plan.project.name, *Sandboxing.argv(Sandboxing.of(plan)), *mcp]

    def _is_ours(self, info: ProcessInfo | None) -> bool:
        """A tools server of this project's plan (not a process that took a dead one's pid) told
        what it would be told now: not one of the plan as it was (its agents now speak MCP, or no
        longer; their sandbox changed)."""
        if info is None or not self._of_this_plan(info):
            return False
        told = list(info.cmdline[info.cmdline.index(MODULE) + 1 :])
        if FD in told:
            del told[told.index(FD) : told.index(FD) + 2]
        return told == self._told()

    def _of_this_plan(self, info: ProcessInfo) -> bool:
        return MODULE in info.cmdline and str(self.p.plan.path) in info.cmdline
