"""A clone czar makes of a repository with submodules has them checked out, from the repository's
own copies, at the commits its tree names; nested ones too; what the repository never fetched
stays empty; a `.gitmodules` the task rewrote cannot point czar elsewhere."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from czar.vcs import checkout, submodules
from czar.vcs.git import Git
from helpers import IDENTITY, git, make_repo

ALLOW_FILE = ("-c", "protocol.file.allow=always")


def _library(path: Path, text: str) -> Path:
    make_repo(path)
    (path / "lib.py").write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "lib")
    return path


def _add(repo: Path, source: Path, where: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *IDENTITY, *ALLOW_FILE, "submodule", "add", "-q", str(source), where],
        check=True,
        capture_output=True,
    )
    git(repo, "commit", "-qm", f"add {where}")


def test_a_clone_has_the_submodules_nested_ones_too_at_the_commits_its_tree_names(tmp_path: Path) -> None:
    inner = _library(tmp_path / "inner", "INNER = 1\n")
    lib = _library(tmp_path / "lib", "LIB = 1\n")
    _add(lib, inner, "deps/inner")
    repo = make_repo(tmp_path / "repo")
    _add(repo, lib, "vendor/lib")
    subprocess.run(
        ["git", "-C", str(repo), *ALLOW_FILE, "submodule", "update", "--init", "--recursive", "-q"], check=True
    )
    # The library moves on upstream; the repository still names its first commit.
    (lib / "lib.py").write_text("LIB = 2\n")
    git(lib, "commit", "-qam", "lib 2")
    git(repo, "branch", "czar/a", "main")
    made = tmp_path / "data" / "a"
    checkout.make(Git(repo), made, "czar/a")
    assert (made / "vendor/lib/lib.py").read_text() == "LIB = 1\n"
    assert (made / "vendor/lib/deps/inner/lib.py").read_text() == "INNER = 1\n"
    # As git sees it: the superproject clean, each submodule at its commit, with no remote.
    assert git(made, "status", "--porcelain") == ""
    assert git(made / "vendor/lib", "remote") == ""
    store = Git(repo).common_dir()
    assert submodules.object_stores(store) == [
        store / "modules/vendor/lib/modules/deps/inner/objects",
        store / "modules/vendor/lib/objects",
    ]
    # A reviewer's checkout and the checks' throwaway clone of a commit have them too.
    commit = git(repo, "rev-parse", "main")
    checkout.detached(Git(repo), tmp_path / "data" / "review", commit)
    assert (tmp_path / "data/review/vendor/lib/deps/inner/lib.py").is_file()
    with checkout.throwaway(Git(repo), tmp_path / "data" / "checks", commit) as folder:
        assert (folder / "vendor/lib/lib.py").read_text() == "LIB = 1\n"


def test_what_the_repository_never_fetched_stays_empty_and_a_rewritten_gitmodules_leads_nowhere(
    tmp_path: Path,
) -> None:
    lib = _library(tmp_path / "lib", "LIB = 1\n")
    repo = make_repo(tmp_path / "repo")
    _add(repo, lib, "vendor/lib")
    git(repo, "branch", "czar/a", "main")
    # Never initialized in the person's checkout (a clone without --recursive): nothing to copy.
    git(repo, "submodule", "deinit", "-q", "--all", "-f")
    subprocess.run(["rm", "-rf", str(Path(Git(repo).common_dir()) / "modules")], check=True)
    made = tmp_path / "data" / "a"
    checkout.make(Git(repo), made, "czar/a")
    assert list((made / "vendor/lib").iterdir()) == []
    # A task's commit whose .gitmodules names folders outside, or options: nothing is cloned.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    (clone / ".gitmodules").write_text(
        '[submodule "../../etc"]\n\tpath = vendor/lib\n\turl = /etc\n'
        '[submodule "x"]\n\tpath = /tmp/outside\n\turl = /etc\n'
        '[submodule "-u"]\n\tpath = -x\n\turl = /etc\n'
    )
    assert submodules.fill(Git(clone), clone, Git(repo).common_dir()) == []
    assert list((clone / "vendor/lib").iterdir()) == []


def _with_lib(tmp_path: Path, where: str = "vendor/lib") -> tuple[Path, Path]:
    lib = _library(tmp_path / "lib", "LIB = 1\n")
    repo = make_repo(tmp_path / "repo")
    _add(repo, lib, where)
    return repo, lib


def test_a_link_in_the_tree_takes_czar_nowhere_outside_the_clone(tmp_path: Path) -> None:
    # A tree can name a link and a folder alike (made by hand, object by object): git checks out
    # the link, and `ls-tree` still names the submodule under it. czar must not follow the link.
    repo, _ = _with_lib(tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    outside = tmp_path / "outside"
    (outside / "lib").mkdir(parents=True)
    subprocess.run(["rm", "-rf", str(clone / "vendor")], check=True)
    (clone / "vendor").symlink_to(outside)
    assert submodules.fill(Git(clone), clone, Git(repo).common_dir()) == ["vendor/lib"]
    assert list((outside / "lib").iterdir()) == []


def test_a_commit_the_repositorys_copy_lacks_leaves_the_folder_empty_not_half_made(tmp_path: Path) -> None:
    # The person pulled without `git submodule update`: the tree names a commit their copy has not
    # fetched. A folder left holding the copy's own commit would be recorded by `git add -A`.
    repo, lib = _with_lib(tmp_path)
    (lib / "lib.py").write_text("LIB = 2\n")
    git(lib, "commit", "-qam", "lib 2")
    newer = git(lib, "rev-parse", "HEAD")
    git(repo, "update-index", "--cacheinfo", f"160000,{newer},vendor/lib")
    git(repo, "commit", "-qm", "lib 2, not fetched here")
    git(repo, "branch", "czar/a", "main")
    made = tmp_path / "data" / "a"
    checkout.make(Git(repo), made, "czar/a")
    assert list((made / "vendor/lib").iterdir()) == []
    assert git(made, "status", "--porcelain") == ""


def test_a_submodule_whose_name_holds_spaces_is_filled(tmp_path: Path) -> None:
    repo, _ = _with_lib(tmp_path, "third party/lib")
    git(repo, "branch", "czar/a", "main")
    made = tmp_path / "data" / "a"
    checkout.make(Git(repo), made, "czar/a")
    assert (made / "third party/lib/lib.py").read_text() == "LIB = 1\n"


def test_many_submodules_are_read_from_the_tree_at_once_a_pattern_in_a_name_as_a_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by a probe: one git per submodule took a quarter of a second of each task's start in a
    # repository of 88.
    lib = _library(tmp_path / "lib", "LIB = 1\n")
    repo = make_repo(tmp_path / "repo")
    for where in ("vendor/a", "vendor/b", "vendor/[c]"):
        _add(repo, lib, where)
    subprocess.run(["git", "-C", str(repo), *ALLOW_FILE, "submodule", "update", "--init", "-q"], check=True)
    git(repo, "branch", "czar/a", "main")
    runs: list[tuple[str, ...]] = []
    real = Git.run

    def counted(self: Git, *args: str, **kwargs: Any) -> Any:
        runs.append(args)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Git, "run", counted)
    made = tmp_path / "data" / "a"
    checkout.make(Git(repo), made, "czar/a")
    assert sum("ls-tree" in args for args in runs) == 1
    for where in ("vendor/a", "vendor/b", "vendor/[c]"):
        assert (made / where / "lib.py").read_text() == "LIB = 1\n"
