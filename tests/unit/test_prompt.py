"""The prompt a worker's agent receives."""

from __future__ import annotations

from dataclasses import replace

from czar.core.prompt import PromptInput, render

BASE = PromptInput(
    project="demo",
    worker="w2",
    task_id="tokenizer",
    title="Write the tokenizer",
    body="Split text into words.\n\nKeep punctuation out.",
    branch="czar/tokenizer",
    integration_branch="czar/integration",
    scope=("src/pkg/tokenize.py", "tests/test_tokenize.py"),
    accept=("python -m pytest -q", "ruff check ."),
    subtasks=("write the module", "write the tests"),
    board=("w1: parser (running, 2 commits)", "w3: docs (verifying)"),
)


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_header_names_worker_project_task_and_branch() -> None:
    out = lines(render(BASE))
    assert "Task id: tokenizer" in out
    assert "Title: Write the tokenizer" in out
    assert any(line.startswith("Branch: czar/tokenizer ") for line in out)
    assert out[0].startswith("You are worker w2 in project demo")


def test_task_id_line_is_exact() -> None:
    # The sim agent and the worker host read the task id from this line.
    out = render(replace(BASE, task_id="A1_b-2"))
    assert "\nTask id: A1_b-2\n" in out


def test_body_is_included_whole() -> None:
    out = render(BASE)
    assert "Split text into words.\n\nKeep punctuation out.\n" in out


def test_a_long_body_is_included_whole() -> None:
    body = "".join(f"line {i:05d} " + "x" * 50 + "\n" for i in range(400))[:20_000]
    body = body[:-1] + "Z"  # a distinctive last character
    assert len(body) == 20_000
    out = render(replace(BASE, body=body))
    assert body in out
    assert len(out) > 20_000


def test_body_with_markdown_and_fences_is_not_altered() -> None:
    body = "## Heading\n\n```czar-sim\nwrite a.py <<EOF\nx = 1\nEOF\nfinish done\n```\n\n- item {braces} %s\n"
    assert body in render(replace(BASE, body=body))


def test_scope_is_listed() -> None:
    out = lines(render(BASE))
    assert "Change only paths matching:" in out
    assert "- src/pkg/tokenize.py" in out
    assert "- tests/test_tokenize.py" in out


def test_no_scope_says_so() -> None:
    out = render(replace(BASE, scope=()))
    assert "No scope was declared" in out
    assert "Change only paths matching:" not in out


def test_accept_commands_are_listed() -> None:
    out = lines(render(BASE))
    assert "  - `python -m pytest -q`" in out
    assert "  - `ruff check .`" in out


def test_no_accept_commands_leaves_the_list_out() -> None:
    out = render(replace(BASE, accept=()))
    assert "these commands pass" not in out
    assert "at least one commit" in out


def test_integration_branch_is_named() -> None:
    assert "czar then merges your branch into czar/integration" in render(BASE)


def test_checkpoints_are_numbered() -> None:
    out = lines(render(BASE))
    assert "1. write the module" in out
    assert "2. write the tests" in out
    assert "## Checkpoints" not in render(replace(BASE, subtasks=()))


def test_board_lines_are_present() -> None:
    out = lines(render(BASE))
    assert "- w1: parser (running, 2 commits)" in out
    assert "- w3: docs (verifying)" in out


def test_empty_board_says_nobody_else_works() -> None:
    assert "- nobody else is working" in lines(render(replace(BASE, board=())))


def test_previous_failure_is_included_when_given() -> None:
    failure = "FAILED tests/test_tokenize.py::test_words - assert [] == ['a']\n1 failed"
    out = render(replace(BASE, previous_failure=failure))
    assert "## An earlier attempt at this task failed" in out
    assert failure in out


def test_no_previous_failure_section_without_one() -> None:
    assert "earlier attempt" not in render(BASE)
    assert "earlier attempt" not in render(replace(BASE, previous_failure=""))


def test_sections_come_in_order() -> None:
    out = render(replace(BASE, previous_failure="boom"))
    marks = [
        "Task id:",
        "## The task",
        "## Checkpoints",
        "## Scope",
        "## Done means",
        "## The others right now",
        "boom",
    ]
    positions = [out.index(m) for m in marks]
    assert positions == sorted(positions)


def test_prompt_ends_with_one_newline() -> None:
    out = render(BASE)
    assert out.endswith("\n")
    assert not out.endswith("\n\n")
