"""czar.store.peek: another project's store read as it is, nothing made, migrated or written (the
czar that runs it may be an older one)."""

from __future__ import annotations

import os
from pathlib import Path

from czar.paths import ProjectPaths
from czar.store.peek import peek
from czar.store.records import TaskSpec
from czar.store.store import Store


def test_a_store_is_read_without_a_write(tmp_path: Path) -> None:
    paths = ProjectPaths(name="other", root=tmp_path / "other")
    store = Store(paths)
    with store.write() as conn:
        Store.set_meta(conn, "repo", "/somewhere/repo")
        Store.set_meta(conn, "integration_branch", "czar/integration")
        Store.set_meta(conn, "plan_path", "/somewhere/czar.toml")
        Store.add_task(conn, "a", order=0, title="a", body="a", spec=TaskSpec())
    store.close()
    written = paths.db.stat().st_mtime_ns
    os.chmod(paths.db, 0o400)
    seen = peek(paths.db)
    assert seen is not None
    assert (seen.repo, seen.integration_branch, seen.plan, seen.task_ids) == (
        "/somewhere/repo",
        "czar/integration",
        "/somewhere/czar.toml",
        frozenset({"a"}),
    )
    assert paths.db.stat().st_mtime_ns == written  # nothing written, nothing migrated
    # What SQLite makes to read it has the store's mode: not readable by others once that
    # project's czar writes there.
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in paths.root.glob("czar.db-*")} in (
        {},
        {"czar.db-wal": "0o400", "czar.db-shm": "0o400"},
    )


def test_what_is_no_store_reads_as_nothing(tmp_path: Path) -> None:
    (tmp_path / "czar.db").write_text("not a database\n")
    assert peek(tmp_path / "czar.db") is None
    assert peek(tmp_path / "missing.db") is None
    assert not (tmp_path / "missing.db").exists()
