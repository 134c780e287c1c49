"""The commented plan `czar init` writes."""

from __future__ import annotations

import re
from pathlib import Path

from czar.core.branches import branch_name_problem
from czar.errors import CzarError
from czar.plan.toml_text import toml_string

STARTER_PLAN = '''\
# czar plan: what to build, in which order, and how to know it is done.
# Check it with `czar validate`, run it with `czar run`.

[project]
name = {project_name}{project_pad}# names the data folder and the tmux session: one per repository
repo = {repo}{repo_pad}# the git repository (its top folder), relative to this file
base_branch = {base_quoted}{pad}# the integration branch starts from here
integration_branch = "czar/integration" # verified work is merged here, never into {base_branch}
accept = []                             # default acceptance commands, e.g. ["python -m pytest -q"]
accept_timeout = 600                    # seconds per acceptance command (never run by a shell)
max_rounds = 3                          # rounds (verifications, broken merges) before a task fails

[workers]
count = 2
agent = "sim"                           # sim | claude | codex | gemini | aider

[[tasks]]
id = "hello"                            # letters, digits, '-' and '_'; the branch is czar/hello
title = "Add a hello module"
scope = ["hello.py"]                    # globs this task may change
subtasks = ["write the module", "commit"]
accept = ["python -c 'import hello; assert hello.greet(1) == \\"Hello, 1!\\"'"]
body = """
Create hello.py with a function greet(name) that returns "Hello, <name>!".

The simulated agent (sim) follows the script below; real agents read the prose above.

```czar-sim
progress 1 writing hello.py
write hello.py <<END
def greet(name):
    return f"Hello, {name}!"
END
progress 2 committing
commit add hello.greet
finish hello.greet is in place
```
"""

[[tasks]]
id = "shout"
title = "Add a loud greeting"
depends_on = ["hello"]                  # starts only after hello is merged
scope = ["shout.py"]
# body_file = "tasks/shout.md"          # a Markdown file next to the plan can hold the body instead
body = """
Create shout.py with shout(name) returning hello.greet(name) in upper case.

```czar-sim
write shout.py <<END
import hello


def shout(name):
    return hello.greet(name).upper()
END
commit add shout
finish shout is in place
```
"""
'''


def starter_plan(base_branch: str, name: str = "my-project", repo: str = ".") -> str:
    """The starter plan of project ``name``, building on ``base_branch`` of the repository at
    ``repo`` (relative to the plan)."""
    base, quoted_name, quoted_repo = toml_string(base_branch), toml_string(name), toml_string(repo)
    pad = " " * max(1, 40 - len(f"base_branch = {base}"))
    project_pad = " " * max(1, 40 - len(f"name = {quoted_name}"))
    repo_pad = " " * max(1, 40 - len(f"repo = {quoted_repo}"))
    values = {
        "pad": pad,
        "base_quoted": base,
        "base_branch": base_branch,
        "project_pad": project_pad,
        "project_name": quoted_name,  # not "{name}": the sample's Python holds one
        "repo_pad": repo_pad,
        "repo": quoted_repo,
    }
    # In one pass: a branch named `feat{repo}` must not have its own braces filled in.
    return re.sub(r"\{(" + "|".join(values) + r")\}", lambda m: values[m.group(1)], STARTER_PLAN)


def repository_of(folder: Path, here: Path) -> Path | None:
    """The top folder of the repository ``folder`` lies in (a plan written in a folder inside
    it names that); else, of the one ``here`` (the folder `czar init` runs in) lies in: a plan
    written outside the repository it is for (found by a probe: it named its own folder). None
    if neither is in one."""
    from czar.vcs.git import Git

    return Git(folder.resolve()).top() or Git(here.resolve()).top()


def project_name_for(folder: Path) -> str:
    """A project name from the folder the plan is written in (the repository's, usually): two
    repositories given the same name would share one project's data and run."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", folder.resolve().name).strip("-_")[:64]
    return name if name and name[0].isalnum() else "my-project"


def base_branch_of(folder: Path) -> str:
    """The branch the repository at ``folder`` is on, for a new plan's ``base_branch``.

    Outside a repository: ``main`` (the plan says so when it is validated). On a detached HEAD
    there is no branch to build on: an error that says how to name one.
    """
    from czar.vcs.git import Git

    git = Git(folder.resolve())
    if not git.is_repo():
        return "main"
    branch = git.current_branch()
    if branch is None:
        raise CzarError(
            f"HEAD is detached in {folder.resolve()}, so czar cannot tell which branch the work builds on;"
            " check that branch out, or give --base-branch NAME"
        )
    return branch


def checked_base_branch(name: str) -> str:
    """A ``--base-branch`` given by hand, if git accepts it as a branch name."""
    problem = branch_name_problem(name)
    if problem:
        raise CzarError(f"--base-branch {name!r} is not a branch name git accepts: it {problem}")
    return name
