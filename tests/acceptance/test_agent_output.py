"""What agents print, in a real run: a flood of output is coalesced and bounded, and what matters
in it (a commit, the end of the task) still counts."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

from czar.paths import ProjectPaths
from czar.store.store import Store
from helpers import czar, git, make_repo, write_plan

FLOOD_MB = 16 + 8 + 6


def test_a_flood_of_output_ends_with_a_small_store_and_the_task_finished(tmp_path: Path, czar_home: Path) -> None:
    # Tens of megabytes: different lines, a commit in the middle, the same line again and again,
    # and one line without an end; then the task is handed in.
    script = (
        "progress 1 starting\nwrite flood.txt <<E\nflooded\nE\nflood 16M\ncommit add flood.txt\n"
        "flood 8M same\nflood 6M unbroken\nprogress 2 after the flood\nfinish flood.txt is in place"
    )
    task = (
        f"[[tasks]]\nid = \"flood\"\nscope = [\"flood.txt\"]\nbody = '''\nFlood.\n\n```czar-sim\n{script}\n```\n'''\n"
    )
    repo = make_repo(tmp_path / "repo")
    plan = write_plan(tmp_path, "flooded", [task], workers=1)
    result = czar("run", str(plan), "--json", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["tasks_merged"] == summary["tasks_total"] == 1
    assert "flood.txt" in git(repo, "ls-tree", "--name-only", "czar/integration").split()

    paths = ProjectPaths.for_project("flooded")
    store = Store(paths)
    try:
        events = store.events_after(0, limit=100_000)
    finally:
        store.close()
    activity = [e for e in events if e.kind == "agent.activity" and e.task_id == "flood"]
    # Every line was read: the coalesced events count them all (about half a million).
    lines = sum(int(e.payload.get("lines", 1)) for e in activity)
    assert lines > 400_000
    assert len(activity) < 2_000, f"{len(activity)} activity events for a flood"
    assert all(len(str(e.payload["text"])) <= 500 for e in activity)
    # What mattered in the middle of it counted: the commit, the checkpoint after, the hand-in.
    kinds = [e.kind for e in events if e.task_id == "flood"]
    assert "agent.commit" in kinds and "agent.finished" in kinds
    assert any(e.kind == "agent.progress" and e.payload["checkpoint"] == 2 for e in events)
    # The store stays small: well under a megabyte where 30 MB of output came.
    with contextlib.closing(sqlite3.connect(paths.db)) as db:
        db.execute("pragma wal_checkpoint(truncate)")
        size = db.execute("pragma page_count").fetchone()[0] * db.execute("pragma page_size").fetchone()[0]
    assert size < 1 << 20, f"the store is {size / 1e6:.1f} MB after {FLOOD_MB} MB of output"
