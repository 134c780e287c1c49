"""git, as czar uses it: task branches and worktrees, the integration branch, and merges.

The user's checkout is never touched: every command here either reads, or runs inside a
worktree czar owns, or changes refs czar owns (``czar/*``). Commands that change shared refs or
worktree metadata run under the project's git lock (see ``GitLock``).

Branch names and paths come from the plan: each follows ``--end-of-options`` (or is first made a
commit id, see ``commit_of``), so that no value can act as an option, whatever the plan's checks.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from czar.core.repository import MergeResult
from czar.errors import GitError
from czar.runtime import proc

log = logging.getLogger("czar.git")
_COMMIT_ID = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")  # SHA-1 or SHA-256
KNOWN_CHARS = 8 << 20  # what the answers about commits a Git keeps may cost (``_size``), newest first
KNOWN_LARGEST = 256 << 10  # a larger one (a diff of generated files) is asked for again, not kept
_UNKNOWN = object()  # no answer kept
_T = TypeVar("_T")

# Merges czar makes itself are signed by czar, whatever the user's git config says.
CZAR_IDENTITY = ("-c", "user.name=czar", "-c", "user.email=czar@localhost")


class GitLock:
    """A file lock over worktree changes across czar's processes and threads.

    Adding worktrees for different tasks (and creating their branches) may run side by side:
    they hold it shared. Pruning and removing worktrees rewrite the shared metadata: exclusive.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def held(self, *, shared: bool = False) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


class WorktreeStale(GitError):
    """A worktree could not be added without pruning stale registrations first."""


# Settings of yours that czar's commits and the agents' must not follow: signing them with your key
# (`commit.gpgsign` in your ~/.gitconfig) would wait for a passphrase nobody types, or fail in a
# sandbox that hides your keys; every commit of every task failed so ("commit your work").
UNSIGNED = {"commit.gpgsign": "false", "tag.gpgsign": "false"}


