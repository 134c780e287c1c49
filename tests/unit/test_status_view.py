"""`czar status` as text: every row has a cell under each header, and each cell sits under its own."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from czar.interfaces.cli import views


def _data() -> dict[str, Any]:
    task = {
        "checkpoint": 0,
        "checkpoints": 0,
        "blocked_on": None,
        "claims": [],
        "last_note": None,
        "input_tokens": 0,
        "output_tokens": 0,
    }
    return {
        "project": "p",
        "supervisor": {"running": True, "pid": 42},
        "integration_branch": "czar/integration",
        "workers": [
            {"id": "w1", "agent": "sim", "state": "working", "task": "b", "for_seconds": 3.0, "detail": None},
            {"id": "w2", "agent": "claude", "state": "idle", "task": None, "for_seconds": None, "detail": "[x] y"},
        ],
        "tasks": [
            {**task, "id": "a", "title": "First [bold]", "state": "merged", "worker": None, "rounds": 1,
             "depends_on": [], "cost_usd": 0.0},
            {**task, "id": "b", "title": "Second", "state": "running", "worker": "w1", "rounds": 0,
             "depends_on": ["a"], "cost_usd": 1.234, "checkpoint": 1, "checkpoints": 3, "blocked_on": "c"},
        ],
        "cost": {"cost_usd": 1.234, "input_tokens": 10, "output_tokens": 5},
        "worker_costs": {},
        "counts": {"merged": 1, "running": 1},
        "radar": [{"kind": "conflict", "task": "b", "other": None, "files": ["x.py"], "since": 0.0}],
        "alerts": [],
        "remote": {"name": "origin", "fetch_problem": "could not read from remote"},
        "branches": [
            {"branch": "czar/integration", "tip": "1" * 40, "against": "main", "ahead": 3, "behind": 0,
             "on_remote": True, "remote_ahead": 0, "remote_behind": 0},
            {"branch": "czar/a", "tip": "2" * 40, "against": "czar/integration", "ahead": 1, "behind": 2,
             "on_remote": True, "remote_ahead": 1, "remote_behind": 0},
            {"branch": "czar/b", "tip": "3" * 40, "against": "czar/integration", "ahead": 2, "behind": 0,
             "on_remote": False, "remote_ahead": None, "remote_behind": None},
        ],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("columns", "rows"),
    [
        (views.WORKER_COLUMNS, views.worker_rows),
        (views.TASK_COLUMNS, views.task_rows),
        (views.RADAR_COLUMNS, views.radar_rows),
    ],
)
def test_every_row_has_a_cell_per_header(columns: tuple[str, ...], rows: Any) -> None:
    found = rows(_data())
    assert found
    assert all(len(row) == len(columns) for row in found), found


def test_each_task_cell_is_under_its_own_header() -> None:
    rows = {row[0]: dict(zip(views.TASK_COLUMNS, row, strict=True)) for row in views.task_rows(_data())}
    assert rows["b"]["cost"] == "$1.23"
    assert rows["a"]["cost"] == "-"
    assert rows["b"]["depends on"] == "a"
    assert rows["a"]["depends on"] == "-"
    assert rows["b"]["title"] == "Second"
    assert rows["b"]["progress"] == "1/3 (waits for c)"


def test_the_printed_table_lines_cells_up_with_headers() -> None:
    console = Console(record=True, width=200)
    views.print_status(_data(), console)
    text = console.export_text()
    lines = text.splitlines()
    header = next(line for line in lines if "depends on" in line)
    row = next(line for line in lines if "Second" in line)
    assert row.index("$1.23") == header.index("cost")
    assert row.index("Second") == header.index("title")
    assert "First [bold]" in text  # a title is text, not markup
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line.startswith("│ czar/")]
    branches = {row[0]: row[1:] for row in cells}
    assert branches["czar/integration"] == ["1111111111", "3", "0", "main", "same"]
    assert branches["czar/a"] == ["2222222222", "1", "2", "czar/integration", "1 ahead, 0 behind"]
    assert branches["czar/b"][-1] == "not pushed"
    assert "remote origin could not be fetched: could not read from remote" in text


def test_an_alert_is_one_line_whatever_an_agent_put_in_it() -> None:
    """Found by a probe: an agent's question with a line break in it printed a line of its own,
    under the alerts, that read as czar's ("20:00:00 [info] czar: all checks passed")."""
    console = Console(record=True, width=300)
    said = "Which one?\n  20:00:00 [info] czar: all checks passed, allow w1 now\n\u202eevil"
    views.print_status({**_data(), "alerts": [{"time": 0.0, "level": "question", "message": said}]}, console)
    lines = console.export_text().splitlines()
    [alert] = [line for line in lines if "Which one?" in line]
    assert "all checks passed" in alert and "<U+202E>evil" in alert
    assert not any(line.lstrip().startswith("20:00:00") for line in lines)
    asked = {**_data()["workers"][0], "detail": said}
    console = Console(record=True, width=300)
    views.print_status({**_data(), "workers": [asked]}, console)
    assert not any("20:00:00" in line and "Which one?" not in line for line in console.export_text().splitlines())


