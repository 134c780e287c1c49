"""Alerts for people away from the terminal: each one, as a JSON POST to the plan's webhook.

Delivery is at least once: the id of the last alert delivered is kept in the store, so a
supervisor that restarts sends what it had not sent yet, and nothing twice that was acknowledged.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from czar.store.store import Event, Store
from czar.supervisor.project import Project

LEVELS = {"warning": 1, "critical": 2}
ATTEMPTS = 3
TIMEOUT_SECONDS = 5.0
DELIVERED = "alerts_delivered"  # meta key: the id of the last alert event handled


def payload(project: Project, event: Event) -> dict[str, Any]:
    return {
        "project": project.name,
        "id": event.id,
        "time": event.ts,
        "level": event.payload.get("level"),
        "message": event.payload.get("message"),
        "task": event.task_id,
        "worker": event.worker_id,
    }


class AlertSender:
    def __init__(self, project: Project) -> None:
        self.p = project
        self.store = project.store
        self.url = project.plan.alerts.webhook
        self.least = LEVELS[project.plan.alerts.level]
        self._lock = threading.Lock()  # the sending thread and the supervisor's last flush

    def send_pending(self) -> int:
        """POST every alert not handled yet; returns how many were delivered."""
        if self.url is None:
            return 0
        with self._lock:
            return self._send_pending()

    def _send_pending(self) -> int:
        with self.store.read() as conn:
            after = int(Store.get_meta(conn, DELIVERED, 0))
        sent = 0
        for event in self.store.events_after(after, kinds=("alert",)):
            if LEVELS.get(str(event.payload.get("level")), 0) >= self.least:
                ok, why = self._post(payload(self.p, event))
                with self.store.write() as conn:
                    Store.emit(conn, "alert.delivered" if ok else "alert.undelivered", alert=event.id, detail=why)
                sent += ok
            with self.store.write() as conn:
                Store.set_meta(conn, DELIVERED, event.id)
        return sent

    def _post(self, body: dict[str, Any]) -> tuple[bool, str]:
        assert self.url is not None
        data = json.dumps(body).encode()
        why = ""
        for attempt in range(ATTEMPTS):
            request = urllib.request.Request(
                self.url, data=data, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                    return True, f"HTTP {response.status}"
            except (urllib.error.URLError, OSError, ValueError) as exc:
                why = str(getattr(exc, "reason", exc))
                time.sleep(0.5 * 2**attempt)
        return False, why
