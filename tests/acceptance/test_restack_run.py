"""Stacked dependents in a real run (`[project] stack = true`), sim agents, real git and tmux.

A dependent starts on its dependency's approved work before that merges; when the dependency is
sent back (here: its first version breaks the project's checks after the merge, and it goes back
to the pool) and approved again at a new commit, czar restacks the dependent still at work: its agent is shown the new
start in its checkout and merges it in, and its own work is measured from there.
"""

from __future__ import annotations

import json
from pathlib import Path

from czar.core.events import EventKind
from helpers import czar, git, make_repo, project_events, write_plan

PARENT = """[[tasks]]
id = "p"
title = "task p"
depends_on = []
scope = ["p.txt"]
accept = ["true"]
body = '''
Do p.

```czar-sim
# Its first attempt writes "first"; sent back, the next one (its branch holds p.txt) writes "good".
run sh -c "if [ -f p.txt ]; then echo good > p.txt; else echo first > p.txt; fi"
commit p: its work
finish p done
```
'''
"""

CHILD = """[[tasks]]
id = "c"
title = "task c"
depends_on = ["p"]
scope = ["c.txt"]
accept = ["true"]
body = '''
Do c.

```czar-sim
write c.txt <<END
c
END
commit c: its work
wait
finish c done without a restack
on restack
run git merge --no-edit czar-stack/c
finish c done on the new work of p
```
'''
"""


def test_a_dependent_at_work_is_restacked_when_its_dependency_is_approved_again(
    tmp_path: Path, czar_home: Path
) -> None:
    make_repo(tmp_path / "repo")
    # The project's checks after a merge want p.txt to say "good": p's first version breaks them.
    plan = write_plan(
        tmp_path,
        "restack",
        [PARENT, CHILD],
        workers=2,
        project_extra='stack = true\naccept = ["grep -qx good p.txt"]\n',
    )
    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["tasks_merged"] == 2, summary

    assigned = {e["task"]: e for e in project_events("restack", EventKind.TASK_ASSIGNED)}
    assert assigned["c"]["stacked_on"] == "p"  # it started before p merged
    restacked = project_events("restack", EventKind.TASK_RESTACKED)
    assert [r["task"] for r in restacked] == ["c"] and restacked[0]["on"] == "p"
    told = [e for e in project_events("restack", EventKind.WORKER_TOLD) if e["about"] == "restack"]
    assert len(told) == 1 and "git merge czar-stack/c" in str(told[0]["text"])
    # c's own work is c.txt alone (p's new version came in by the restack, and is p's).
    passed = [e for e in project_events("restack", EventKind.VERIFY_PASSED) if e["task"] == "c"]
    assert passed[-1]["changed"] == ["c.txt"]
    merged = {e["task"]: str(e["commit"]) for e in project_events("restack", EventKind.TASK_MERGED)}
    integration = tmp_path / "repo"
    assert git(integration, "show", "czar/integration:p.txt").strip() == "good"
    assert git(integration, "show", "czar/integration:c.txt").strip() == "c"
    # c's branch holds the restack's start (its agent merged it in).
    git(integration, "merge-base", "--is-ancestor", str(restacked[0]["base"]), "czar/c")  # raises if not
    assert set(merged) == {"p", "c"}
