"""Loading a plan: one precise line per problem, and the right defaults for a good plan."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from czar.errors import PlanError
from czar.plan.load import load_plan

PROJECT = """\
[project]
name = "demo"
"""


def write_plan(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "czar.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    """The lines of the PlanError that loading ``text`` raises, without the path prefix."""
    path = write_plan(tmp_path, text)
    with pytest.raises(PlanError) as info:
        load_plan(path)
    lines = str(info.value).splitlines()
    prefix = f"{path}: "
    assert all(line.startswith(prefix) for line in lines), lines
    return [line.removeprefix(prefix) for line in lines]


def only_problem(tmp_path: Path, text: str) -> str:
    lines = problems(tmp_path, text)
    assert len(lines) == 1, lines
    return lines[0]


# -- a good plan ---------------------------------------------------------------------------


def test_good_plan_loads_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "b.md").write_text("Task B from a file.\n\nSecond paragraph.\n", encoding="utf-8")
    plan = load_plan(
        write_plan(
            tmp_path,
            """\
            [project]
            name = "demo"
            accept = ["python -m pytest -q"]

            [workers]
            agents = { claude = 2, codex = 1 }

            [[tasks]]
            id = "c"
            body = "Task C."
            depends_on = ["a", "b"]
            accept = ["make check"]
            agent = "codex"
            priority = 2

            [[tasks]]
            id = "b"
            title = "Bee"
            body_file = "b.md"
            depends_on = ["a"]
            scope = ["src/b/", "tests/test_b.py"]

            [[tasks]]
            id = "a"
            body = "Task A."
            after = ["b"]
            """,
        )
    )
    assert [t.id for t in plan.tasks] == ["c", "b", "a"]  # the plan's own order is kept
    a, b, c = plan.task("a"), plan.task("b"), plan.task("c")
    # order is topological
    assert (a.order, b.order, c.order) == (0, 1, 2)
    # accept falls back to the project's; with workers of several kinds, a task without an agent
    # may go to any of them
    assert a.accept == ("python -m pytest -q",)
    assert c.accept == ("make check",)
    assert a.agent == "*"
    assert c.agent == "codex"
    assert plan.worker_kinds == {"w1": "claude", "w2": "claude", "w3": "codex"}
    # other defaults and fields
    assert a.title == "a"
    assert b.title == "Bee"
    assert b.body == "Task B from a file.\n\nSecond paragraph.\n"
    assert b.scope == ("src/b/", "tests/test_b.py")
    assert a.scope == ()
    assert a.after == ("b",)
    assert c.depends_on == ("a", "b")
    assert a.priority == 0
    assert c.priority == 2
    assert a.skills == () and a.subtasks == ()
    assert plan.workers.count == 3
    assert plan.project.name == "demo"
    assert plan.project.integration_branch == "czar/integration"
    assert plan.project.max_rounds == 3
    assert plan.repo == tmp_path.resolve()
    with pytest.raises(KeyError):
        plan.task("zzz")


def test_minimal_plan_uses_schema_defaults(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path, PROJECT + '[[tasks]]\nid = "only"\nbody = "Do it."\n'))
    (t,) = plan.tasks
    assert t.accept == ()
    assert t.agent == "sim"
    assert t.order == 0
    assert plan.workers.count == 2
    assert plan.project.base_branch == "main"


def test_explicit_empty_accept_overrides_the_projects(tmp_path: Path) -> None:
    plan = load_plan(
        write_plan(
            tmp_path,
            '[project]\nname = "demo"\naccept = ["make"]\n[[tasks]]\nid = "a"\nbody = "x"\naccept = []\n',
        )
    )
    assert plan.task("a").accept == ()


def test_body_file_text_becomes_the_body(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    text = "# Heading\n\n" + "line with ünïcode and `code`\n" * 500
    (tmp_path / "tasks" / "a.md").write_text(text, encoding="utf-8")
    plan = load_plan(write_plan(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody_file = "tasks/a.md"\n'))
    assert plan.task("a").body == text


def test_a_path_the_system_cannot_take_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    # Found by a helper's fuzzing: a NUL, or a name longer than the system allows, raised from
    # the path's resolution.
    body = '[[tasks]]\nid = "a"\nbody_file = "{}"\n'
    assert "a path cannot hold a NUL character" in only_problem(tmp_path, PROJECT + body.format("a\\u0000b"))
    assert "longer than 255 bytes" in only_problem(tmp_path, PROJECT + body.format("x" * 300))
    repo = PROJECT + 'repo = "{}"\n[[tasks]]\nid = "a"\nbody = "do a"\n'
    assert "a path cannot hold a NUL character" in only_problem(tmp_path, repo.format("r\\u0000"))
    assert "longer than 255 bytes" in only_problem(tmp_path, repo.format("sub/" + "r" * 256))
    assert load_plan(write_plan(tmp_path, repo.format("sub/" + "r" * 255))).repo.name == "r" * 255


def test_a_title_is_one_line_with_no_control_characters(tmp_path: Path) -> None:
    # Found by fuzzing: an escape sequence in a title passed, and `czar status` printed it raw.
    task = '[[tasks]]\nid = "a"\nbody = "do a"\ntitle = "{}"\n'
    for bad in ("t\\u001b]0;PWNED\\u0007", "two\\nlines", "nul\\u0000"):
        assert "no control characters" in only_problem(tmp_path, PROJECT + task.format(bad)), bad
    assert load_plan(write_plan(tmp_path, PROJECT + task.format("ünïcode — fine"))).task("a").title == "ünïcode — fine"


def test_rounds_are_bounded(tmp_path: Path) -> None:
    # Found by fuzzing: a huge max_rounds was taken, and a task that never commits went round
    # 1,220 times in a minute.
    task = '[[tasks]]\nid = "a"\nbody = "do a"\n'
    assert "less than or equal to 100" in only_problem(tmp_path, PROJECT + "max_rounds = 99999999999\n" + task)


def test_task_id_alphabet_accepts_dashes_and_underscores(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path, PROJECT + '[[tasks]]\nid = "A1_b-2"\nbody = "x"\n'))
    assert plan.tasks[0].id == "A1_b-2"


# -- one line per problem ------------------------------------------------------------------


def test_missing_plan_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value) == f"{path}: no such plan file (create one with `czar init`)"
    assert info.value.exit_code == 2


def test_a_plan_that_is_no_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    # A named pipe waited for a writer and /dev/zero was read until memory ran out.
    os.mkfifo(tmp_path / "pipe.toml")
    (tmp_path / "folder.toml").mkdir()
    for path, kind in (
        (tmp_path / "pipe.toml", "named pipe"),
        (tmp_path / "folder.toml", "folder"),
        (Path("/dev/zero"), "device"),
    ):
        with pytest.raises(PlanError) as info:
            load_plan(path)
        assert str(info.value) == f"{path}: not a plan file (a {kind})"
        assert info.value.exit_code == 2
    (tmp_path / "link.toml").symlink_to(write_plan(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody = "x"\n'))
    assert load_plan(tmp_path / "link.toml").tasks[0].id == "a"  # a link to a file is that file


def test_workers_of_a_kind_as_keys_of_workers_say_how_they_are_written(tmp_path: Path) -> None:
    plan = PROJECT + '[workers]\ncodex = 1\nlimit = 2\n[[tasks]]\nid = "a"\nbody = "x"\n'
    assert problems(tmp_path, plan) == [
        "workers: unknown key 'codex' (workers of several kinds: agents = { codex = 1, ... })",
        "workers: unknown key 'limit'",
    ]


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    line = only_problem(tmp_path, PROJECT + "[[tasks]]\nid = \nbody = 'x'\n")
    assert line.startswith("TOML syntax:")
    assert "line 4" in line


def test_unknown_key_in_project(tmp_path: Path) -> None:
    line = only_problem(tmp_path, '[project]\nname = "demo"\nnmae = "x"\n[[tasks]]\nid = "a"\nbody = "x"\n')
    assert line == "project: unknown key 'nmae'"


def test_unknown_key_in_a_task(tmp_path: Path) -> None:
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody = "x"\ndepends = ["b"]\n')
    assert line == "task 'a': unknown key 'depends'"


def test_unknown_top_level_table(tmp_path: Path) -> None:
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody = "x"\n[extra]\nx = 1\n')
    assert line == "plan: unknown key 'extra'"


def test_missing_project(tmp_path: Path) -> None:
    assert only_problem(tmp_path, '[[tasks]]\nid = "a"\nbody = "x"\n') == "project: required but missing"


def test_no_tasks(tmp_path: Path) -> None:
    line = only_problem(tmp_path, "tasks = []\n" + PROJECT)
    assert line.startswith("tasks:")
    assert "at least 1" in line


def test_missing_id(tmp_path: Path) -> None:
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody = "x"\n[[tasks]]\nbody = "y"\n')
    assert line == "task #2: id: required but missing"


@pytest.mark.parametrize("bad", ["has space", "-leading-dash", "dot.ted", "slash/y", "é", "x" * 65, ""])
def test_bad_task_id_characters(tmp_path: Path, bad: str) -> None:
    line = only_problem(tmp_path, PROJECT + f'[[tasks]]\nid = "{bad}"\nbody = "x"\n')
    assert line.endswith("id: must be letters, digits, '-' or '_' (at most 64), starting with a letter or digit")
    assert line.startswith(f"task {bad!r}: ")


def test_bad_project_name(tmp_path: Path) -> None:
    line = only_problem(tmp_path, '[project]\nname = "my project"\n[[tasks]]\nid = "a"\nbody = "x"\n')
    assert line.startswith("project.name: must be letters, digits")


def test_an_id_or_a_name_ending_in_a_line_break_is_refused(tmp_path: Path) -> None:
    """Found by a probe: "abc\\n" passed ("$" matches before a last line break); its branch
    could not be made, and the run tried it for ever; a project so named left a tmux server
    behind that `czar down` did not find."""
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "abc\\n"\nbody = "x"\n')
    assert line.startswith("task 'abc\\n': id: must be letters, digits")
    line = only_problem(tmp_path, '[project]\nname = "p\\n"\n[[tasks]]\nid = "a"\nbody = "x"\n')
    assert line.startswith("project.name: must be letters, digits")


def test_duplicate_id(tmp_path: Path) -> None:
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody = "x"\n[[tasks]]\nid = "a"\nbody = "y"\n')
    assert line == "task 'a': duplicate id"


def test_unknown_dependency_in_depends_on(tmp_path: Path) -> None:
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody = "x"\ndepends_on = ["ghost"]\n')
    assert line == "task 'a': depends_on names unknown task 'ghost'"


def test_unknown_dependency_in_after(tmp_path: Path) -> None:
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody = "x"\nafter = ["ghost"]\n')
    assert line == "task 'a': after names unknown task 'ghost'"


def test_dependency_cycle_is_shown(tmp_path: Path) -> None:
    text = PROJECT + textwrap.dedent(
        """\
        [[tasks]]
        id = "a"
        body = "x"
        depends_on = ["b"]
        [[tasks]]
        id = "b"
        body = "y"
        depends_on = ["a"]
        [[tasks]]
        id = "c"
        body = "z"
        depends_on = ["a"]
        """
    )
    assert only_problem(tmp_path, text) == "dependency cycle: a -> b -> a"


def test_longer_dependency_cycle_is_shown(tmp_path: Path) -> None:
    text = PROJECT
    for tid, dep in [("a", "c"), ("b", "a"), ("c", "b")]:
        text += f'[[tasks]]\nid = "{tid}"\nbody = "x"\ndepends_on = ["{dep}"]\n'
    assert only_problem(tmp_path, text) == "dependency cycle: a -> c -> b -> a"


def test_self_dependency(tmp_path: Path) -> None:
    lines = problems(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody = "x"\ndepends_on = ["a"]\n')
    assert "task 'a': depends on itself" in lines


def test_soft_dependencies_do_not_make_a_cycle(tmp_path: Path) -> None:
    text = PROJECT + '[[tasks]]\nid = "a"\nbody = "x"\nafter = ["b"]\n[[tasks]]\nid = "b"\nbody = "y"\nafter = ["a"]\n'
    assert len(load_plan(write_plan(tmp_path, text)).tasks) == 2


@pytest.mark.parametrize("body", ['""', '"   \\n\\t "'])
def test_empty_body(tmp_path: Path, body: str) -> None:
    line = only_problem(tmp_path, PROJECT + f'[[tasks]]\nid = "a"\nbody = {body}\n')
    assert line == "task 'a': body is empty; the agent would get no instructions"


def test_no_body_at_all(tmp_path: Path) -> None:
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "a"\n')
    assert line == "task 'a': body is empty; the agent would get no instructions"


def test_empty_body_file(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("\n\n", encoding="utf-8")
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody_file = "a.md"\n')
    assert line == "task 'a': body is empty; the agent would get no instructions"


def test_body_file_that_does_not_exist(tmp_path: Path) -> None:
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody_file = "missing.md"\n')
    assert line == "task 'a': body_file 'missing.md' cannot be read: FileNotFoundError"


def test_body_and_body_file_together(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("text\n", encoding="utf-8")
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody = "x"\nbody_file = "a.md"\n')
    assert line == "task 'a': give body or body_file, not both"


@pytest.mark.parametrize(
    ("glob", "why"),
    [
        ("/abs/path", "is absolute; scope paths are relative to the repository root"),
        ("../up", "leaves the repository with '..'"),
        ("src/[ab", "has an unclosed '['"),
        ("src/**.py", "uses '**' inside a name; '**' must be a whole path segment"),
    ],
)
def test_invalid_glob(tmp_path: Path, glob: str, why: str) -> None:
    line = only_problem(tmp_path, PROJECT + f'[[tasks]]\nid = "a"\nbody = "x"\nscope = ["src/", "{glob}"]\n')
    assert line == f"task 'a': scope: glob {glob!r} {why}"


def test_unknown_agent_kind_in_a_task(tmp_path: Path) -> None:
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody = "x"\nagent = "gpt"\n')
    assert line.startswith("task 'a': agent: 'gpt' is not one of: ")
    for kind in ("sim", "claude", "codex", "gemini", "aider"):
        assert repr(kind) in line


def test_unknown_agent_kind_in_workers(tmp_path: Path) -> None:
    line = only_problem(tmp_path, PROJECT + '[workers]\nagent = "gpt"\n[[tasks]]\nid = "a"\nbody = "x"\n')
    assert line.startswith("workers.agent: 'gpt' is not one of: ")


def test_wrong_type(tmp_path: Path) -> None:
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody = "x"\npriority = "high"\n')
    assert line.startswith("task 'a': priority: ")


def test_accept_command_that_cannot_be_split(tmp_path: Path) -> None:
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody = "x"\naccept = ["echo \'oops"]\n')
    assert line.startswith("task 'a': accept command \"echo 'oops\" cannot be split into words:")


def test_empty_project_accept_command(tmp_path: Path) -> None:
    line = only_problem(tmp_path, '[project]\nname = "demo"\naccept = [" "]\n[[tasks]]\nid = "a"\nbody = "x"\n')
    assert line == "project: accept command is empty"


def test_lint_commands_are_looked_at_as_accept_commands_are(tmp_path: Path) -> None:
    # Before, one that cannot be split passed, and its first use failed every verification.
    text = '[project]\nname = "demo"\nlint = ["ruff \'check"]\n[[tasks]]\nid = "a"\nbody = "x"\n'
    line = only_problem(tmp_path, text)
    assert line.startswith('project: lint command "ruff \'check" cannot be split into words:')
    line = only_problem(tmp_path, '[project]\nname = "demo"\nlint = [""]\n[[tasks]]\nid = "a"\nbody = "x"\n')
    assert line == "project: lint command is empty"


# -- several problems, several lines -------------------------------------------------------


def test_several_schema_problems_give_several_lines(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        [project]
        name = "demo"
        colour = "blue"

        [[tasks]]
        id = "a"
        body = "x"
        agent = "gpt"

        [[tasks]]
        body = "y"

        [[tasks]]
        id = "c"
        body = "z"
        scope = ["/abs"]
        """
    )
    lines = problems(tmp_path, text)
    assert len(lines) == 4, lines
    assert "project: unknown key 'colour'" in lines
    assert "task #2: id: required but missing" in lines
    assert any(line.startswith("task 'a': agent: 'gpt' is not one of") for line in lines)
    assert any(line.startswith("task 'c': scope: glob '/abs' is absolute") for line in lines)


