"""A task's checkout: a clone of its own that borrows the repository's objects.

Why not a worktree: a worktree's git folder lives in the repository's ``.git``, next to every
other branch's ref and the objects, so a sandbox that lets an agent commit would let it move any
branch or delete objects. A clone keeps everything the agent writes inside the task's folder: its
objects (new ones only; the repository's are borrowed read-only through ``alternates``), its one
branch ``czar/<task>``, no remote. czar brings the branch into the repository by fetching from the
clone (``harvest``); ``git upload-pack``, which serves the fetch, runs no configuration of the
clone's that could run a program, and what of it could make it wait or reach out is taken out
first (``czar.vcs.clone_config``). czar never runs other git commands in a clone outside the
agent's sandbox: its configuration and hooks are the agent's to write.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from czar.errors import GitError
from czar.runtime import untrusted
from czar.runtime.keyed_locks import KeyedLocks
from czar.vcs import clone_config, lfs, submodules
from czar.vcs.git import Git, excludes_file

log = logging.getLogger("czar.checkout")
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?\Z")


def _settle(git: Git, clone: Path) -> None:
    """A clone czar just made, before anything runs in it: its submodules filled, and its large
    files its own (``czar.vcs.lfs``: git-lfs links yours into it)."""
    _fill(git, clone)
    lfs.own_copies(clone)


def _fill(git: Git, clone: Path) -> None:
    """The clone's submodules, from the repository's copies of them (``czar.vcs.submodules``); those
    left empty are said in czar's log (a check that needs one fails with what it misses)."""
    try:
        empty = submodules.fill(git, clone, _objects(git.repo).parent)
    except OSError as exc:  # the clone itself is whole: only its submodules are missing
        log.warning("submodules not filled in %s: %s", clone, exc)
        return
    if empty:
        shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        log.warning(
            "%d submodule(s) left empty in %s (not in the repository's .git/modules): %s", len(empty), clone, shown
        )


def is_commit_id(text: str) -> bool:
    return bool(_SHA.match(text))


def is_checkout(path: Path) -> bool:
    """A task clone (not a worktree of an older czar, whose ``.git`` is a file)."""
    return (path / ".git").is_dir()


