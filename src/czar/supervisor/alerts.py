"""Alerts for people away from the terminal: each one, as a JSON POST to the plan's webhook and
as a push notification to each ntfy-style topic (``[alerts] ntfy``), with a link to its item on
the web page when the plan says where that is (``[alerts] web_url``).

Delivery is concurrent: each level has lanes of its own (threads that post one alert at a time),
so a webhook that hangs on warnings never holds a critical alert back, and the critical alerts of a
batch are handed out first. Each attempt is bounded (``attempt_seconds`` for each step of the
request: connecting, sending, every wait for the answer); an alert gets ``ATTEMPTS`` of them.

Delivery is at least once: the outcome of each alert (delivered everywhere, or given up somewhere;
a destination that took it is not sent it again) is an event, and the
id below which every alert has an outcome is kept in the store; a supervisor that restarts sends
the alerts that had none yet, and nothing twice that was acknowledged.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from czar.core.events import EventKind
from czar.store.store import Event, Store
from czar.supervisor.project import Project

LEVELS = {"warning": 1, "critical": 2}
ATTEMPTS = 3
ATTEMPT_SECONDS = 5.0
BACKOFF_SECONDS = 0.5  # before the second attempt; doubled before each next one
LANES = 4  # alerts of one level posted at once
FLUSH_SECONDS = ATTEMPT_SECONDS  # what a stopping supervisor gives the alerts still on their way
DELIVERED = "alerts_delivered"  # meta key: every alert up to this id has an outcome
OUTCOMES = (EventKind.ALERT_DELIVERED, EventKind.ALERT_UNDELIVERED)


def link(project: Project, task: str | None) -> str | None:
    """The alert's item on the web page: its task's page, else the run's."""
    base = project.plan.alerts.web_url
    if base is None:
        return None
    run = f"{base.rstrip('/')}/p/{urllib.parse.quote(project.name, safe='')}/"
    return f"{run}task/{urllib.parse.quote(task, safe='')}" if task else run


def payload(project: Project, event: Event) -> dict[str, Any]:
    return {
        "project": project.name,
        "id": event.id,
        "time": event.ts,
        "level": event.payload.get("level"),
        "message": event.payload.get("message"),
        "task": event.task_id,
        "worker": event.worker_id,
        "link": link(project, event.task_id),
    }


@dataclass(frozen=True)
class Destination:
    """Where an alert goes: the webhook (the alert as JSON) or an ntfy-style topic (its message as
    the body; title, priority and link as headers, which ntfy and its clients read)."""

    url: str
    ntfy: bool = False

    def request(self, body: dict[str, Any]) -> urllib.request.Request:
        if not self.ntfy:
            data = json.dumps(body).encode()
            return urllib.request.Request(
                self.url, data=data, method="POST", headers={"Content-Type": "application/json"}
            )
        critical = body["level"] == "critical"
        headers = {
            "Title": _header(f"czar {body['project']}: {body['level']}"),
            "Priority": "5" if critical else "4",
            "Tags": "rotating_light" if critical else "warning",
        }
        if body.get("link"):
            headers["Click"] = _header(str(body["link"]))
        text = str(body.get("message") or "")
        return urllib.request.Request(self.url, data=text.encode(), method="POST", headers=headers)


def _header(text: str) -> str:
    # HTTP headers carry Latin-1 only; a name or link outside it loses those letters, not the alert.
    return text.encode("latin-1", "replace").decode("latin-1")