def test_several_plan_problems_give_several_lines(tmp_path: Path) -> None:
    text = PROJECT + textwrap.dedent(
        """\
        [[tasks]]
        id = "a"
        body = "x"
        depends_on = ["ghost"]
        after = ["phantom"]

        [[tasks]]
        id = "a"
        body = "dup"

        [[tasks]]
        id = "b"
        body = ""

        [[tasks]]
        id = "c"
        body_file = "nothing.md"

        [[tasks]]
        id = "d"
        body = "x"
        depends_on = ["e"]

        [[tasks]]
        id = "e"
        body = "x"
        depends_on = ["d"]
        """
    )
    lines = problems(tmp_path, text)
    assert sorted(lines) == sorted(
        [
            "task 'a': duplicate id",
            "task 'a': depends_on names unknown task 'ghost'",
            "task 'a': after names unknown task 'phantom'",
            "task 'b': body is empty; the agent would get no instructions",
            "task 'c': body_file 'nothing.md' cannot be read: FileNotFoundError",
            "dependency cycle: d -> e -> d",
        ]
    )


def test_every_invalid_glob_of_a_task_is_reported(tmp_path: Path) -> None:
    lines = problems(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody = "x"\nscope = ["/abs", "../up"]\n')
    assert len(lines) == 2, lines


def test_glob_that_cannot_be_matched_is_rejected(tmp_path: Path) -> None:
    lines = problems(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody = "x"\nscope = ["src/[]x.py"]\n')
    assert lines and lines[0].startswith("task 'a': scope: glob 'src/[]x.py'")


def test_a_task_for_an_agent_no_worker_runs_is_rejected(tmp_path: Path) -> None:
    text = PROJECT + '[workers]\nagent = "claude"\n\n[[tasks]]\nid = "a"\nbody = "x"\nagent = "codex"\n'
    assert problems(tmp_path, text) == ["task 'a': agent 'codex', but no worker runs it (workers: claude)"]


# -- branches: the integration branch is czar's alone ----------------------------------------

TWO_TASKS = '[[tasks]]\nid = "a"\nbody = "x"\n[[tasks]]\nid = "b"\nbody = "y"\n'


def _project(**fields: str) -> str:
    return PROJECT + "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in fields.items()) + TWO_TASKS


@pytest.mark.parametrize(
    ("branch", "why"),
    [
        ("-D", "'-D' is not a branch name git accepts: it starts with '-', so git would read it as an option"),
        ("--delete", "'--delete' is not a branch name git accepts: it starts with '-'"),
        ("a..b", "'a..b' is not a branch name git accepts: it has '..'"),
        ("x y", "'x y' is not a branch name git accepts: it has ' '"),
        ("x.lock", "'x.lock' is not a branch name git accepts: it has a part ending with '.lock'"),
        ("", "'' is not a branch name git accepts: it is empty"),
        ("HEAD", "'HEAD' is not a branch name git accepts: it is a name git reserves"),
    ],
)
def test_branch_fields_must_be_names_git_accepts(tmp_path: Path, branch: str, why: str) -> None:
    for field_name in ("integration_branch", "base_branch"):
        line = only_problem(tmp_path, _project(**{field_name: branch}))
        assert line.startswith(f"project.{field_name}: {why}"), line


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"integration_branch": "main"},
            "project.integration_branch: 'main' is the base branch; czar merges into the integration branch,"
            " so it must be one of czar's own (the default is 'czar/integration')",
        ),
        (
            {"base_branch": "trunk", "integration_branch": "trunk"},
            "project.integration_branch: 'trunk' is the base branch;",
        ),
        (
            {"integration_branch": "main/czar"},
            "project.integration_branch: 'main/czar' cannot exist beside the base branch 'main'"
            " (git cannot hold a branch and another under it)",
        ),
        (
            {"base_branch": "release/1", "integration_branch": "release"},
            "project.integration_branch: 'release' cannot exist beside the base branch 'release/1'",
        ),
        (
            {"integration_branch": "czar"},
            "project.integration_branch: 'czar' cannot exist beside the task branches 'czar/<task>'",
        ),
        ({"integration_branch": "czar/b"}, "project.integration_branch: 'czar/b' is the branch of task 'b'"),
        (
            {"integration_branch": "czar/a/merged"},
            "project.integration_branch: 'czar/a/merged' cannot exist beside the branch of task 'a', 'czar/a'",
        ),
        ({"base_branch": "czar/a"}, "project.base_branch: 'czar/a' is the branch of task 'a'"),
        (
            {"base_branch": "czar", "integration_branch": "merged"},
            "project.base_branch: 'czar' cannot exist beside the task branches",
        ),
    ],
)
def test_the_integration_branch_collides_with_no_other_branch(
    tmp_path: Path, fields: dict[str, str], expected: str
) -> None:
    line = only_problem(tmp_path, _project(**fields))
    assert line.startswith(expected), line