def make(git: Git, path: Path, branch: str) -> None:
    """A clone at ``path`` with ``branch`` (which must exist in ``git``'s repository) checked out.
    Made beside it and moved in whole: a crash midway leaves no half clone where one is expected."""
    if not path.is_symlink() and (path / ".git").is_file():
        # A worktree made by an earlier czar: its branch must leave it before a clone can take it.
        git.remove_worktree(path)
    untrusted.remove(path)  # a clone left half made by a crash: nothing of value in it yet
    making = path.with_name(f".{path.name}.making")
    untrusted.remove(making, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    git.run(
        "clone",
        "--quiet",
        "--shared",
        "--no-tags",
        "--single-branch",
        "--branch",
        branch,
        "--end-of-options",
        str(git.repo),
        str(making),
    )
    # Without a remote, the agent has no name for the user's repository to push to.
    git.run("remote", "remove", "origin", cwd=making)
    _settle(git, making)
    making.rename(path)


@contextmanager
def throwaway(git: Git, path: Path, commit: str) -> Iterator[Path]:
    """A clone at ``path`` with ``commit`` checked out (detached), for code czar runs but does not
    trust (checks after a merge); removed afterwards, and czar runs no git in it once made: what
    ran there may have written its configuration."""
    if not is_commit_id(commit):
        raise GitError(f"not a commit id: {commit[:40]!r}")
    untrusted.remove(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        git.run(
            "clone", "--quiet", "--shared", "--no-tags", "--no-checkout", "--end-of-options", str(git.repo), str(path)
        )
        git.run("checkout", "--quiet", "--detach", commit, cwd=path)  # a commit id: never an option
        _settle(git, path)
        yield path
    finally:
        untrusted.remove(path, ignore_errors=True)


def detached(git: Git, path: Path, commit: str) -> None:
    """A clone at ``path`` with ``commit`` checked out (detached), for a reviewer to read; made
    whole beside it, replacing whatever was there. czar runs no git in it once made."""
    if not is_commit_id(commit):
        raise GitError(f"not a commit id: {commit[:40]!r}")
    making = path.with_name(f".{path.name}.making")
    for old in (path, making):
        untrusted.remove(old, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    git.run(
        "clone", "--quiet", "--shared", "--no-tags", "--no-checkout", "--end-of-options", str(git.repo), str(making)
    )
    git.run("checkout", "--quiet", "--detach", commit, cwd=making)  # a commit id: never an option
    git.run("remote", "remove", "origin", cwd=making)
    _settle(git, making)
    making.rename(path)


def tip(path: Path, branch: str) -> str | None:
    """Where ``branch`` points in the clone, read from its files (running git there would run
    whatever its configuration says; the files are the agent's, read as ``untrusted`` says). None
    if it cannot be read."""
    git_dir = path / ".git"
    loose = untrusted.read_text(git_dir / "refs" / "heads" / branch, limit=4096)
    if loose is not None:
        return loose.strip() if _SHA.match(loose.strip()) else None
    packed = untrusted.read_text(git_dir / "packed-refs")
    for line in (packed or "").splitlines():
        sha, _, ref = line.partition(" ")
        if ref == f"refs/heads/{branch}" and _SHA.match(sha):
            return sha
    return None


def head(path: Path) -> tuple[str | None, str | None]:
    """What the clone has checked out, read from its files as ``tip`` is: (its branch, or None
    when detached; the commit it points at, or None if it cannot be read)."""
    text = (untrusted.read_text(path / ".git" / "HEAD", limit=4096) or "").strip()
    if text.startswith("ref: refs/heads/"):
        branch = text.removeprefix("ref: refs/heads/")
        return branch, tip(path, branch)
    return None, text if _SHA.match(text) else None


STATUS_SECONDS = 30.0  # a look at a clone's uncommitted changes (its files and filters are the agent's)


def uncommitted(path: Path, wrap: Callable[[list[str]], list[str]] | None) -> tuple[list[str], list[str]] | None:
    """The clone's changes not committed: (tracked files changed, untracked files), what the
    clone ignores left out (its exclude file names tools' caches and what you ignore). git runs
    in ``wrap`` (the agent's sandbox: the clone's configuration is the agent's), writing nothing
    (no index refresh), for ``STATUS_SECONDS`` at most; None if it could not say."""
    git = Git(path, wrap, remember=False)
    said = git.run(
        "--no-optional-locks",
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--no-renames",
        "--ignore-submodules=all",
        cwd=path,
        check=False,
        timeout=STATUS_SECONDS,
        parsed=True,
    )
    if not said.ok:
        return None
    changed: list[str] = []
    untracked: list[str] = []
    for entry in said.output.split("\0"):
        if len(entry) < 4:
            continue
        (untracked if entry[:2] == "??" else changed).append(entry[3:])
    return changed, untracked


def unlock_worktree(path: Path, common: Path) -> list[str]:
    """``unlock`` for a worktree czar made in your repository (the integration worktree), whose
    ``.git`` is a file naming its git folder (``worktrees/<name>`` in the repository's git folder
    ``common``); only that folder's locks: the repository's own (its refs) may be a git at work."""
    if path.is_symlink():
        return []
    text = untrusted.read_text(path / ".git", limit=4096) or ""
    if not text.startswith("gitdir: "):
        return []
    git_dir = Path(text.removeprefix("gitdir: ").strip())
    if not git_dir.is_absolute():
        git_dir = path / git_dir
    if git_dir.is_symlink() or not git_dir.is_dir() or git_dir.resolve().parent != (common / "worktrees").resolve():
        return []
    return _remove_locks(git_dir)


def unlock(path: Path) -> list[str]:
    """Remove the lock files git left in the clone's git folder when an agent was killed in the
    middle of a command (``index.lock``, a ref's ``.lock``): with them, every later ``git add``,
    ``commit`` or ``reset`` there fails with "Another git process seems to be running". Only for a
    clone no agent runs in any more. Returns what was removed (paths within the git folder).

    The agent could have made the git folder, or a folder in it, a link to somewhere else: only a
    real folder is walked, and links in it are not followed (a link named ``*.lock`` is removed,
    never what it points to)."""
    git_dir = path / ".git"
    if git_dir.is_symlink() or not git_dir.is_dir():
        return []
    return _remove_locks(git_dir)


def _remove_locks(git_dir: Path) -> list[str]:
    removed = []
    for folder, dirs, files in os.walk(git_dir, followlinks=False):
        here = Path(folder)
        if here.name == "objects" and here.parent == git_dir:
            dirs.clear()  # thousands of folders, and git keeps no lock files there
            continue
        for name in files:
            if name.endswith(".lock"):
                with contextlib.suppress(OSError):
                    (here / name).unlink()
                    removed.append(str((here / name).relative_to(git_dir)))
    return removed


def show_ref(path: Path, branch: str, commit: str) -> bool:
    """Point the clone's ``branch`` at ``commit`` (which its borrowed objects hold) by writing its
    ref file: no git runs in the clone, so none of its hooks (the agent's to write), and no
    sandbox need be started for it (an agent's start waits for this). The folders are opened one
    by one without following links, the file written beside and renamed into place, as git does.
    False if it cannot be written so (a clone whose refs are kept otherwise): then git must."""
    parts = ["refs", "heads", *branch.split("/")]
    if not is_commit_id(commit) or any(p in ("", ".", "..") or p.endswith(".lock") for p in parts):
        return False
    try:
        if os.path.lexists(path / ".git" / "reftable"):
            return False
        with untrusted.folder(path / ".git", parts[:-1], make=True) as folder:
            untrusted.replace(folder, parts[-1], commit + "\n")
        return True
    except OSError:
        return False


def harvest(git: Git, path: Path, branch: str, known: str | None) -> str | None:
    """Bring the clone's ``branch`` into the repository if it moved from ``known``; returns the
    repository's tip of ``branch`` afterwards (``known`` if nothing moved or it cannot be read).
    A look, not a need: a clone whose git made a fetch wait is passed by for a while, and one
    being fetched from already is not waited for."""
    now = tip(path, branch)
    if now is None or now == known or stuck(path):
        return known
    lock = _fetching(branch)
    if not lock.acquire(blocking=False):
        return known  # (another thread brings it in now: the next look sees it)
    try:
        return _fetch(git, path, branch, known)
    finally:
        lock.release()


# An agent owns its clone's git folder: a FIFO in place of a file git reads there (HEAD, a ref,
# packed-refs, an object) holds a fetch from it until its time-out (found by a probe: every look
# at every agent's work waited, merges too). A fetch from a clone is given FETCH_SECONDS (a local
# fetch of one branch takes well under one); a clone that took longer is passed by for
# STUCK_SECONDS by the looks, and its task's own verification says why it could not be read.
FETCH_SECONDS = 20.0
STUCK_SECONDS = 300.0
_stuck: dict[Path, float] = {}  # clone -> until when looks pass it by
_failed: dict[Path, str] = {}  # clone -> what git said when a fetch from it last failed


# What git says when the repository's side cannot take a fetch (its disk full, no file descriptor
# left, a lock of its own): no fault of the clone's.
_REPOSITORYS = re.compile(
    r"No space left|Out of diskspace|write error|Disk quota|Too many open files|Cannot allocate memory"
    r"|cannot lock ref|Unable to create .*\.lock|unable to write|Read-only file system",
    re.IGNORECASE,
)


def fetch_said(path: Path) -> str | None:
    """What git said when the last fetch from the clone at ``path`` failed, whoever's fault."""
    return _failed.get(path)


def fetch_failure(path: Path) -> str | None:
    """What git said when the last fetch from the clone at ``path`` failed on the repository's
    side (a full disk, say), or None: it did not, or the clone was at fault (a commit it does not
    have, an object git refuses), which its work's verification judges."""
    said = _failed.get(path)
    return said if said is not None and _REPOSITORYS.search(said) else None


def stuck(path: Path) -> bool:
    """Whether a fetch from the clone at ``path`` timed out a while ago (looks pass it by)."""
    return _stuck.get(path, 0.0) > time.monotonic()


# One fetch into a branch at a time in this process: of two fetches into one branch at once (the
# radar's, a verification's, the merge queue's look), git refuses one, and its caller would go on
# with the branch as it was. Fetches into different branches run side by side: a hundred agents
# hand in work at once, and each verification must not wait for all the others' fetches.
_fetching = KeyedLocks()


def _fetch(git: Git, path: Path, branch: str, known: str | None) -> str | None:
    if not _fetch_into(git, path, f"refs/heads/{branch}", branch):
        return known
    now = git.tip(branch)
    _keep_others(git, branch, known, now)
    return now


def harvest_commit(git: Git, path: Path, branch: str, commit: str) -> bool:
    """Point the repository's ``branch`` at ``commit`` of the clone (the one handed in), fetched
    from it whatever its branch holds now. False if it cannot be had."""
    if not is_commit_id(commit):
        return False
    with _fetching(branch):
        # The radar and a verification may both bring one hand-in in: the second finds it done
        # (its large files again: a copy that failed, on a full disk say, is tried once more).
        before = None
        with contextlib.suppress(GitError):
            before = git.tip(branch)
            if before == commit:
                lfs.bring(path, git.repo)
                return True
        if not _fetch_into(git, path, commit, branch):
            return False
        _keep_others(git, branch, before, commit)
        return True


def _borrows_only_the_repository(git: Git, path: Path) -> bool:
    """The clone's list of borrowed object folders (``objects/info/alternates``) made what czar
    made it again: the repository's objects only. An agent that added a folder there (another
    task's clone, another repository of yours) would have the fetch bring their objects into the
    repository. The folders are opened one by one without following links, so a folder the agent
    swapped for a link makes czar write nowhere else. False if it cannot be made so.

    (The agent may still be running and rewrite the list between this and the fetch: a window
    of milliseconds, in which it gains objects of a folder it names, not the right to write.)"""
    objects = _objects(git.repo)
    try:
        with untrusted.folder(path / ".git", ("objects", "info")) as info:
            listed = (
                (untrusted.read("alternates", limit=65536, dir_fd=info) or b"").decode(errors="replace").splitlines()
            )
            if not (len(listed) == 1 and Path(listed[0]).resolve() == objects.resolve()):
                untrusted.replace(info, "alternates", f"{objects}\n")  # a link or a FIFO goes, not what it names
        return True
    except OSError:
        return False


@functools.cache
def _objects(repo: Path) -> Path:
    """The repository's objects folder (asked of git once: a fetch must stay quick)."""
    return Git(repo).common_dir() / "objects"


# The tip czar last put in each task branch, in this process: a tip found there that is another
# was put by someone else (you, committing on it), and would be lost to the forced fetch below
# (found by a probe). It is kept under a ref of its own, and said (``replaced``).
_put: dict[tuple[Path, str], str] = {}  # (repository, branch) -> its tip czar put there
_replaced: list[tuple[str, str, str]] = []  # (branch, the commit replaced, the ref that keeps it)
KEPT_REFS = "refs/czar-kept"


def replaced() -> list[tuple[str, str, str]]:
    """The commits of someone else's that a task branch held and its agent's work replaced since
    the last call: (branch, commit, the ref that keeps it)."""
    found = list(_replaced)
    del _replaced[: len(found)]
    return found


def _keep_others(git: Git, branch: str, before: str | None, after: str | None) -> None:
    """After a fetch moved ``branch`` from ``before`` to ``after`` (both as the caller read them:
    no git more for it, a hundred agents' fetches on two cores)."""
    key = (git.repo, branch)
    put, _put[key] = _put.get(key), after or ""
    if before is None or put is None or before in (put, after) or after is None or git.is_ancestor(before, after):
        return
    ref = f"{KEPT_REFS}/{branch}/{before[:12]}"
    if git.run("update-ref", "--end-of-options", ref, before, check=False).ok:
        _replaced.append((branch, before, ref))


def keep_unmerged(git: Git, path: Path, branch: str) -> list[tuple[str, str | None]]:
    """The commits the clone at ``path`` holds on ``branch``, or checked out, that the
    repository's ``branch`` does not (found by a probe: an agent told something while its work
    was under review committed again; the review's commit merged, and the new one went with the
    clone), each kept under ``refs/czar-kept/BRANCH/SHA12``: (commit, ref), the ref None for one
    that could not be brought in (a clone that made git wait is not asked again)."""
    if not is_checkout(path):
        return []
    held: str | None = None
    with contextlib.suppress(GitError):
        held = git.tip(branch)
    kept: list[tuple[str, str | None]] = []
    for commit in dict.fromkeys(c for c in (tip(path, branch), head(path)[1]) if c and c != held):
        with contextlib.suppress(GitError):
            if held is not None and git.is_ancestor(commit, held):
                continue  # merged, or brought in
        ref = f"{KEPT_REFS}/{branch}/{commit[:12]}"
        brought = not stuck(path) and _fetch_into(git, path, commit, branch, into=ref)
        kept.append((commit, ref if brought else None))
    return kept


def _fetch_into(git: Git, path: Path, source: str, branch: str, into: str | None = None) -> bool:
    """``git fetch`` of ``source`` (a ref or a commit id) from the clone into ``branch`` (or the
    ref ``into``), forced."""
    _failed.pop(path, None)  # (what the last fetch said is of that fetch only)
    if not (_borrows_only_the_repository(git, path) and clone_config.made_safe(git, path)):
        return False
    # As few processes and history walks as git allows: with a hundred agents on two cores, each
    # process of a fetch waits its turn, and verification waits for the fetch.
    fetched = git.run(
        "-c",
        "advice.fetchShowForcedUpdates=false",
        # The agent's objects come into your repository: none malformed (a tree naming a link and
        # a folder alike, say, which would check out otherwise than it reads).
        "-c",
        "fetch.fsckObjects=true",
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--no-recurse-submodules",
        "--no-auto-maintenance",
        "--no-show-forced-updates",
        "--no-write-commit-graph",
        "--end-of-options",
        str(path),
        f"+{source}:{into or f'refs/heads/{branch}'}",
        check=False,
        timeout=FETCH_SECONDS,
    )
    if fetched.timed_out:
        _stuck[path] = time.monotonic() + STUCK_SECONDS
        log.warning("git waited on the clone %s for %g s and was stopped: passed by for a while", path, FETCH_SECONDS)
    elif not fetched.ok:
        lines = fetched.output.strip().splitlines() or [f"exit {fetched.returncode}"]
        _failed[path] = next((line for line in lines if _REPOSITORYS.search(line)), None) or next(
            (line for line in lines if line.startswith(("fatal:", "error:"))), lines[-1]
        )
        log.warning("git could not fetch from the clone %s: %s", path, _failed[path])
    else:
        _stuck.pop(path, None)
        lfs.bring(path, git.repo)  # the large files its commits point to, which a fetch leaves behind
    return fetched.ok


# Caches a project's tools write beside its code, never its work: a task's clone ignores them
# where the repository does not (the agent's `git add -A`, and czar's own commit for an agent that
# cannot commit, took in the __pycache__ of every test run).
CACHES = ("__pycache__/", "*.py[cod]", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/")
IGNORE_LIMIT = 1 << 20  # bytes of an exclude file read


def yours_ignored(git: Git) -> tuple[str, ...]:
    """What your checkout ignores beyond the repository's ``.gitignore`` files: its own
    ``.git/info/exclude`` and your global excludes file (``core.excludesFile``, else git's default
    place), which a clone lacks, and its sandbox hides your home."""
    # In git's order: the last line that matches wins, and the repository's own outranks yours.
    files = [excludes_file(os.environ, git.repo), git.common_dir() / "info" / "exclude"]
    patterns: list[str] = []
    for file in files:
        with contextlib.suppress(OSError):
            with open(file, "rb") as fh:
                text = fh.read(IGNORE_LIMIT).decode(errors="replace")
            patterns += [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return tuple(patterns)


def exclude(path: Path, names: tuple[str, ...], patterns: tuple[str, ...] = ()) -> None:
    """The clone's ``.git/info/exclude`` names each of ``names`` (folders shown in it, not its
    work), and ``patterns``: your checkout may ignore them in its own exclude file or your global
    one, which a clone and its sandbox lack, and the agent's ``git add -A`` would commit what is
    shown there. Written beside and renamed, through no link (the folder is the agent's). Best
    effort: the task's scope still stops what it commits."""
    lines = [*(f"/{name}/" for name in names), *patterns]
    if not lines:
        return
    try:
        with untrusted.folder(path / ".git", ("info",), make=True) as info:
            text = (untrusted.read("exclude", limit=IGNORE_LIMIT, dir_fd=info) or b"").decode(errors="replace")
            there = set(text.splitlines())
            missing = list(dict.fromkeys(line for line in lines if line not in there))
            if missing:
                untrusted.replace(
                    info,
                    "exclude",
                    text + ("" if text.endswith("\n") or not text else "\n") + "\n".join(missing) + "\n",
                )
    except OSError as exc:
        log.warning("could not exclude %s in %s: %s", ", ".join(names), path, exc)


def remove(git: Git, path: Path) -> None:
    if not path.is_symlink() and (path / ".git").is_file():
        git.remove_worktree(path)
    untrusted.remove(path, ignore_errors=True)
