"""Files whose names git quotes or pads (a space, a quote, a backslash, a tab, letters beyond
ASCII) are read by their names from every git output czar parses, whatever the person's git
settings say about quoting, prefixes and colour."""

from __future__ import annotations

from pathlib import Path

import pytest

from czar.core import hunks
from czar.vcs.repository import GitRepository
from helpers import git, make_repo

NAMES = ["sp ace.txt", 'q"uote.txt', "back\\slash.txt", "ta\tb.txt", "café.txt", "docs/naïve résumé.md"]


def test_every_name_is_read_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "person"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[core]\n\tquotePath = true\n[diff]\n\tnoprefix = true\n\tmnemonicPrefix = true\n[color]\n\tui = always\n"
    )
    repo = make_repo(tmp_path / "repo")
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "-c", "czar/a")
    for name in NAMES:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(f"{name}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "names")
    git(repo, "switch", "-q", "-c", "czar/b", base)
    for name in NAMES:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("other\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the same names, otherwise")
    git(repo, "switch", "-q", "main")
    monkeypatch.setenv("HOME", str(home))  # the person's settings, for czar's git from here on
    r = GitRepository(repo)
    assert sorted(r.changed_files("main", "czar/a")) == sorted(NAMES)
    assert sorted(r.files_between("main", "czar/a")) == sorted(NAMES)
    assert sorted(hunks.parse(r.diff_zero("main", "czar/a"))) == sorted(NAMES)
    assert sorted(r.merge_tree("czar/a", "czar/b") or []) == sorted(NAMES)  # each conflicts