class AlertSender:
    def __init__(
        self, project: Project, *, attempt_seconds: float = ATTEMPT_SECONDS, backoff: float = BACKOFF_SECONDS
    ) -> None:
        self.p = project
        self.store = project.store
        spec = project.plan.alerts
        self.destinations = ([Destination(spec.webhook)] if spec.webhook else []) + [
            Destination(url, ntfy=True) for url in spec.ntfy
        ]
        self.least = LEVELS[project.plan.alerts.level]
        self.attempt_seconds = attempt_seconds
        self.backoff = backoff
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)  # an alert got its outcome
        self._seen: int | None = None  # the last alert event looked at (None: not read from the store yet)
        self._open: set[int] = set()  # alerts handed to a lane, without an outcome yet
        self._marked = 0  # the mark as the store has it
        self._lanes: dict[int, queue.Queue[Event | None]] = {}

    def send_pending(self) -> int:
        """Hand every alert not handled yet to its lane, critical ones first; returns how many.

        Returns at once: the lanes post them (see ``flush`` to wait for them).
        """
        if not self.destinations:
            return 0
        with self._lock:
            done: set[int] = set()
            if self._seen is None:
                with self.store.read() as conn:
                    self._seen = self._marked = int(Store.get_meta(conn, DELIVERED, 0))
                # Alerts past the mark may have an outcome already (the mark waits for the slowest).
                done = {int(e.payload["alert"]) for e in self.store.all_events_after(self._seen, OUTCOMES)}
            wanted: list[tuple[int, Event]] = []
            for event in self.store.all_events_after(self._seen, (EventKind.ALERT,)):
                self._seen = event.id
                level = LEVELS.get(str(event.payload.get("level")), 0)
                if level >= self.least and event.id not in done:
                    wanted.append((level, event))
                    self._open.add(event.id)
            for level, event in sorted(wanted, key=lambda w: (-w[0], w[1].id)):
                self._lane(level).put(event)
            if not wanted:
                self._mark()
        return len(wanted)

    def flush(self, timeout: float = FLUSH_SECONDS) -> bool:
        """Hand out what is pending and wait, at most ``timeout`` seconds, until every alert handed
        out has an outcome. False if some had none by then: they stay for the next supervisor."""
        self.send_pending()
        deadline = time.monotonic() + timeout
        with self._settled:
            while self._open:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._settled.wait(left)
        return True

    def close(self) -> None:
        """Let the lanes end once they finish what they post now."""
        with self._lock:
            for lane in self._lanes.values():
                for _ in range(LANES):
                    lane.put(None)
            self._lanes.clear()

    # -- the lanes -----------------------------------------------------------------------------

    def _lane(self, level: int) -> queue.Queue[Event | None]:
        if level not in self._lanes:
            lane: queue.Queue[Event | None] = queue.Queue()
            self._lanes[level] = lane
            for i in range(LANES):
                # Daemons: a webhook that never answers must not keep a stopping supervisor alive.
                name = f"alerts-{level}-{i}"
                threading.Thread(target=self._post_from, args=(lane,), name=name, daemon=True).start()
        return self._lanes[level]

    def _post_from(self, lane: queue.Queue[Event | None]) -> None:
        while (event := lane.get()) is not None:
            ok, why = self._post(payload(self.p, event))
            with self._settled:
                try:
                    mark = self._next_mark(settled=event.id)
                    with self.store.write() as conn:
                        Store.emit(
                            conn,
                            EventKind.ALERT_DELIVERED if ok else EventKind.ALERT_UNDELIVERED,
                            alert=event.id,
                            detail=why,
                        )
                        if mark != self._marked:
                            Store.set_meta(conn, DELIVERED, mark)
                except Exception:  # the store failed: the alert stays open, and is sent again later
                    continue
                finally:
                    self._settled.notify_all()
                self._open.discard(event.id)
                self._marked = mark

    def _next_mark(self, settled: int | None = None) -> int:
        """The last alert looked at below the first still open (once ``settled`` is not)."""
        assert self._seen is not None
        still = self._open - {settled}
        return min(still) - 1 if still else self._seen

    def _mark(self) -> None:
        """Move the store's mark up (only when it moved: the loop looks on every event)."""
        mark = self._next_mark()
        if mark != self._marked:
            with self.store.write() as conn:
                Store.set_meta(conn, DELIVERED, mark)
            self._marked = mark

    def _post(self, body: dict[str, Any]) -> tuple[bool, str]:
        """To every destination, each tried ``ATTEMPTS`` times; True if all took it. A destination
        that took it is not sent it again when another needs more attempts."""
        left = list(self.destinations)
        said: dict[str, str] = {}
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            for destination in list(left):
                try:
                    with urllib.request.urlopen(destination.request(body), timeout=self.attempt_seconds) as response:
                        said[destination.url] = f"HTTP {response.status}"
                        left.remove(destination)
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    said[destination.url] = str(getattr(exc, "reason", exc))
            if not left:
                break
        if len(self.destinations) == 1:
            return not left, said[self.destinations[0].url]
        return not left, "; ".join(f"{_shown(url)}: {why}" for url, why in said.items())


def _shown(url: str) -> str:
    """A destination as the event log names it: an ntfy topic's name is its secret, so only the server."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
