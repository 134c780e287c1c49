"""What a worker waiting for a person's permission asked, as its row in the store keeps it (the
worker's detail): written where the policy asks (``czar.agent_tools.service``), read back wherever
the request is shown, answered, or denied on its timeout. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Asked:
    tool: str = ""
    target: str = ""
    asked_at: float | None = None
    ask: int | None = None  # its ask's event: an answer names it, and decides only that request
    waiter: int | None = None  # the process whose call waits for the answer (gone: the call was cut)

    def dumps(self) -> str:
        said = {"tool": self.tool, "target": self.target, "asked_at": self.asked_at, "asked": self.ask}
        return json.dumps(said | {"waiter": self.waiter})

    @classmethod
    def read(cls, detail: str | None) -> Asked:
        """As far as ``detail`` says it (nothing of what is not there, or not of its kind)."""
        try:
            found = json.loads(detail or "{}")
        except ValueError:
            return cls()
        if not isinstance(found, dict):
            return cls()
        tool, target, at, ask, waiter = (found.get(k) for k in ("tool", "target", "asked_at", "asked", "waiter"))
        return cls(
            tool if isinstance(tool, str) else "",
            target if isinstance(target, str) else "",
            float(at) if isinstance(at, int | float) and not isinstance(at, bool) else None,
            ask if isinstance(ask, int) and not isinstance(ask, bool) else None,
            waiter if isinstance(waiter, int) and not isinstance(waiter, bool) else None,
        )

    def said(self) -> str:
        """For a person: what it asks to use, and on what."""
        target = self.target.replace("\n", " ↵ ")  # on one line, as a table's cell shows it
        return f"{self.tool}: {target}" if self.tool and target else self.tool or target

    def answered(self) -> dict[str, Any]:
        """What a decision on it records of it, as the policy's decisions name what they decide."""
        said: dict[str, Any] = {k: v for k, v in (("tool", self.tool), ("target", self.target)) if v}
        if self.ask is not None:
            said["asked"] = self.ask
        return said
