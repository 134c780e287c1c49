"""The run's report (``czar report``, and the end of every ``czar run``): its figures, as Markdown
and as one self-contained HTML page with inline SVG charts.

``report_data`` reads the run from the store (and git, for duplication); the two renderers are
pure functions of what it returns, so a report can be drawn from data made by hand.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from czar.core.events import EventKind
from czar.core.findings import FindingKind
from czar.core.health import Repair, repaired
from czar.core.shown import in_page
from czar.core.states import TaskState
from czar.errors import CzarError
from czar.store.store import Event, Store
from czar.supervisor import charts
from czar.supervisor.charts import natural, seconds
from czar.supervisor.history import History, history
from czar.supervisor.outcome import RunOutcome, outcome
from czar.supervisor.overview import Spend, overview
from czar.supervisor.project import Project

PERSON = "person"  # the actor of every intervention (see czar.supervisor.people)
REPAIRS = {repaired(r): r.value for r in Repair}
RADAR = {k.event: k.value for k in FindingKind}

DEFINITIONS = (
    ("accuracy", "of the deliveries of a task to an agent (attempts), the share whose first acknowledgement named "
     "the task delivered; reviewers' acknowledgements are not counted."),
    ("duplication", "of the lines the tasks added, the share that was work done twice."),
    ("interventions", "what people did: each event a person caused (czar tell, retry, cancel, pause, resume, "
     "a permission a person decided, the run stopped or started by hand)."),
    ("autonomy", "the share of the run's decisions taken without a person: 1 - interventions / (interventions + "
     "supervisor decisions), where supervisor decisions are the tasks' state changes not made by a person, and "
     "the repairs."),
    ("detections and repairs", "the problems the health round found in a worker or its agent, and what it did "
     "about them (nudge, restart, correct, reassign, ...)."),
    ("radar findings", "two tasks changing the same lines (duplicate), branches that would not merge "
     "(conflict), a branch changing files outside its scope (scope)."),
)  # fmt: skip


@dataclass(frozen=True)
class TaskLine:
    id: str
    title: str
    state: str
    rounds: int
    cost_usd: float
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class WorkerLine:
    id: str
    agent: str
    role: str
    cost_usd: float
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class ReportData:
    project: str
    written_at: float
    outcome: RunOutcome
    history: History
    tasks: tuple[TaskLine, ...]
    workers: tuple[WorkerLine, ...]
    tokens: Spend
    acks_right: int  # deliveries whose first acknowledgement named the right task
    acks_wrong: int  # ... and another task, or none
    interventions: dict[str, int]  # by event kind
    supervisor_decisions: int  # tasks' state changes not made by a person, and repairs
    detections: dict[str, int]  # by problem
    repairs: dict[str, int]  # by repair
    radar: dict[str, int]  # by finding kind

    @property
    def accuracy(self) -> float | None:
        acks = self.acks_right + self.acks_wrong
        return self.acks_right / acks if acks else None

    @property
    def autonomy(self) -> float | None:
        people = sum(self.interventions.values())
        decisions = people + self.supervisor_decisions
        return 1 - people / decisions if decisions else None


@dataclass(frozen=True)
class Written:
    markdown: Path
    html: Path


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    numeric: frozenset[int] = frozenset()  # the columns of numbers (aligned right)


def write_report(project: Project, folder: Path | None = None, *, integration_ok: bool | None = None) -> Written:
    """The report as ``report.md`` and ``report.html`` in ``folder`` (the project's ``reports``
    folder by default), each replacing the last in one step: a reader never sees half of one."""
    data = report_data(project, integration_ok=integration_ok)
    folder = folder if folder is not None else project.paths.root / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    return Written(
        markdown=_replace(folder / "report.md", render_markdown(data)),
        html=_replace(folder / "report.html", render_html(data)),
    )


def report_line(project: Project, integration_ok: bool | None = None) -> str:
    """Write the report; one line that says where, or why not (the run is over whatever happens
    here, and `czar report` tries again)."""
    try:
        done = write_report(project, integration_ok=integration_ok)
    except (CzarError, OSError) as exc:
        return f"report not written: {exc}"
    return f"report: {done.markdown} and {done.html}"


def report_data(project: Project, *, integration_ok: bool | None = None, now: float | None = None) -> ReportData:
    """The figures of the run so far, read from its store and its repository."""
    integration = project.plan.project.integration_branch
    if not project.git.has_branch(integration):
        raise CzarError(f"no run to report on yet: the repository has no branch {integration} (`czar run` starts one)")
    now = time.time() if now is None else now
    result = outcome(project, integration_ok)
    seen = overview(project, git=False)
    with project.store.read() as conn:
        by_person = Store.count_events_of_kinds(conn, actor=PERSON)
        # The tasks a person's act moved are its consequences, not more acts (as RunOutcome counts).
        person_moves = by_person.pop(EventKind.TASK_STATE, 0)
        moves = Store.count_events_of_kinds(conn, (EventKind.TASK_STATE,)).get(EventKind.TASK_STATE, 0)
        repairs = Store.count_events_of_kinds(conn, tuple(REPAIRS))
        radar = Store.count_events_of_kinds(conn, tuple(RADAR))
    right, wrong = _first_acks(project.store.all_events_after(0, (EventKind.AGENT_ACK,)))
    detected = Counter(
        str(e.payload.get("problem")) for e in project.store.all_events_after(0, (EventKind.HEALTH_DETECTED,))
    )
    workers = {
        w.id: WorkerLine(w.id, w.agent, w.role, w.cost_usd, w.input_tokens, w.output_tokens) for w in seen.workers
    }
    for wid, spent in seen.worker_costs.items():  # a worker no longer in the plan still cost what it cost
        workers.setdefault(wid, WorkerLine(wid, "-", "-", spent.cost_usd, spent.input_tokens, spent.output_tokens))
    return ReportData(
        project=seen.project,
        written_at=now,
        outcome=result,
        history=history(project, now),
        tasks=tuple(
            TaskLine(t.id, t.title, t.state, t.rounds, t.cost_usd, t.input_tokens, t.output_tokens) for t in seen.tasks
        ),
        workers=tuple(sorted(workers.values(), key=lambda w: natural(w.id))),
        tokens=seen.cost,
        acks_right=right,
        acks_wrong=wrong,
        interventions=by_person,
        supervisor_decisions=moves - person_moves + sum(repairs.values()),
        detections=dict(detected),
        repairs={REPAIRS[EventKind(k)]: n for k, n in repairs.items()},
        radar={RADAR[EventKind(k)]: n for k, n in radar.items()},
    )


def _first_acks(acks: list[Event]) -> tuple[int, int]:
    """Of each delivery's first acknowledgement (reviewers' set aside): how many named the right
    task, and how many did not."""
    first: dict[int | str, bool] = {}
    for e in acks:
        if e.payload.get("reviewing"):
            continue
        key = e.attempt_id if e.attempt_id is not None else f"event {e.id}"
        first.setdefault(key, bool(e.payload.get("confirmed")))
    return sum(first.values()), sum(not ok for ok in first.values())


# -- what both renderings show -------------------------------------------------------------------


def dollars(value: float) -> str:
    return f"${value:.4f}" if 0 < value < 0.01 else f"${value:,.2f}"


def share(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def figures(data: ReportData) -> list[tuple[str, str]]:
    """The run in one table: (figure, value)."""
    o = data.outcome
    acks = data.acks_right + data.acks_wrong
    people = sum(data.interventions.values())
    omnibus = (
        f"; omnibus #{o.omnibus} (containment {'proven' if o.containment_ok else 'NOT proven'})"
        if o.omnibus is not None
        else ""
    )
    return [
        ("tasks", str(o.tasks_total)),
        ("merged", str(o.tasks_merged)),
        ("failed", str(o.tasks_failed) + (f" ({', '.join(o.failed_tasks)})" if o.failed_tasks else "")),
        ("integration tests", f"{_integration(o.integration_tests_passed)} on {o.integration_branch}"),
        ("wall time", seconds(o.wall_seconds)),
        ("accuracy", share(data.accuracy) + (f" ({data.acks_right} of {acks} deliveries)" if acks else "")),
        ("duplication", f"{o.duplication:.1%} of the lines added"),
        ("interventions", str(people)),
        ("autonomy", _autonomy(data)),
        ("detections", str(sum(data.detections.values()))),
        ("repairs", str(sum(data.repairs.values()))),
        ("radar findings", str(sum(data.radar.values()))),
        ("reviews", f"{o.reviews} ({o.changes_requested} requested changes)"),
        ("pull requests", f"{o.prs_opened}{omnibus}"),
        ("tokens", f"{data.tokens.input_tokens:,} in, {data.tokens.output_tokens:,} out"),
        ("cost", dollars(o.cost_usd)),
    ]


def _autonomy(data: ReportData) -> str:
    if data.autonomy is None:
        return "-"  # no decision taken yet, by anybody
    return f"{data.autonomy:.1%} ({data.supervisor_decisions} supervisor decisions)"


def _integration(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "not checked"}[passed]


def tables(data: ReportData) -> list[Table]:
    return [
        _task_table(data),
        _worker_table(data),
        _state_table(data),
        _counts("Interventions", "event", data.interventions),
        _counts("Detections", "problem", data.detections),
        _counts("Repairs", "repair", data.repairs),
        _counts("Radar findings", "finding", data.radar),
    ]


def _task_table(data: ReportData) -> Table:
    rows = [
        (t.id, t.title, t.state, str(t.rounds), f"{t.input_tokens:,}", f"{t.output_tokens:,}", dollars(t.cost_usd))
        for t in data.tasks
    ]
    headers = ("task", "title", "state", "rounds", "input tokens", "output tokens", "cost")
    return Table("Tasks", headers, rows, frozenset({3, 4, 5, 6}))


def _worker_table(data: ReportData) -> Table:
    busy: dict[str, float] = {}
    for s in data.history.spans:
        busy[s.worker] = busy.get(s.worker, 0.0) + max(0.0, s.end - s.start)
    rows = [
        (w.id, w.agent, w.role, seconds(busy.get(w.id, 0.0)), f"{w.input_tokens:,}", f"{w.output_tokens:,}",
         dollars(w.cost_usd))
        for w in data.workers
    ]  # fmt: skip
    headers = ("worker", "agent", "role", "busy", "input tokens", "output tokens", "cost")
    return Table("Workers", headers, rows, frozenset({3, 4, 5, 6}))


def _state_table(data: ReportData) -> Table:
    states = _states_seen(data)
    spent = data.history.time_in_state
    rows = [(task, *(seconds(spent.get(task, {}).get(s, 0.0)) for s in states)) for task in _task_ids(data)]
    return Table("Time in each state, per task", ("task", *states), rows, frozenset(range(1, len(states) + 1)))


def _counts(title: str, what: str, counts: dict[str, int]) -> Table:
    return Table(title, (what, "count"), [(k, str(n)) for k, n in sorted(counts.items())], frozenset({1}))


def _task_ids(data: ReportData) -> list[str]:
    return list(dict.fromkeys([*(t.id for t in data.tasks), *data.history.time_in_state]))


def _states_seen(data: ReportData) -> list[str]:
    """The states any task spent time in, in the order a task goes through them."""
    seen = {s for spent in data.history.time_in_state.values() for s, v in spent.items() if v > 0}
    order = [s.value for s in TaskState]
    return sorted(seen, key=lambda s: order.index(s) if s in order else len(order))


# -- the charts ----------------------------------------------------------------------------------

STATE_COLOURS = {
    TaskState.PENDING.value: "#bab0ac",
    TaskState.READY.value: "#d4a6c8",
    TaskState.ASSIGNED.value: "#9c755f",
    TaskState.RUNNING.value: "#4e79a7",
    TaskState.SUBMITTED.value: "#a0cbe8",
    TaskState.VERIFYING.value: "#edc948",
    TaskState.REVIEWING.value: "#b07aa1",
    TaskState.APPROVED.value: "#8cd17d",
    TaskState.MERGING.value: "#59a14f",
    TaskState.FAILED.value: "#e15759",
}


def states_chart(data: ReportData) -> str:
    """One row per task: the time it spent in each state, stacked."""
    rows, states = [], _states_seen(data)
    for task in _task_ids(data):
        spent = data.history.time_in_state.get(task, {})
        pieces, at = [], 0.0
        for state in states:
            if spent.get(state, 0.0) > 0:
                pieces.append(charts.Piece(at, at + spent[state], state, f"{task}: {state} {seconds(spent[state])}"))
                at += spent[state]
        rows.append(charts.Row(task, tuple(pieces), seconds(at), _titled(data, task)))
    return charts.chart("time in each state", rows, colours=STATE_COLOURS, tick=charts.tick_seconds)


def cost_chart(title: str, costs: list[tuple[str, float, str]]) -> str:
    """One bar per (name, cost, hover text); nothing to draw while nothing cost anything."""
    rows = [
        charts.Row(name, (charts.Piece(0.0, cost, "cost", f"{hover}: {dollars(cost)}"),), dollars(cost), hover)
        for name, cost, hover in costs
    ]
    return charts.chart(title, rows, tick=lambda v: f"${v:g}")


def _titled(data: ReportData, task: str) -> str:
    title = next((t.title for t in data.tasks if t.id == task), "")
    return f"{task}: {title}" if title else task


def all_charts(data: ReportData) -> dict[str, str]:
    return {
        "Timeline": charts.timeline_svg(data.history),
        "Time in each state": states_chart(data),
        "Cost per task": cost_chart("cost per task", [(t.id, t.cost_usd, _titled(data, t.id)) for t in data.tasks]),
        "Cost per worker": cost_chart(
            "cost per worker", [(w.id, w.cost_usd, f"{w.id} ({w.agent})") for w in data.workers]
        ),
    }


# -- Markdown and HTML ---------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


def cell(value: str) -> str:
    """``value`` as Markdown text in a table's cell: one line, nothing in it read as markup."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(value.split())) or " "


