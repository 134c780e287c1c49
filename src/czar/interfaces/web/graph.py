"""The plan's dependency graph as an SVG picture, each task coloured by its state.

Tasks stand in columns by depth (a task sits one column right of its deepest dependency), so
every edge points right; within a column, in the plan's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from czar.supervisor.overview import TaskRow

STATE_COLOURS = {
    "pending": "#d0d4da",
    "ready": "#a9cdf5",
    "assigned": "#6fa8ea",
    "running": "#3d85d8",
    "submitted": "#b59be6",
    "verifying": "#9a7ad9",
    "reviewing": "#8a63d2",
    "approved": "#5cc5b2",
    "merging": "#2fa893",
    "merged": "#3fae4f",
    "failed": "#e0524a",
    "cancelled": "#8a8f96",
}
NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 150, 34, 56, 14, 10


def columns(tasks: Sequence[TaskRow]) -> dict[str, int]:
    """Each task's column: 0 for a task with no dependency in the plan, else one more than its
    deepest dependency's (a cycle, which a plan cannot hold, would be cut, not looped)."""
    known = {t.id: t for t in tasks}
    col: dict[str, int] = {}

    def place(task_id: str, seen: frozenset[str]) -> int:
        if task_id in col:
            return col[task_id]
        deps = [d for d in known[task_id].depends_on if d in known and d not in seen]
        col[task_id] = 1 + max((place(d, seen | {task_id}) for d in deps), default=-1)
        return col[task_id]

    for t in tasks:
        place(t.id, frozenset())
    return col


def graph_svg(tasks: Sequence[TaskRow], link: str = "task/") -> str:
    """The whole picture: its layout (which only the plan's tasks and dependencies decide) with a
    node per task (``graph_node``, which also its state and title decide)."""
    if not tasks:
        return '<p class="empty">no tasks yet</p>'
    at, width, height = _layout(tasks)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="dependency graph">'
    ]
    for t in tasks:
        x2, y2 = at[t.id]
        for d in t.depends_on:
            if d in at:
                x1, y1 = at[d]
                parts.append(
                    f'<line x1="{x1 + NODE_W}" y1="{y1 + NODE_H // 2}" x2="{x2}" y2="{y2 + NODE_H // 2}" '
                    'stroke="#7a828c" stroke-width="1.2"/>'
                )
    parts.extend(graph_node(t, at[t.id], link) for t in tasks)
    parts.append("</svg>")
    return "".join(parts)


def graph_layout_key(tasks: Sequence[TaskRow]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """What the layout depends on: a page whose graph has the same key needs only its nodes
    replaced when states change (``graph_node`` for each), not the whole picture."""
    return tuple((t.id, tuple(t.depends_on)) for t in tasks)


def graph_positions(tasks: Sequence[TaskRow]) -> dict[str, tuple[int, int]]:
    """Where each task's node stands (``graph_node`` draws it there)."""
    return _layout(tasks)[0] if tasks else {}


def graph_node(t: TaskRow, at: tuple[int, int], link: str = "task/") -> str:
    """One task's node, keyed as the page finds it to replace it alone (``node:<task>``)."""
    x, y = at
    colour = STATE_COLOURS.get(t.state, "#ffffff")
    label = t.id if len(t.id) <= 18 else t.id[:17] + "…"
    return (
        f"<a href={quoteattr(link + t.id)} data-key={quoteattr('node:' + t.id)}>"
        f"<g class={quoteattr('node state-' + t.state)} data-task={quoteattr(t.id)}>"
        f"<title>{escape(f'{t.id}: {t.title} ({t.state})')}</title>"
        f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6" fill="{colour}" stroke="#333"/>'
        f'<text x="{x + 8}" y="{y + 14}" font-size="12" font-family="sans-serif">{escape(label)}</text>'
        f'<text x="{x + 8}" y="{y + 28}" font-size="10" font-family="sans-serif">{escape(t.state)}</text>'
        "</g></a>"
    )


def _layout(tasks: Sequence[TaskRow]) -> tuple[dict[str, tuple[int, int]], int, int]:
    """Where each task's node stands, and the picture's width and height."""
    col = columns(tasks)
    rows: dict[int, int] = {}
    at: dict[str, tuple[int, int]] = {}
    for t in tasks:
        c = col[t.id]
        at[t.id] = (PAD + c * (NODE_W + GAP_X), PAD + rows.get(c, 0) * (NODE_H + GAP_Y))
        rows[c] = rows.get(c, 0) + 1
    width = PAD * 2 + (max(col.values()) + 1) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + max(rows.values()) * (NODE_H + GAP_Y) - GAP_Y
    return at, width, height
