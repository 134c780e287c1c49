"""Files whose names git quotes or pads (a space, a quote, a backslash, a tab, letters beyond
ASCII) are read by their names from every git output czar parses, whatever the person's git
settings say about quoting, prefixes and colour."""

from __future__ import annotations

from pathlib import Path

import pytest

from czar.core import hunks
from czar.vcs.repository import GitRepository
from helpers import git, make_repo

NAMES = ["sp ace.txt", 'q"uote.txt', 'q"x y.txt', "back\\slash.txt", "ta\tb.txt", "café.txt", "docs/naïve résumé.md"]
LINES = "".join(f"line {i}\n" for i in range(1, 13))


def test_every_name_is_read_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "person"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[core]\n\tquotePath = true\n[diff]\n\tnoprefix = true\n\tmnemonicPrefix = true\n\tinterHunkContext = 5\n"
        "\tignoreSubmodules = all\n\tsubmodule = log\n[color]\n\tui = always\n"
    )
    repo = make_repo(tmp_path / "repo")
    (repo / "lines.txt").write_text(LINES)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "lines")
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "-c", "czar/a")
    for name in NAMES:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(f"{name}\n")
    (repo / "lines.txt").write_text(LINES.replace("line 2\n", "two\n").replace("line 6\n", "six\n"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "names")
    git(repo, "tag", "czar/a")  # a tag of the branch's name: git warns that the name is ambiguous
    git(repo, "switch", "-q", "-c", "czar/b", base)
    for name in NAMES:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("other\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the same names, otherwise")
    git(repo, "switch", "-q", "main")
    monkeypatch.setenv("HOME", str(home))  # the person's settings, for czar's git from here on
    r = GitRepository(repo)
    assert sorted(r.changed_files("main", "czar/a")) == sorted([*NAMES, "lines.txt"])
    assert sorted(r.files_between("main", "czar/a")) == sorted([*NAMES, "lines.txt"])
    changes = hunks.parse(r.diff_zero("main", "czar/a"))
    assert sorted(changes) == sorted([*NAMES, "lines.txt"])
    assert [(h.old_start, h.added) for h in changes["lines.txt"].hunks] == [(2, ("two",)), (6, ("six",))]
    assert sorted(r.merge_tree("czar/a", "czar/b") or []) == sorted(NAMES)  # each conflicts