def test_a_task_named_integration_collides_with_the_default_integration_branch(tmp_path: Path) -> None:
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "integration"\nbody = "x"\n')
    assert line == "project.integration_branch: 'czar/integration' is the branch of task 'integration'"


def test_branches_czar_can_own_are_accepted(tmp_path: Path) -> None:
    for name in ("czar/integration", "czar-merged", "integration/main", "czarx/a", "mainline"):
        plan = load_plan(write_plan(tmp_path, _project(integration_branch=name)))
        assert plan.project.integration_branch == name


# -- body files stay in the plan's folder ----------------------------------------------------


def test_a_body_file_outside_the_plans_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "plan"
    (folder / "tasks").mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("the user's secret\n", encoding="utf-8")
    (folder / "tasks" / "link.md").symlink_to(secret)
    (folder / "tasks" / "fine.md").write_text("Do it.\n", encoding="utf-8")
    for given in ("../secret.txt", str(secret), "tasks/link.md", "tasks/../../secret.txt"):
        line = only_problem(folder, PROJECT + f'[[tasks]]\nid = "a"\nbody_file = "{given}"\n')
        assert line == (
            f"task 'a': body_file {given!r} is outside the plan's folder {folder.resolve()}"
            " (set project.body_files_outside_plan = true to allow it)"
        )
    # Inside it, through `..` or not, is fine.
    plan = load_plan(write_plan(folder, PROJECT + '[[tasks]]\nid = "a"\nbody_file = "tasks/../tasks/fine.md"\n'))
    assert plan.task("a").body == "Do it.\n"


