"""The run's report: its figures in Markdown and in one HTML page whose charts are inline SVG,
drawn from data made by hand, and written from a real store."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from czar.core.events import EventKind
from czar.core.review import ReviewState
from czar.core.states import AttemptOutcome, TaskState
from czar.errors import CzarError
from czar.store.store import Store
from czar.supervisor import charts
from czar.supervisor.history import History, Span
from czar.supervisor.outcome import RunOutcome
from czar.supervisor.overview import Spend
from czar.supervisor.project import open_project
from czar.supervisor.report import ReportData, TaskLine, WorkerLine, render_html, render_markdown, write_report
from helpers import git, make_repo, sim_task, write_plan

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(1)</script>"


def _outcome(**changes: object) -> RunOutcome:
    made = RunOutcome(
        tasks_total=3,
        tasks_merged=2,
        tasks_failed=1,
        integration_tests_passed=True,
        interventions=2,
        wall_seconds=75.0,
        integration_branch="czar/integration",
        failed_tasks=["gamma"],
        duplication=0.125,
        cost_usd=1.75,
        prs_opened=3,
        omnibus=4,
        containment_ok=True,
        reviews=2,
        changes_requested=1,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def _data(title: str = "Count the words") -> ReportData:
    spans = [
        Span("w1", "alpha", 1000.0, 1030.0, "work", "merged"),
        Span("w2", "beta", 1002.0, 1050.0, "work", "merged"),
        Span("w1", "gamma", 1031.0, 1060.0, "work", "failed"),
        Span("w3", "alpha", 1030.5, 1033.0, "review", "approved"),
        Span("w3", "beta", 1050.5, 1052.0, "review", "changes_requested"),
    ]
    in_state = {
        "alpha": {"pending": 0.0, "ready": 0.5, "running": 29.5, "reviewing": 3.0},
        "beta": {"ready": 2.0, "running": 48.0, "reviewing": 1.5, "approved": 5.0},
        "gamma": {"pending": 31.0, "running": 29.0},
    }
    return ReportData(
        project="words",
        written_at=1100.0,
        outcome=_outcome(),
        history=History(1000.0, 1075.0, spans, in_state, []),
        tasks=(
            TaskLine("alpha", title, "merged", 0, 0.5, 1200, 300),
            TaskLine("beta", "Sentences", "merged", 1, 1.0, 2400, 600),
            TaskLine("gamma", "Readability", "failed", 3, 0.25, 600, 100),
        ),
        workers=(
            WorkerLine("w1", "claude", "author", 0.75, 1800, 400),
            WorkerLine("w2", "codex", "author", 1.0, 2400, 600),
            WorkerLine("w3", "claude", "reviewer", 0.0, 0, 0),
        ),
        tokens=Spend(1.75, 4200, 1000),
        acks_right=3,
        acks_wrong=1,
        interventions={str(EventKind.PERSON_TOLD): 1, str(EventKind.PERSON_RETRIED): 1},
        supervisor_decisions=38,
        detections={"silent": 2},
        repairs={"nudge": 1, "restart": 1},
        radar={"duplicate": 1},
    )


def _empty() -> ReportData:
    return ReportData(
        project="nothing",
        written_at=1100.0,
        outcome=_outcome(
            tasks_total=0, tasks_merged=0, tasks_failed=0, interventions=0, wall_seconds=0.0, failed_tasks=[],
            duplication=0.0, cost_usd=0.0, prs_opened=0, omnibus=None, containment_ok=None, reviews=0,
            changes_requested=0, integration_tests_passed=None,
        ),
        history=History(1100.0, 1100.0, [], {}, []),
        tasks=(),
        workers=(),
        tokens=Spend(),
        acks_right=0,
        acks_wrong=0,
        interventions={},
        supervisor_decisions=0,
        detections={},
        repairs={},
        radar={},
    )  # fmt: skip


def _svgs(html: str) -> dict[str, ET.Element]:
    """Each chart of the page, parsed as XML (a chart that is not well-formed fails here), by its title."""
    found = {}
    for svg in re.findall(r"<svg.*?</svg>", html, flags=re.DOTALL):
        root = ET.fromstring(svg)
        title = root.find(f"{SVG}title")
        assert title is not None and title.text
        found[title.text] = root
    return found


def _figures(markdown: str) -> dict[str, str]:
    section = markdown.split("## Figures", 1)[1].split("\n\n", 2)[1]
    rows = [line.strip("|").split("|") for line in section.splitlines()[2:]]
    return {name.strip(): value.strip() for name, value in rows}


def test_the_markdown_has_the_runs_figures() -> None:
    figures = _figures(render_markdown(_data()))
    assert figures["tasks"] == "3"
    assert figures["merged"] == "2"
    assert figures["failed"] == "1 (gamma)"
    assert figures["integration tests"] == "pass on czar/integration"
    assert figures["wall time"] == "1 min 15 s"
    assert figures["accuracy"] == "75% (3 of 4 deliveries)"
    assert figures["duplication"] == "12.5% of the lines added"
    assert figures["interventions"] == "2"
    assert figures["autonomy"] == "95.0% (38 supervisor decisions)"  # 1 - 2 / (2 + 38)
    assert figures["detections"] == "2"
    assert figures["repairs"] == "2"
    assert figures["radar findings"] == "1"
    assert figures["reviews"] == "2 (1 requested changes)"
    assert figures["pull requests"] == "3; omnibus #4 (containment proven)"
    assert figures["tokens"] == "4,200 in, 1,000 out"
    assert figures["cost"] == "$1.75"


def test_the_markdown_has_a_row_per_task_and_worker_and_says_what_autonomy_is() -> None:
    markdown = render_markdown(_data())
    assert "| alpha | Count the words | merged | 0 | 1,200 | 300 | $0.50 |" in markdown
    assert "| w2 | codex | author | 48.0 s | 2,400 | 600 | $1.00 |" in markdown
    assert "| person.retried | 1 |" in markdown
    assert "| silent | 2 |" in markdown
    assert "1 - interventions / (interventions + supervisor decisions)" in markdown


def test_the_html_page_has_the_same_figures_and_no_outside_files() -> None:
    html = render_html(_data())
    for value in ("75% (3 of 4 deliveries)", "95.0% (38 supervisor decisions)", "12.5% of the lines added", "$1.75"):
        assert value in html
    assert "<script" not in html and "src=" not in html and "href=" not in html
    assert html.count("Written ") == 1 and "the run began" in html


def test_each_chart_is_well_formed_svg_with_a_bar_per_span_task_and_worker() -> None:
    data = _data()
    found = _svgs(render_html(data))
    assert set(found) == {"timeline: workers' attempts and reviews", "time in each state", "cost per task",
                          "cost per worker"}  # fmt: skip
    bars = {title: root.findall(f".//{SVG}rect[@class='bar']") for title, root in found.items()}
    assert len(bars["timeline: workers' attempts and reviews"]) == len(data.history.spans)
    assert len(bars["cost per task"]) == len(data.tasks)
    assert len(bars["cost per worker"]) == len(data.workers)
    # A piece per state a task spent time in: alpha's pending took none.
    assert len(bars["time in each state"]) == sum(
        1 for s in data.history.time_in_state.values() for v in s.values() if v
    )
    hover = [t.text for t in found["timeline: workers' attempts and reviews"].iter(f"{SVG}title")]
    assert "w3: task beta, review (changes_requested), 50.5 s to 52.0 s" in hover


def test_the_timeline_places_each_bar_at_its_time() -> None:
    """The run's 75 s fill the plot: the first span starts at its left, and w1's last one, which
    ends at 60 s, four fifths of the way."""
    timeline = _svgs(render_html(_data()))["timeline: workers' attempts and reviews"]
    bars = timeline.findall(f".//{SVG}rect[@class='bar']")
    ends = [float(b.attrib["x"]) + float(b.attrib["width"]) for b in bars]
    plot = charts.WIDTH - charts.LABEL - charts.NOTE
    assert max(ends) == pytest.approx(charts.LABEL + plot * 60 / 75, abs=0.2)
    assert min(float(b.attrib["x"]) for b in bars) == pytest.approx(charts.LABEL)


def test_a_hostile_title_is_text_in_the_markdown_the_page_and_its_charts() -> None:
    data = _data(title=HOSTILE + " | x\x07")  # a bell: no XML may hold it
    data = replace(data, workers=(*data.workers, WorkerLine("<w9>&", "sim", "author", 0.5, 1, 1)))
    html = render_html(data)
    assert HOSTILE not in html and "<w9>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    hovers = [t.text or "" for root in _svgs(html).values() for t in root.iter(f"{SVG}title")]
    assert f"alpha: {HOSTILE} | x" in hovers  # the text itself, read back from the XML
    assert any(h.startswith("<w9>&") for h in hovers)
    markdown = render_markdown(data)
    assert HOSTILE not in markdown
    assert r"\<script\>alert(1)\</script\> \| x" in markdown  # one cell: the table keeps its columns


def test_an_empty_run_says_nothing_yet() -> None:
    data = _empty()
    html, markdown = render_html(data), render_markdown(data)
    found = _svgs(html)
    assert len(found) == 4
    for root in found.values():
        assert root.findall(f".//{SVG}rect") == []
        assert "nothing yet" in ET.tostring(root, encoding="unicode")
    figures = _figures(markdown)
    assert figures["accuracy"] == "-" and figures["autonomy"].startswith("-") and figures["cost"] == "$0.00"
    assert markdown.count("nothing yet") == 7  # every table but the figures


def test_costs_of_nothing_draw_no_bars() -> None:
    data = _data()
    free = replace(
        data,
        tasks=tuple(replace(t, cost_usd=0.0) for t in data.tasks),
        workers=tuple(replace(w, cost_usd=0.0) for w in data.workers),
    )
    found = _svgs(render_html(free))
    assert found["cost per task"].findall(f".//{SVG}rect") == []
    assert found["cost per worker"].findall(f".//{SVG}rect") == []


@pytest.mark.parametrize(("length", "ticks"), [(60.0, [0, 10, 20, 30, 40, 50, 60]), (0.3, [0, 0.05, 0.1, 0.15,
                         0.2, 0.25, 0.3]), (1.75, [0, 0.5, 1, 1.5]), (7.0, [0, 2, 4, 6])])  # fmt: skip
def test_ticks_are_round_and_within_the_axis(length: float, ticks: list[float]) -> None:
    assert charts.nice_ticks(length) == pytest.approx(ticks)


def test_write_report_writes_both_files_from_the_store(tmp_path: Path, czar_home: Path) -> None:
    git(make_repo(tmp_path / "repo"), "branch", "czar/integration", "main")
    project = open_project(write_plan(tmp_path, "report", [sim_task("a"), sim_task("b")], workers=2))
    project.sync_plan()
    attempts = {}
    with project.store.write() as conn:
        for tid, wid, cost in (("a", "w1", 0.25), ("b", "w2", 1.5)):
            attempts[tid] = attempt = Store.new_attempt(
                conn, task_id=tid, worker_id=wid, branch=f"czar/{tid}", worktree="/w", base_commit="0" * 40,
                prompt="p", prompt_sha256="d", after_launch=0,
            )  # fmt: skip
            Store.add_usage(
                conn, attempt, input_tokens=1000, output_tokens=200, cache_read_tokens=0, cache_write_tokens=0,
                cost_usd=cost,
            )  # fmt: skip
            Store.emit(conn, EventKind.AGENT_ACK, actor=wid, task=tid, worker=wid, attempt=attempt,
                       named=tid if tid == "a" else "a", confirmed=tid == "a")  # fmt: skip
            for state in (TaskState.READY, TaskState.ASSIGNED, TaskState.RUNNING):
                Store.move_task(conn, tid, state, reason="test")
        # A review runs as an attempt of the reviewer's; its span is the review's, once.
        looked = Store.new_attempt(
            conn, task_id="a", worker_id="w2", branch="", worktree="/r", base_commit="1" * 40, prompt="p",
            prompt_sha256="d", after_launch=0,
        )  # fmt: skip
        review = Store.new_review(conn, task_id="a", worker_id="w2", attempt_id=looked, agent="sim", commit="1" * 40)
        Store.set_review(conn, review, state=ReviewState.APPROVED)
        Store.emit(conn, EventKind.AGENT_ACK, actor="w2", task="a", worker="w2", attempt=looked, reviewing=True,
                   named="a", confirmed=False)  # fmt: skip
        done = Store.attempt(conn, attempts["a"]).started_at + 5
        Store.set_attempt(conn, attempts["a"], outcome=AttemptOutcome.MERGED, finished_at=done)
        Store.emit(conn, EventKind.HEALTH_DETECTED, task="b", worker="w2", problem="silent", evidence="quiet")
        Store.emit(conn, EventKind.HEALTH_NUDGE, task="b", worker="w2", problem="silent")
        Store.emit(conn, EventKind.PERSON_TOLD, actor="person", task="b", worker="w2", text="go on")
    out = tmp_path / "out"

    written = write_report(project, out)

    assert (written.markdown, written.html) == (out / "report.md", out / "report.html")
    markdown, html = written.markdown.read_text(), written.html.read_text()
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.md"]  # no temporary file left
    for text in (markdown, html):
        assert "$0.25" in text and "$1.50" in text and "$1.75" in text
        assert "task a" in text and "task b" in text
    figures = _figures(markdown)
    assert figures["accuracy"] == "50% (1 of 2 deliveries)"  # the reviewer's acknowledgement is not one
    assert (figures["detections"], figures["repairs"], figures["interventions"]) == ("1", "1", "1")
    assert figures["autonomy"] == "87.5% (7 supervisor decisions)"  # six moves and a nudge; one person
    assert "| person.told | 1 |" in markdown
    timeline = _svgs(html)["timeline: workers' attempts and reviews"]
    assert len(timeline.findall(f".//{SVG}rect[@class='bar']")) == 3  # two attempts and a review

    again = write_report(project)  # the project's own folder, each file replaced
    assert again.html == project.paths.root / "reports" / "report.html" and again.html.exists()


def test_a_project_with_no_run_yet_has_no_report(tmp_path: Path, czar_home: Path) -> None:
    make_repo(tmp_path / "repo")
    project = open_project(write_plan(tmp_path, "early", [sim_task("a")], workers=1))
    project.sync_plan()
    with pytest.raises(CzarError, match="no run to report on yet"):
        write_report(project, tmp_path / "out")
    assert not (tmp_path / "out").exists()
