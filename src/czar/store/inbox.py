"""Each worker host's inbox: commands it must carry out once, posted with the decision that made them."""

from __future__ import annotations

import json
import time

from sqlalchemy import Connection, insert, select, update

from czar.core import host_commands
from czar.core.host_commands import HostCommand, Posted, Unreadable
from czar.store.schema import inbox


class Inbox:
    @staticmethod
    def post(conn: Connection, worker_id: str, command: HostCommand) -> int:
        """Queue a command for one worker host, in the same transaction as the decision."""
        conn.info.setdefault("czar_workers", set()).add(worker_id)
        kind, payload = host_commands.encode(command)
        result = conn.execute(
            insert(inbox).values(worker_id=worker_id, kind=kind, payload=json.dumps(payload), created_at=time.time())
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    @staticmethod
    def queued(conn: Connection, worker_id: str) -> list[Posted]:
        """The commands waiting for one worker host, oldest first."""
        rows = conn.execute(
            select(inbox).where(inbox.c.worker_id == worker_id, inbox.c.done_at.is_(None)).order_by(inbox.c.id)
        ).all()
        return [Posted(r.id, r.worker_id, _decode(r.kind, r.payload)) for r in rows]

    @staticmethod
    def mark_done(conn: Connection, command_id: int) -> bool:
        """Record a command as carried out; False if it already was (a repeat to ignore)."""
        result = conn.execute(
            update(inbox).where(inbox.c.id == command_id, inbox.c.done_at.is_(None)).values(done_at=time.time())
        )
        return result.rowcount == 1

    @staticmethod
    def drop_queued(conn: Connection, worker_id: str) -> None:
        """Commands still queued for a worker's old attempt must not run later: mark them done."""
        conn.execute(
            update(inbox).where(inbox.c.worker_id == worker_id, inbox.c.done_at.is_(None)).values(done_at=time.time())
        )


def _decode(kind: str, payload: str) -> HostCommand | Unreadable:
    try:
        fields = json.loads(payload)
    except ValueError:
        return Unreadable(kind, "its fields are not JSON")
    return host_commands.decode(kind, fields)