def test_a_plan_may_allow_body_files_outside_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "plan"
    folder.mkdir()
    (tmp_path / "shared.md").write_text("Shared text.\n", encoding="utf-8")
    text = PROJECT + 'body_files_outside_plan = true\n[[tasks]]\nid = "a"\nbody_file = "../shared.md"\n'
    assert load_plan(write_plan(folder, text)).task("a").body == "Shared text.\n"


def test_a_body_file_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "pipe.md")  # reading it would wait forever
    line = only_problem(tmp_path, PROJECT + '[[tasks]]\nid = "a"\nbody_file = "pipe.md"\n')
    assert line == "task 'a': body_file 'pipe.md' is not a regular file"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('[sandbox]\nallow_hosts = ["pypi.org/simple"]\n', "not a host name"),
        ('[sandbox]\nallow_hosts = ["api.*.com"]\n', "not a host name"),
        ("[sandbox]\nports = [443]\n", "greater than or equal to 1024"),
        ('[sandbox]\nnetwork = "open"\n', "'filtered' or 'host'"),
        ('[agents.claude]\nbase_url = "http://localhost/v1"\n', "port 80 on this machine cannot be reached"),
    ],
)
def test_a_sandbox_network_the_plan_cannot_have(tmp_path: Path, table: str, expected: str) -> None:
    line = only_problem(tmp_path, PROJECT + table + '[[tasks]]\nid = "a"\nbody = "x"\n')
    assert expected in line, line


