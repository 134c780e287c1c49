"""What the dashboard's tables show of an ``Overview``: one row per worker, task, pull request,
alert and thing that needs you, each keyed by what it is, each cell plain text.

Every cell is a ``rich.text.Text``: titles, notes, questions and alerts come from plans and
agents, and a ``[bold]`` in them is text, not markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from czar.core.shown import visible
from czar.core.states import TaskState
from czar.supervisor.lock import supervisor_said
from czar.supervisor.overview import Overview, TaskRow

Row = tuple[str, tuple[Text, ...]]  # its key (stable while the thing lasts), then its cells

WORKER_COLUMNS = ("worker", "agent", "role", "state", "for", "task", "checkpoint", "branch", "seen", "tokens", "cost")
TASK_COLUMNS = ("task", "state", "worker", "rounds", "depends on", "cost", "PR", "title")
PULL_COLUMNS = ("PR", "task", "state", "checks", "reviews", "size", "rounds", "cost")
ALERT_COLUMNS = ("when", "level", "task", "worker", "message")
INBOX_COLUMNS = ("kind", "worker", "task", "keys", "since", "what")

KEY_OF_ACTION = {"allow": "y", "deny": "n", "answer": "r", "retry": "R", "cancel": "c"}

_STYLE = {
    "failed": "bold red",
    "crashed": "bold red",
    "stuck": "red",
    "critical": "bold red",
    "waiting_permission": "yellow",
    "permission": "yellow",
    "question": "yellow",
    "warning": "yellow",
    "blocked": "yellow",
    "rate_limited": "yellow",
    "model_unreachable": "yellow",
    "merged": "green",
    "working": "cyan",
    "running": "cyan",
}
# A person looks for what is stuck first, then what moves; what is over comes last.


def span(seconds: float) -> str:
    """A duration as a person reads it at a glance: 42s, 7m 05s, 3h 12m."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def ago(then: float | None, now: float) -> str:
    return "-" if then is None else f"{span(now - then)} ago"


def tokens(n: int) -> str:
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def dollars(cost: float) -> str:
    return f"${cost:.2f}" if cost else "-"


def one_line(text: str | None, at_most: int = 300) -> str:
    """Agents' and checks' text in a one-line cell: its lines joined, cut at ``at_most``."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= at_most else flat[: at_most - 1] + "…"


def _cells(*values: str | Text) -> tuple[Text, ...]:
    # Visible: agents' words, an escape sequence of which would act on your terminal.
    return tuple(v if isinstance(v, Text) else Text(visible(v)) for v in values)


def _marked(state: str) -> Text:
    """A state or level, coloured when it asks for a look."""
    return Text(state, style=_STYLE.get(state, ""))


def summary(o: Overview) -> Text:
    """The header line: the project, its supervisor, paused or not, tasks by state, its cost."""
    sup = o.supervisor
    parts = [
        f"project {o.project}",
        f"supervisor {supervisor_said(sup)}",
    ]
    if o.paused:
        parts.append("PAUSED (p resumes)")
    parts.append(", ".join(f"{n} {s}" for s, n in o.counts.items()) or "no tasks")
    cost = o.cost
    parts.append(f"cost ${cost.cost_usd:.2f} ({tokens(cost.input_tokens)} tokens in, {tokens(cost.output_tokens)} out)")
    return Text(" · ".join(parts))


def worker_rows(o: Overview, now: float) -> list[Row]:
    rows: list[Row] = []
    for w in o.workers:
        since = w.state_since  # the clock of the view says how long ago
        checkpoint = f"{w.checkpoint}/{w.checkpoints}" if w.checkpoints else "-"
        branch = f"+{w.ahead} -{w.behind}" if w.ahead is not None and w.behind is not None else "-"
        rows.append(
            (
                w.id,
                _cells(
                    w.id,
                    w.agent,
                    w.role,
                    _marked(w.state),
                    "-" if since is None else span(now - since),
                    w.task or "-",
                    checkpoint,
                    branch,
                    ago(w.last_seen, now),
                    f"{tokens(w.input_tokens)}/{tokens(w.output_tokens)}",
                    dollars(w.cost_usd),
                ),
            )
        )
    return rows


def task_rows(o: Overview, kept: dict[str, tuple[TaskRow, tuple[Text, ...]]] | None = None) -> list[Row]:
    """``kept``: the cells made at the last look, by task, reused for the tasks that did not change
    (of three hundred tasks a look changes a few, and making cells is most of a look)."""
    # What failed first (it needs a person), the rest in the plan's order: rows that move at each
    # change of state would make the table jump, and be filled again, a few times a second.
    ordered = sorted(enumerate(o.tasks), key=lambda it: (it[1].state != TaskState.FAILED, it[0]))
    kept = {} if kept is None else kept
    out: list[Row] = []
    for _, t in ordered:
        before = kept.get(t.id)
        if before is None or before[0] != t:
            before = kept[t.id] = (t, _task_cells(t))
        out.append((t.id, before[1]))
    return out


def _task_cells(t: TaskRow) -> tuple[Text, ...]:
    return _cells(
        t.id,
        _marked(t.state),
        t.worker or "-",
        str(t.rounds),
        ", ".join(t.depends_on) or "-",
        dollars(t.cost_usd),
        "-" if t.pull is None else f"#{t.pull}",
        one_line(t.title, 120),
    )


def pull_rows(o: Overview) -> list[Row]:
    return [(str(p["number"]), _pull_cells(p)) for p in o.pulls]


def _pull_cells(p: dict[str, Any]) -> tuple[Text, ...]:
    reviews = str(p["reviews"]) + (f" ({p['verdict']})" if p.get("verdict") else "")
    checks = f"{p['checks_passed']}/{p['checks']}" if p["checks"] else "-"
    return _cells(
        f"#{p['number']}",
        p["task"],
        _marked(p["state"] + (" (closed there)" if p.get("closed_there") else "")),
        checks,
        reviews,
        f"+{p.get('added', 0)} -{p.get('removed', 0)}",
        str(p.get("rounds", 0)),
        dollars(float(p.get("cost_usd") or 0.0)),
    )


def alert_rows(o: Overview, now: float) -> list[Row]:
    """Oldest first: the newest alert is the last row."""
    return [
        (
            str(a.id),
            _cells(ago(a.time, now), _marked(a.level or "-"), a.task or "-", a.worker or "-", one_line(a.message)),
        )
        for a in o.alerts
    ]


def inbox_rows(o: Overview, now: float) -> list[Row]:
    return [
        (
            n.key,
            _cells(
                _marked(n.kind),
                n.worker or "-",
                n.task or "-",
                keys(n.actions),
                ago(n.since, now),
                one_line(n.text),
            ),
        )
        for n in o.inbox
    ]


def keys(actions: Sequence[str]) -> str:
    return " ".join(f"{KEY_OF_ACTION[a]} {a}" for a in actions if a in KEY_OF_ACTION) or "-"
