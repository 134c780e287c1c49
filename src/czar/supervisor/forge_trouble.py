"""The forge's refusals and silences while a run goes on: each said once, as an event and a
warning alert in the forge's words, until the forge works again for that pull request (a token
revoked mid-run must reach a person, not only the log; a rate limit must not alert every look).
Nothing is lost meanwhile: what could not be sent is sent at a later look."""

from __future__ import annotations

import re
from collections.abc import Callable

from czar.core.events import EventKind
from czar.errors import ForgeDenied, ForgeError
from czar.store.store import Store
from czar.supervisor.project import Project


class ForgeTrouble:
    def __init__(self, project: Project, say: Callable[[str], None]) -> None:
        self.p = project
        self.say = say
        self.said: dict[tuple[str, str], str] = {}  # (task, what) -> the last trouble said, its figures blanked

    def failed(self, task: str, doing: str, exc: Exception) -> None:
        message = str(exc)
        self.say(f"forge, {doing} for {task}: {message}")
        if not isinstance(exc, ForgeError):
            return  # czar's own record moved meanwhile (a head, a state): the next look sees it
        shape = re.sub(r"\d+", "#", message)  # "tried again in 0:00:41" is the same trouble as 0:00:40
        if self.said.get((task, doing)) == shape:
            return
        self.said[(task, doing)] = shape
        with self.p.store.write() as conn:
            Store.emit(conn, EventKind.FORGE_ERROR, task=task, doing=doing, message=message[-2000:])
            # A token refused holds every pull request until a person acts: an error, not a warning.
            level = "error" if isinstance(exc, ForgeDenied) else "warning"
            Store.alert(conn, level, f"the forge, {doing} for task {task}: {message}", task=task)

    def worked(self, task: str, doing: str) -> None:
        self.said.pop((task, doing), None)
