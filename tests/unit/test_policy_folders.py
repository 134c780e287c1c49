"""The folders the policy says a command may run in hold the one bash runs it in: ``cd``, ``cd -``
and failed folder changes, chained by ``;``, ``&&`` and ``||``, checked against bash itself on
real folders (only ``cd``, ``true``, ``false`` and ``pwd`` run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from czar.core.commands import Here, Judge
from czar.core.policy import Context
from czar.core.shell import parse

STEPS = [
    "cd a",
    "cd b",
    "cd ..",
    "cd -",
    "cd {root}/c",
    "cd nowhere",
    "true",
    "false",
    # what moves the shell, or only a process of its own, or sets where `cd -` goes
    "OLDPWD={root}/a/b",
    "export OLDPWD={root}/a",
    "bash -c 'cd a'",
    "env -C a true",
    "( cd b )",
    "command cd a",
    "time cd b",
    "source {root}/go.sh",
    "pushd a",
    "popd",
    "git -C - status",
]
JOINS = ["; ", " && ", " || "]


def _folders(tmp: Path) -> Path:
    root = tmp / "wt"
    for sub in ("a/b", "c", "a/a"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "go.sh").write_text(f"cd {root}/a/b\n")
    return root


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(JOINS), st.sampled_from(STEPS)), min_size=1, max_size=7), st.booleans())
def test_the_folders_czar_follows_hold_the_one_bash_ends_in(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, str]], known: bool
) -> None:
    root = _folders(tmp_path_factory.getbasetemp())
    script = (steps[0][1] + "".join(join + step for join, step in steps[1:])).replace("{root}", str(root))
    for says in ("cd -", "pushd a", "popd"):  # (they say where they went)
        script = script.replace(says, f"{says} >/dev/null 2>&1")
    # The folder before the script's: known (bash takes OLDPWD from its environment), or not.
    before = str(root / "c") if known else None
    run = subprocess.run(
        ["env", f"OLDPWD={before}" if before else "-uOLDPWD", "bash", "--norc", "-c", f"{script}; pwd"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    ended = run.stdout.strip().splitlines()[-1]
    ctx = Context(worktree=str(root), base_branch="main", branch="czar/a", integration_branch="czar/integration")
    _, after = Judge.of_script(ctx, parse(script), script).script(parse(script), frozenset({Here(str(root), before)}))
    if after is not None:  # czar may not know; when it says it does, it is right
        assert ended in {h.folder for h in after}, (script, after)
