"""`czar bench replay`: a history made here, replayed as tasks that may all start at once, must
merge every task and end with the history's own tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import _cleanup
from helpers import czar, git, lfs_repo, make_repo

LINES = "".join(f"line {i}\n" for i in range(1, 41))


def _commit(repo: Path, message: str, **files: str) -> None:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def _history(repo: Path) -> None:
    """Commits that edit one file in different places, the same line twice, and a new file."""
    make_repo(repo)
    _commit(repo, "base", **{"a.txt": LINES, "b.txt": "hello\n"})
    git(repo, "tag", "start")
    text = LINES
    for message, old, new in [
        ("top of a", "line 5\n", "line five\n"),
        ("bottom of a", "line 35\n", "line thirty-five\n"),
        ("the top line again", "line five\n", "line FIVE\n"),
        ("middle of a", "line 20\n", "line twenty\nline 20b\n"),
        ("top of a once more, next to it", "line FIVE\nline 6\n", "line Five!\nline six\n"),
    ]:
        text = text.replace(old, new)
        _commit(repo, message, **{"a.txt": text})
    _commit(repo, "a new file", **{"c.txt": "new\n", "b.txt": "hello\nworld\n"})
    _commit(
        repo, "the new file and the middle of a", **{"c.txt": "new\nmore\n", "a.txt": text.replace("line 21\n", "")}
    )
    git(repo, "tag", "end")


def test_replay_without_dependencies_merges_every_commit_and_ends_with_its_tree(
    tmp_path: Path, czar_home: Path
) -> None:
    repo = tmp_path / "history"
    _history(repo)
    bench = tmp_path / "bench"
    try:
        result = czar(
            "bench", "replay", str(repo), "start..end", "--no-deps", "--workers", "3",
            "--json", "--dir", str(bench), "--timeout", "240",
            timeout=300,
        )  # fmt: skip
    finally:
        _cleanup(bench / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    r = json.loads(result.stdout)
    assert r["passed"] and r["tree_matches"]
    assert r["tasks_total"] == r["tasks_merged"] == 7 and r["tasks_failed"] == 0
    # Waiting is not failing: overlapping tasks stood off or were held, and no round was lost.
    assert r["failed_verifications"] == 0 and r["rounds"] == 7
    # Every merge is the commit's own change: no line was written twice.
    assert r["duplication"] == 0.0
    final = git(bench / "repo", "rev-parse", "czar/integration^{tree}")
    assert final == git(repo, "rev-parse", "end^{tree}")


def test_replay_refuses_a_range_that_is_not_one(tmp_path: Path, czar_home: Path) -> None:
    repo = make_repo(tmp_path / "history")
    result = czar("bench", "replay", str(repo), "HEAD", "--dir", str(tmp_path / "bench"))
    assert result.returncode != 0 and result.stderr.startswith("czar: ") and "A..B" in result.stderr
    assert "Traceback" not in result.stderr
    result = czar("bench", "replay", str(repo), "nope..HEAD", "--dir", str(tmp_path / "bench2"))
    assert result.returncode != 0 and "czar: " in result.stderr and "Traceback" not in result.stderr
    # A shallow clone lacks the history a replay makes again (found by a probe: every task failed).
    (repo / "more.txt").write_text("more\n")
    git(repo, "add", "more.txt")
    git(repo, "commit", "-qm", "more")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    result = czar("bench", "replay", str(shallow), "HEAD~1..HEAD", "--dir", str(tmp_path / "bench3"))
    assert result.returncode != 0 and "is a shallow clone: a replay needs its history whole" in result.stderr
    # A partial clone lacks the files (found by a probe: "Could not reset index file to revision").
    git(repo, "config", "uploadpack.allowFilter", "true")
    partial = tmp_path / "partial"
    git(tmp_path, "clone", "-q", "--filter=blob:none", f"file://{repo}", str(partial))
    result = czar("bench", "replay", str(partial), "HEAD~1..HEAD", "--dir", str(tmp_path / "bench4"))
    assert result.returncode != 0 and "is a partial clone (made with --filter)" in result.stderr
    # A start on a branch merged into the end: its merge would have nothing to hand in (found by a probe).
    git(repo, "checkout", "-q", "-b", "side", "HEAD~1")
    _commit(repo, "on the side", **{"side.txt": "side\n"})
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    result = czar("bench", "replay", str(repo), "side..main", "--dir", str(tmp_path / "bench5"))
    assert result.returncode != 0 and "side is not on main's first-parent line" in result.stderr
    assert "Traceback" not in result.stderr


def test_replay_of_a_history_of_large_files_ends_with_its_tree(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by a probe: the replay's copy of the repository had the pointers of its Git LFS files
    # but not the files; every task that checked one out failed.
    monkeypatch.setenv("HOME", str(tmp_path / "person"))
    repo = lfs_repo(tmp_path, tmp_path / "person", "data one\n")
    git(repo, "tag", "start")
    _commit(repo, "new data", **{"data.bin": "data two\n", "more.bin": "more\n"})
    _commit(repo, "the data renamed", **{"more.bin": "more, again\n"})
    bench = tmp_path / "bench"
    try:
        result = czar("bench", "replay", str(repo), "start..HEAD", "--json", "--dir", str(bench), timeout=300)
    finally:
        _cleanup(bench / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    r = json.loads(result.stdout)
    assert r["passed"] and r["tree_matches"] and r["tasks_merged"] == 2