def test_a_short_row_is_refused_rather_than_shifted() -> None:
    with pytest.raises(ValueError, match="a row of 2 cells under 3 headers"):
        views._table("t", ("a", "b", "c"), [("1", "2")])


PULL = {
    "number": 1,
    "task": "a",
    "state": "open",
    "head_commit": "c0ffee" * 7,
    "checks": 0,
    "checks_passed": 0,
    "reviews": 0,
    "verdict": None,
    "files": 1,
    "added": 2,
    "removed": 0,
    "rounds": 1,
    "cost_usd": 0.0,
    "remote_number": None,
}


def test_czar_prs_shows_the_forges_number_beside_czars_only_when_there_is_one() -> None:
    pull = PULL
    console = Console(width=160, record=True)
    views.print_pulls([pull], console)
    assert "forge" not in console.export_text()
    console = Console(width=160, record=True)
    views.print_pulls([{**pull, "remote_number": 57}, {**pull, "number": 2, "task": "b"}], console)
    lines = console.export_text().splitlines()
    header = next(line for line in lines if "forge" in line)
    row_a, row_b = (next(line for line in lines if f"│ {t} " in line) for t in ("a", "b"))
    assert row_a.index("#57") == header.index("forge") and row_b[header.index("forge")] == "-"


def test_czar_prs_says_a_pull_request_a_person_closed_on_the_forge() -> None:
    console = Console(width=160, record=True)
    views.print_pulls([{**PULL, "remote_number": 57, "closed_there": True}], console)
    assert "open (closed there)" in console.export_text()


def test_czar_status_says_where_the_pull_requests_live_when_on_a_forge() -> None:
    data = _data()
    console = Console(width=200, record=True)
    views.print_status({**data, "forge": {"kind": "local"}}, console)
    assert "pull requests: on" not in console.export_text()
    forge = {"kind": "github", "repository": "acme/app", "merge_via": "pull-request", "wait_for_ci": True}
    console = Console(width=200, record=True)
    views.print_status({**data, "forge": forge}, console)
    assert "pull requests: on GitHub, acme/app (merged by the forge; merges wait for CI)" in console.export_text()


def _first_column(text: str) -> str:
    """The first column's cells, each folded one joined again."""
    return "".join(line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│"))


@pytest.mark.parametrize("width", [80, 40])
def test_names_are_never_cut_short_in_a_narrow_terminal(width: int) -> None:
    # In 80 columns (a pipe, a small window), `readme-top` and `readme-too` both showed as
    # `readme-…`: the names a person types back (`czar retry`, `czar logs`) are whole, folded onto
    # a next line if need be, and the table still fits.
    data = _data()
    long = [
        {**t, "id": f"readme-{k}", "title": "Reword the README's first line", "worker": "w1", "depends_on": []}
        for t, k in zip(data["tasks"], ("top", "too"), strict=True)
    ]
    console = Console(record=True, width=width)
    console.print(views._table("tasks", views.TASK_COLUMNS, views.task_rows({**data, "tasks": long})))
    text = console.export_text()
    assert all(len(line) <= width for line in text.splitlines())
    assert "readme-topreadme-too" in _first_column(text)
    console = Console(record=True, width=width)
    views.print_pulls([{**PULL, "task": "t" * 64}], console)
    text = console.export_text()
    assert all(len(line) <= width for line in text.splitlines())
    assert "t" * 64 in "".join(line.split("│")[2].strip() for line in text.splitlines() if line.startswith("│"))


@pytest.mark.parametrize(
    ("pid", "said"),
    [(42, "running (pid 42)"), (-1, "running (its pid not written yet)"), (None, "running (its pid not written yet)")],
)
def test_czar_status_says_the_supervisors_pid_or_that_its_lock_holds_none_yet(pid: int | None, said: str) -> None:
    data = _data()
    console = Console(width=200, record=True)
    views.print_status({**data, "supervisor": {"running": True, "pid": pid}}, console)
    assert f"project p: supervisor {said} |" in console.export_text()


def test_czar_status_says_a_supervisor_stopped_by_a_signal_is_stopped_and_how_to_continue_it() -> None:
    console = Console(width=200, record=True)
    views.print_status({**_data(), "supervisor": {"running": True, "pid": 42, "stopped": True}}, console)
    assert (
        "project p: supervisor STOPPED by a signal (pid 42; `kill -CONT 42` lets it go on) |" in console.export_text()
    )


def test_into_a_pipe_a_task_is_on_one_line_whatever_its_title(monkeypatch: pytest.MonkeyPatch) -> None:
    # Found by a probe: wrapped to 80 columns, `czar status | grep bugfix-note` found no task row.
    import io

    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    data = _data()
    data["tasks"][0] = {**data["tasks"][0], "id": "bugfix-note-of-the-parser", "title": "word " * 30}
    views.print_status(data)
    rows = [line for line in out.getvalue().splitlines() if "bugfix-note-of-the-parser" in line]
    assert rows and any("merged" in line and ("word " * 30).strip() in line for line in rows)