def overriding(env: Mapping[str, str], settings: Mapping[str, str]) -> dict[str, str]:
    """``env`` with git ``settings`` that win over every configuration file (as ``git -c`` does,
    for every git started with it), after any it carries already."""
    out = dict(env)
    try:
        count = int(out.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        count = 0
    for key, value in settings.items():
        out[f"GIT_CONFIG_KEY_{count}"], out[f"GIT_CONFIG_VALUE_{count}"] = key, value
        count += 1
    out["GIT_CONFIG_COUNT"] = str(count)
    return out


def excludes_file(env: Mapping[str, str], repo: Path | None = None) -> Path:
    """Your global excludes file, as git finds it for ``env``: ``core.excludesFile`` (``repo``'s
    configuration too, where one is named), else its default place under XDG_CONFIG_HOME."""
    where = ["-C", str(repo)] if repo is not None else []
    scope = [] if repo is not None else ["--global"]
    found = proc.run(
        ["git", *where, "config", *scope, "--type=path", "--get", "core.excludesFile"], env=env, timeout=10
    )
    if found.ok and found.output.strip():
        return Path(found.output.strip())
    return Path(env.get("XDG_CONFIG_HOME") or Path(env.get("HOME") or Path.home()) / ".config") / "git" / "ignore"


# Settings of yours that would change what czar reads of git's output: names of files quoted
# (any name not in ASCII), diffs without their a/ b/ prefixes, in colour, with signatures.
READABLE = {
    "core.quotePath": "false",
    "diff.noprefix": "false",
    "diff.mnemonicPrefix": "false",
    "color.ui": "false",
    "log.showSignature": "false",
}


# czar's own commits, merges and checkouts run no hook: not yours (a global `core.hooksPath`, or
# the repository's .git/hooks, which its worktrees share), not a task's. Its pushes run yours (a
# pre-push hook is your guard on what leaves the machine).
NO_HOOKS = {"core.hooksPath": "/dev/null"}


# What `git rev-parse --local-env-vars` names (git 2.39), which git itself unsets when it moves
# to another repository, and what changes how it reads paths: a user's GIT_DIR or
# GIT_OBJECT_DIRECTORY (a hook's, a script's) redirected every command to the wrong place (found by a
# probe: czar said the base branch was not there); a parent git's `-c` settings
# (GIT_CONFIG_PARAMETERS) would win over czar's. (GIT_CONFIG_COUNT stays: ``overriding`` puts
# czar's own settings after those it holds.)
REPOSITORY_VARIABLES = frozenset(
    {
        "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_OBJECT_DIRECTORY",
        "GIT_DIR", "GIT_WORK_TREE", "GIT_IMPLICIT_WORK_TREE", "GIT_GRAFT_FILE", "GIT_INDEX_FILE",
        "GIT_NO_REPLACE_OBJECTS", "GIT_REPLACE_REF_BASE", "GIT_PREFIX", "GIT_INTERNAL_SUPER_PREFIX",
        "GIT_SHALLOW_FILE", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_LITERAL_PATHSPECS", "GIT_GLOB_PATHSPECS",
        "GIT_NOGLOB_PATHSPECS", "GIT_ICASE_PATHSPECS",
    }
)  # fmt: skip


# What to do, for what git says that a person can fix (found by a probe: a clone made without its
# large files, GIT_LFS_SKIP_SMUDGE=1, could not be started, in git's words only).
_HINTS = (
    (
        "smudge filter lfs failed",
        " (the repository lacks Git LFS files its commits name: `git lfs fetch --all` in it brings them)",
    ),
)


def _env(hooks: bool = False) -> dict[str, str]:
    own = {k: v for k, v in os.environ.items() if k not in REPOSITORY_VARIABLES}
    env = overriding(own, {**UNSIGNED, **READABLE, **({} if hooks else NO_HOOKS)})
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


# What czar reads of a diff, whatever the person's diff settings (prefixes, hunks joined, submodules
# hidden or shown as logs).
_SHOWN = ("--src-prefix=a/", "--dst-prefix=b/", "--submodule=short", "--ignore-submodules=none")
ZERO = ("-U0", "--inter-hunk-context=0", "--no-color", "--no-ext-diff", "--full-index", *_SHOWN)
# A file this big is shown by a diff as binary ("Binary files differ"), not line by line: an
# agent's 40 MB text file took the supervisor past 3 GB of memory in lines parsed (found by a
# probe). Nothing czar reads lines for (overlaps, lost lines, sizes) is that big in real work.
WHOLE = ("-c", "core.bigFileThreshold=8m")
NAMES = ("--name-only", "-z", "--no-renames", "--ignore-submodules=none")


def _size(key: tuple[str, ...], answer: Any) -> int:
    """About what a kept answer costs, in characters: its text, its question, the rest."""
    return (len(answer) if isinstance(answer, str) else 0) + sum(map(len, key)) + 100


def _names(out: str) -> list[str]:
    """The names of a ``-z`` output (ended each by a NUL: none quoted, a newline in one kept)."""
    return [name for name in out.split("\0") if name]


class Git:
    """git commands against one repository (``-C repo``)."""

    def __init__(
        self, repo: Path, wrap: Callable[[list[str]], list[str]] | None = None, *, remember: bool = True
    ) -> None:
        self.repo = repo
        self.wrap = wrap  # runs each command through this (a sandbox, for a checkout an agent controls)
        # A checkout an agent controls may have replacement refs of its own: nothing is kept of it.
        self.remember = remember and wrap is None
        self._known: dict[tuple[str, ...], Any] = {}
        self._known_chars = 0
        self._lock = threading.Lock()
        self._shallow: Path | None = None

    def _once(self, key: tuple[str, ...], ask: Callable[[], tuple[_T, bool]]) -> _T:
        """The answer to ``key`` (a question and the commit ids it is about): kept from before, or
        ``ask()``'s, kept when it says git could tell. What git says of commits named by id does
        not change: their files and history are fixed by the id (replacement refs or grafts
        someone makes during a run, and a change of the checkout's diff attributes, are not
        followed). The supervisor asks the same of them at every look."""
        kept = self._known.get(key, _UNKNOWN)
        if kept is not _UNKNOWN:
            return cast(_T, kept)
        answer, told = ask()
        if told:
            self._keep(key, answer)
        return answer

    def _keep(self, key: tuple[str, ...], answer: Any) -> None:
        """Keep an answer about commits named by their ids, unless told not to (``remember``),
        or the repository is shallow (its history grows when it is deepened). The oldest answers
        go first beyond ``KNOWN_CHARS``."""
        if not self.remember or not all(_COMMIT_ID.fullmatch(c) for c in key[1:]):
            return
        size = _size(key, answer)
        if size > KNOWN_LARGEST:
            return
        if self._shallow is None:
            self._shallow = Path(self.out("rev-parse", "--path-format=absolute", "--git-path", "shallow"))
        if self._shallow.exists():
            return
        with self._lock:
            if key in self._known:
                return  # answered meanwhile on another thread
            while self._known and self._known_chars + size > KNOWN_CHARS:
                oldest = next(iter(self._known))
                self._known_chars -= _size(oldest, self._known.pop(oldest))
            self._known[key] = answer
            self._known_chars += size

    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        check: bool = True,
        timeout: float = 120,
        hooks: bool = False,
        parsed: bool = False,
        input_text: str | None = None,
    ) -> proc.Result:
        """``hooks``: your hooks run (see ``NO_HOOKS``); ``parsed``: the output is git's standard
        output alone (a warning would read as part of it), its errors kept apart."""
        where = cwd or self.repo
        argv = ["git", "-C", str(where), *args]
        result = proc.run(
            self.wrap(argv) if self.wrap else argv,
            env=_env(hooks),
            timeout=timeout,
            errors_too=not parsed,
            input_text=input_text,
        )
        if check and not result.ok:
            said = result.errors + result.output
            lines = said.strip().splitlines() or ["(no output)"]
            # git's own "fatal:" says what went wrong; a clone's last line is only "and the repository exists."
            first = next((line for line in lines if line.startswith("fatal:")), None) or next(
                (line for line in lines if line.startswith("error:")), lines[-1]
            )
            words = [a for i, a in enumerate(args) if a != "-c" and (i == 0 or args[i - 1] != "-c")]
            hint = next((h for pattern, h in _HINTS if pattern in said), "")
            raise GitError(f"git {' '.join(words[:3])} failed in {where}: {first}{hint}", output=said)
        return result

    def out(self, *args: str, cwd: Path | None = None) -> str:
        return self.run(*args, cwd=cwd).output.strip()

    # -- reading -----------------------------------------------------------------------------

    def is_repo(self) -> bool:
        return self.run("rev-parse", "--git-dir", check=False).ok

    def refuses(self) -> bool:
        """git refuses the repository as another user's (``safe.directory``): it is one, but
        every command fails there as if it were not. (Told by its owner, not by git's message,
        which comes in the person's language.)"""
        try:
            owner = self.repo.stat().st_uid
        except OSError:
            return False
        looks_like_one = (self.repo / ".git").exists() or (self.repo / "HEAD").is_file()
        return owner != os.geteuid() and looks_like_one and not self.is_repo()

    def top(self) -> Path | None:
        """The top folder of the checkout this path is in (a folder inside a repository is not its
        top); None where there is none (a bare repository, a git folder)."""
        result = self.run("rev-parse", "--show-toplevel", check=False)
        return Path(result.output.strip()) if result.ok and result.output.strip() else None

    def common_dir(self) -> Path:
        """The repository's git folder (shared by its worktrees): where its objects live."""
        return Path(self.out("rev-parse", "--path-format=absolute", "--git-common-dir"))

    def current_branch(self) -> str | None:
        """The branch checked out in the repository's own checkout; None on a detached HEAD."""
        result = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return result.output.strip() if result.ok else None

    def has_branch(self, branch: str) -> bool:
        return self.run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"refs/heads/{branch}^{{commit}}", check=False
        ).ok

    def tip(self, ref: str) -> str:
        return self.out("rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}")

    def commit_of(self, ref: str) -> str:
        """``ref`` as a commit id. For the commands that take a commit but mistake
        ``--end-of-options`` for an argument in the gits czar supports (``checkout``, ``reset``):
        an id cannot be read as an option."""
        return ref if _COMMIT_ID.fullmatch(ref) else self.tip(ref)

    def roots(self, ref: str) -> list[str]:
        """The commits ``ref``'s history starts from (one, unless histories were joined)."""
        return self.out("rev-list", "--max-parents=0", "--end-of-options", ref).split()

    def has_commit(self, commit: str) -> bool:
        return self.run("cat-file", "-e", "--end-of-options", f"{commit}^{{commit}}", check=False).ok

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        def ask() -> tuple[bool, bool]:
            code = self.run("merge-base", "--is-ancestor", "--end-of-options", ancestor, descendant, check=False)
            return code.returncode == 0, code.returncode in (0, 1)  # else git could not tell (a commit not here yet)

        return self._once(("is-ancestor", ancestor, descendant), ask)

    def lines_at(self, commit: str, path: str) -> int | None:
        """How many lines ``path`` has at ``commit``; None if it is no file there."""
        if path.startswith("-") or "\n" in path or ":" in commit:
            return None
        result = self.run("cat-file", "blob", f"{commit}:{path.removeprefix('./')}", check=False)
        if not result.ok:
            return None
        text = result.output
        return text.count("\n") + (1 if text and not text.endswith("\n") else 0)

    def commits_ahead(self, base: str, branch: str) -> int:
        """Commits on ``branch`` not in ``base`` (``git rev-list --count base..branch``)."""
        return int(self.out("rev-list", "--count", "--end-of-options", f"{base}..{branch}"))

    def changed_files(self, base: str, branch: str) -> list[str]:
        """What ``branch`` changed since it left ``base`` (``git diff base...branch``)."""
        return _names(self.run("diff", *NAMES, "--end-of-options", f"{base}...{branch}", parsed=True).output)

    def tips(self, prefix: str = "czar/") -> dict[str, str]:
        """Every branch under ``prefix`` and the commit it points at, in one command."""
        out = self.out(
            # lstrip, not short: with a tag of the same name, short says heads/<name>
            "for-each-ref",
            "--format=%(refname:lstrip=2) %(objectname)",
            "--end-of-options",
            f"refs/heads/{prefix}",
        )
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def ignored(self, paths: Sequence[str]) -> dict[str, str]:
        """Which of ``paths`` git ignores here (a file it tracks is never one), each with the rule
        that does, as ``FILE:LINE: PATTERN`` (``git check-ignore -v``: your checkout's .gitignore
        files, its .git/info/exclude, your global excludes file). A path git will not look at (one
        beyond a link, or in a submodule) is left out; git stops at the first, so the others are
        then asked one by one."""
        found = self._check_ignore(paths)
        if found is None:
            found = {}
            for path in paths:
                found |= self._check_ignore([path]) or {}
        return found

    def _check_ignore(self, paths: Sequence[str]) -> dict[str, str] | None:
        if not paths:
            return {}
        said = self.run(
            "check-ignore", "-v", "-z", "--stdin", check=False, parsed=True, input_text="\0".join(paths) + "\0"
        )
        if said.returncode not in (0, 1):  # 1: none is ignored
            return None
        fields = said.output.split("\0")
        out: dict[str, str] = {}
        for i in range(0, len(fields) - 3, 4):
            source, line, pattern, path = fields[i : i + 4]
            if source and not pattern.startswith("!"):  # a path a `!` rule takes back is not ignored
                out[path] = f"{source}:{line}: {pattern}"
        return out

    def files_between(self, a: str, b: str) -> list[str]:
        """The files that differ between two commits (``git diff --name-only a b``)."""
        return _names(self.run("diff", *NAMES, "--end-of-options", a, b, parsed=True).output)

    def head(self, worktree: Path) -> str:
        return self.out("rev-parse", "HEAD", cwd=worktree)

    def tree(self, commit: str) -> str:
        """The commit's tree: its files, whatever its history."""
        return self._once(
            ("tree", commit),
            lambda: (self.out("rev-parse", "--verify", "--end-of-options", f"{commit}^{{tree}}"), True),
        )

    def merge_base(self, a: str, b: str) -> str | None:
        def ask() -> tuple[str | None, bool]:
            result = self.run("merge-base", "--end-of-options", a, b, check=False, parsed=True)
            if result.ok:
                return result.output.strip(), True
            if result.returncode != 1 or result.errors.strip():  # 1 alone: no history in common
                said = (result.errors.strip().splitlines() or ["timed out" if result.timed_out else "no output"])[-1]
                log.warning("git merge-base %s %s failed in %s (exit %s): %s", a, b, self.repo, result.returncode, said)
            return None, False

        return self._once(("merge-base", a, b), ask)

    def diff_zero(self, base: str, tip: str) -> str:
        """``git diff -U0`` from ``base`` to ``tip``: only the changed lines, for hunk overlaps."""
        return self._once(
            ("diff-zero", base, tip),
            lambda: (
                self.run(*WHOLE, "diff", *ZERO, "--no-renames", "--end-of-options", base, tip, parsed=True).output,
                True,
            ),
        )

    def own_changes(self, base: str, tip: str) -> str:
        return self.run(
            *WHOLE, "log", "--no-merges", "--format=", "-p", *ZERO, "--no-textconv", "--end-of-options",
            f"{base}..{tip}", "--", parsed=True,
        ).output.strip()  # fmt: skip

    def first_parent(self, commit: str) -> str | None:
        result = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{commit}^1", check=False)
        return result.output.strip() if result.ok and result.output.strip() else None

    def merge_tree(self, a: str, b: str) -> list[str] | None:
        """The files a merge of ``a`` and ``b`` would conflict in (None: it merges cleanly).

        ``git merge-tree --write-tree`` (git 2.38 or newer) merges in memory: no worktree, no ref moves.
        """
        result = self.run(
            "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", "--end-of-options", a, b, check=False
        )
        if result.returncode == 0:
            return None
        if result.returncode != 1:
            first = (result.output.strip().splitlines() or ["(no output)"])[-1]
            raise GitError(f"git merge-tree failed: {first}", output=result.output)
        return _names(result.output)[1:]  # after the tree it made

    def merge_commit(self, a: str, b: str, message: str) -> str | None:
        """A merge commit of ``a`` and ``b`` made in memory (no worktree, no ref moves); None if
        they conflict."""
        result = self.run("merge-tree", "--write-tree", "--no-messages", "--end-of-options", a, b, check=False)
        if result.returncode != 0:
            return None
        tree = result.output.split()[0]
        made = self.run(
            *CZAR_IDENTITY, "commit-tree", tree, "-p", self.commit_of(a), "-p", self.commit_of(b), "-m", message,
            check=False,
        )  # fmt: skip
        return made.output.strip() if made.ok else None

    def worktrees(self) -> set[Path]:
        out = self.out("worktree", "list", "--porcelain")
        return {Path(line[len("worktree ") :]).resolve() for line in out.splitlines() if line.startswith("worktree ")}

    def checked_out(self) -> dict[str, Path]:
        """Each branch checked out in a worktree of the repository (the user's own included)."""
        found: dict[str, Path] = {}
        where: Path | None = None
        for line in self.out("worktree", "list", "--porcelain").splitlines():
            if line.startswith("worktree "):
                where = Path(line[len("worktree ") :])
            elif line.startswith("branch refs/heads/") and where is not None:
                found[line[len("branch refs/heads/") :]] = where
        return found

    # -- changing czar's own refs and worktrees (call under the git lock) ---------------------

    def ensure_branch(self, branch: str, start: str) -> bool:
        """Create ``branch`` at ``start`` unless it exists; True if created."""
        if self.has_branch(branch):
            return False
        self.run("branch", "--no-track", "--end-of-options", branch, start)
        return True

    def ensure_worktree(
        self,
        path: Path,
        ref: str,
        *,
        detach: bool = False,
        new_branch_at: str | None = None,
        forget_allowed: bool = True,
    ) -> None:
        """Check ``ref`` out at ``path`` (a branch, or any commit with ``detach``), reusing a worktree
        already there. With ``new_branch_at``, ``ref`` is a new branch made there at once."""
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            # No folder of czar's: a link is removed, never followed to what it points at (which
            # the removal of a leftover below would delete whole); a file in its place, the same.
            path.unlink()
        path = path.resolve()
        if (path / ".git").is_file() and self.run("rev-parse", "--git-dir", cwd=path, check=False).ok:
            if detach and self.run("symbolic-ref", "-q", "HEAD", cwd=path, check=False).ok:
                self.run("checkout", "--quiet", "--detach", self.commit_of(ref), cwd=path)
            return
        if path.exists():
            # A folder left by a crash between mkdir and registration: nothing of value in it.
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        how = ["--detach"] if detach else []
        target = [ref]
        if new_branch_at is not None:
            # As a commit id: `worktree add -b` hands its start point on to `git branch` with no
            # end of options, where a name like `--force` would act as one.
            how, target = ["-b", ref], [self.commit_of(new_branch_at)]
        added = self.run("worktree", "add", "--quiet", *how, "--end-of-options", str(path), *target, check=False)
        if not added.ok:
            # Most likely a registration whose folder is gone. Forgetting it rewrites shared
            # metadata: the caller must hold the git lock exclusively (see ``GitLock``).
            if not forget_allowed:
                raise WorktreeStale(f"cannot add a worktree at {path}: {added.output.strip()[-300:]}")
            self.remove_worktree(path)
            self.run("worktree", "add", "--quiet", *how, "--end-of-options", str(path), *target)

    def remove_worktree(self, path: Path) -> None:
        """The worktree at ``path`` gone, and forgotten by the repository if its folder is gone
        already. Never ``git worktree prune``: that forgets every worktree whose folder is out of
        reach, yours too (on a drive not mounted now, or moved for a while)."""
        self.run("worktree", "remove", "--force", "--force", "--end-of-options", str(path), check=False)

    def detach(self, worktree: Path, ref: str) -> None:
        """Check ``ref`` out at ``worktree``, detached, discarding what the worktree held."""
        self.run("checkout", "--quiet", "--detach", "--force", self.commit_of(ref), cwd=worktree)

    def merge(self, worktree: Path, branch: str, message: str) -> MergeResult:
        """Merge ``branch`` into the branch checked out at ``worktree``; undo it on conflict."""
        result = self.run(
            *CZAR_IDENTITY,
            "merge",
            "--no-ff",
            "--no-edit",
            "-m",
            message,
            "--end-of-options",
            branch,
            cwd=worktree,
            check=False,
        )
        if not result.ok:
            self.run("merge", "--abort", cwd=worktree, check=False)
        # (czar's own timeout is no stop: the merge takes too long)
        killed = result.interrupted or proc.by_signal(result.returncode)
        return MergeResult(result.ok, result.output, stopped=killed and not result.timed_out)

    def move_branch(self, branch: str, new: str, old: str) -> None:
        """Point ``branch`` at ``new`` if it still points at ``old`` (compare and swap)."""
        self.run("update-ref", "-m", "czar: merge", "--end-of-options", f"refs/heads/{branch}", new, old)

    def reset_branch(self, branch: str, to: str, worktree: Path | None = None) -> None:
        """Point ``branch`` at ``to``, discarding its commits; through its worktree if it has one."""
        if worktree is not None and worktree.resolve() in self.worktrees():
            self.run("reset", "--hard", "--quiet", self.commit_of(to), cwd=worktree)
            self.run("clean", "-fdq", cwd=worktree)
        else:
            self.run("branch", "--force", "--no-track", "--end-of-options", branch, to)

    def reset_hard(self, worktree: Path, ref: str) -> None:
        self.run("reset", "--hard", "--quiet", self.commit_of(ref), cwd=worktree)

    def clean_worktree_if_present(self, worktree: Path) -> None:
        if not worktree.exists():
            self.remove_worktree(worktree)  # its folder deleted: forgotten (only it)
        if worktree.resolve() in self.worktrees():
            self.clean_worktree(worktree)

    def clean_worktree(self, worktree: Path) -> None:
        """Drop a half-done merge and stray changes in a worktree czar owns (``reset --hard`` ends
        a merge in progress too)."""
        self.run("reset", "--hard", "--quiet", "HEAD", cwd=worktree)
        self.run("clean", "-fdq", cwd=worktree)
