"""`python -m czar hook ...` as czar writes it into an agent's settings is answered without the CLI;
any other shape of the command goes to the CLI, which says what is wrong with it."""

from __future__ import annotations

import pytest

from czar.agent_tools.hook import fast_call


@pytest.mark.parametrize(
    ("argv", "call"),
    [
        (["hook"], (None, False)),
        (["hook", "--agent", "gemini", "--deny-on-error"], ("gemini", True)),
        (["hook", "--deny-on-error", "--agent", "claude"], ("claude", True)),
        (["hook", "--agent", "claude"], ("claude", False)),
        (["hook", "--deny-on-error"], (None, True)),
    ],
)
def test_the_hooks_czar_writes_are_answered_without_the_cli(argv: list[str], call: tuple[str | None, bool]) -> None:
    assert fast_call(argv) == call


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["status"],
        ["hook", "--help"],
        ["hook", "--agent"],
        ["hook", "--agent", "--deny-on-error"],
        ["hook", "--agent", "a", "--agent", "b"],
        ["hook", "--deny-on-error", "--deny-on-error"],
        ["hook", "--agent=gemini"],
        ["hook", "extra"],
        ["report", "hook"],
    ],
)
def test_anything_else_goes_to_the_cli(argv: list[str]) -> None:
    assert fast_call(argv) is None
