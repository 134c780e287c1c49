"""The submodules of a clone czar makes (a task's checkout, a reviewer's, the checks' after a
merge), filled from the repository's own copies of them (``.git/modules/<name>``).

A clone has only its superproject: each submodule is an empty folder, and its commits live in the
repository's ``.git/modules``, which a sandbox hides. Fetching them from their URLs would need
the network (which agents and checks do not have) and would trust URLs the task's commit may have
rewritten. So each submodule is a clone of the repository's own copy, borrowing its objects as
the superproject's clone does, at the commit the superproject's tree names; nested ones likewise.
A submodule the repository never fetched (not initialized in your checkout) stays empty, as it is
in yours; so does a commit only an agent made inside one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from czar.vcs.git import Git

DEPTH = 8  # submodules within submodules, at most


def fill(git: Git, clone: Path, store: Path, depth: int = 0) -> list[str]:
    """Check out, in ``clone`` (just made, its tree checked out; its configuration czar's own), each
    submodule that ``store`` (the repository's git folder, or a submodule's copy in it) holds a
    copy of, at the commit ``clone``'s tree names. Returns the submodules left empty; a problem
    with one leaves it empty (never half made: `git add -A` would record what it holds), and
    never stops the clone."""
    gitmodules = clone / ".gitmodules"
    if depth > DEPTH or not gitmodules.is_file() or gitmodules.is_symlink():
        return []
    # Only read (the file is the task's to write): never `git submodule`, which acts on it.
    listed = git.run("config", "--file", str(gitmodules), "-z", "--get-regexp", r"^submodule\..*\.path$", check=False)
    named: dict[str, str] = {}  # path -> name
    for entry in listed.output.split("\0") if listed.ok else []:
        key, _, rel = entry.partition("\n")  # a name may hold spaces
        name = key.removeprefix("submodule.").removesuffix(".path")
        if _relative(name) and _relative(rel):
            named.setdefault(rel, name)
    # Where the tree has a submodule (a commit), for all of them at once: one git per submodule
    # took a quarter of a second of each task's start in a repository of 88 (found by a probe).
    commits: dict[str, str] = {}
    if named:
        # (--literal-pathspecs: a path of `*` or `[` is a name, not a pattern)
        ls_tree = ("--literal-pathspecs", "ls-tree", "-z", "--full-tree", "HEAD", "--", *named)
        tree = git.run(*ls_tree, cwd=clone, check=False, parsed=True)
        for line in tree.output.split("\0") if tree.ok else []:
            meta, _, path = line.partition("\t")
            fields = meta.split()
            if len(fields) == 3 and fields[0] == "160000" and path in named:
                commits[path] = fields[2]
    empty: list[str] = []
    for rel, name in named.items():
        if rel not in commits:
            continue  # not a submodule in this commit's tree
        commit, target, source = commits[rel], clone / rel, store / "modules" / name
        if not _inside(clone, rel) or any(target.iterdir()) or not (source / "objects").is_dir():
            empty.append(rel)
            continue
        if not _clone(git, source, target, commit):
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            empty.append(rel)
            continue
        empty += [f"{rel}/{inner}" for inner in fill(git, target, source, depth + 1)]
    return empty


def _clone(git: Git, source: Path, target: Path, commit: str) -> bool:
    borrowed = ("clone", "--quiet", "--shared", "--no-tags", "--no-checkout", "--end-of-options")
    if not git.run(*borrowed, str(source), str(target), check=False).ok:
        return False
    git.run("remote", "remove", "origin", cwd=target, check=False)  # no name for your copy to push to
    return git.run("checkout", "--quiet", "--detach", commit, cwd=target, check=False).ok


def _inside(clone: Path, rel: str) -> bool:
    """``rel`` is a folder of ``clone`` itself, each part of the way: none a link (a tree can hold
    a link and a folder of one name, and git checks out the link) that would take czar elsewhere."""
    here = clone
    for part in PurePosixPath(rel).parts:
        here = here / part
        if here.is_symlink() or not here.is_dir():
            return False
    return True


def object_stores(store: Path) -> list[Path]:
    """The object folders of the repository's copies of its submodules (nested ones too): what a
    clone's submodules borrow, to be readable in a sandbox."""
    found = []
    for folder, inside, files in os.walk(store / "modules"):
        if "HEAD" in files and "objects" in inside:  # a copy (its name may hold slashes: vendor/lib)
            found.append(Path(folder) / "objects")
            inside[:] = ["modules"] if "modules" in inside else []  # never into its objects
    return sorted(found)


def _relative(text: str) -> bool:
    path = PurePosixPath(text)
    return bool(text) and not path.is_absolute() and ".." not in path.parts and not text.startswith("-")
