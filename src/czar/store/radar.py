"""What the conflict radar sees now, one row per finding; rows are replaced as branches move."""

from __future__ import annotations

import json

from sqlalchemy import Connection, delete, insert, select

from czar.core.findings import OVERLAPS
from czar.store.records import RadarRow
from czar.store.schema import radar


class RadarFindings:
    @staticmethod
    def radar_rows(conn: Connection) -> list[RadarRow]:
        rows = conn.execute(select(radar).order_by(radar.c.id)).all()
        return [RadarRow(r.id, r.kind, r.task_id, r.other, tuple(json.loads(r.files)), r.since) for r in rows]

    @staticmethod
    def add_radar_row(
        conn: Connection, kind: str, task_id: str, other: str | None, files: tuple[str, ...], since: float
    ) -> None:
        conn.execute(
            insert(radar).values(kind=kind, task_id=task_id, other=other, files=json.dumps(list(files)), since=since)
        )

    @staticmethod
    def drop_radar_row(conn: Connection, row_id: int) -> None:
        conn.execute(delete(radar).where(radar.c.id == row_id))

    @staticmethod
    def held_tasks(conn: Connection) -> dict[str, frozenset[str]]:
        """Tasks whose merge must wait: task -> the tasks it conflicts with or duplicates."""
        rows = conn.execute(
            select(radar.c.task_id, radar.c.other, radar.c.kind).where(radar.c.other.is_not(None))
        ).all()
        out: dict[str, frozenset[str]] = {}
        for r in rows:
            if r.kind in OVERLAPS:
                out[r.task_id] = out.get(r.task_id, frozenset()) | {r.other}
        return out