def test_a_local_model_below_1024_is_fine_on_your_network(tmp_path: Path) -> None:
    plan = load_plan(
        write_plan(
            tmp_path,
            PROJECT
            + '[sandbox]\nnetwork = "host"\nallow_hosts = ["*", "*.npmjs.org", "gpu.lan"]\n'
            + '[agents.claude]\nbase_url = "http://localhost/v1"\n[[tasks]]\nid = "a"\nbody = "x"\n',
        )
    )
    assert plan.sandbox.network == "host" and plan.sandbox.allow_hosts == ["*", "*.npmjs.org", "gpu.lan"]


def test_max_attempts_is_read_as_max_rounds_its_new_name(tmp_path: Path) -> None:
    task = '[[tasks]]\nid = "a"\nbody = "x"\n'
    old = load_plan(write_plan(tmp_path, PROJECT + "max_attempts = 5\n" + task))
    assert old.project.max_rounds == 5
    line = only_problem(tmp_path, PROJECT + "max_attempts = 5\nmax_rounds = 4\n" + task)
    assert line.endswith("max_attempts is the old name of max_rounds: give only max_rounds"), line


def test_a_permission_timeout_past_the_hour_a_request_waits_is_refused(tmp_path: Path) -> None:
    """A request waits for a person an hour at most (then it is denied): a longer timeout would
    show it waiting when nobody does any more."""
    from czar.core.policy import PERSON_WAIT_SECONDS

    line = only_problem(tmp_path, PROJECT + '[health]\npermission_timeout = 7200\n[[tasks]]\nid = "a"\nbody = "x"\n')
    assert line.startswith("health.permission_timeout:") and f"{PERSON_WAIT_SECONDS}" in line, line
    at_most = f'[health]\npermission_timeout = {PERSON_WAIT_SECONDS}\n[[tasks]]\nid = "a"\nbody = "x"\n'
    assert load_plan(write_plan(tmp_path, PROJECT + at_most)).health.permission_timeout == PERSON_WAIT_SECONDS