def render_markdown(data: ReportData) -> str:
    out = [f"# Run report: {cell(data.project)}", "", cell(written(data)), "", "## Figures", ""]
    out += _markdown_table(Table("", ("figure", "value"), figures(data)))
    out += ["", *(f"- **{term}**: {cell(text)}" for term, text in DEFINITIONS)]
    for table in tables(data):
        out += ["", f"## {table.title}", ""]
        out += _markdown_table(table) if table.rows else [charts.EMPTY]
    return "\n".join(out) + "\n"


def _markdown_table(table: Table) -> list[str]:
    align = ("---:" if i in table.numeric else "---" for i in range(len(table.headers)))
    return [
        "| " + " | ".join(cell(h) for h in table.headers) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(cell(v) for v in row) + " |" for row in table.rows),
    ]


_PAGES = Environment(
    loader=PackageLoader("czar.supervisor", "templates"),
    autoescape=True,  # every text in a report comes from plans and agents
    finalize=in_page,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(data: ReportData) -> str:
    """One page, its style and charts inline: it opens anywhere, with nothing else."""
    return _PAGES.get_template("report.html").render(
        project=data.project,
        written=written(data),
        figures=figures(data),
        definitions=DEFINITIONS,
        # Safe to put in as they are: charts escapes every text it draws.
        charts={title: Markup(svg) for title, svg in all_charts(data).items()},
        tables=tables(data),
        empty=charts.EMPTY,
    )


def written(data: ReportData) -> str:
    began = f"; the run began {_when(data.history.start)}" if data.tasks or data.history.spans else ""
    return f"Written {_when(data.written_at)}{began}."


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _replace(path: Path, content: str) -> Path:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
