"""The permission policy: may an agent use this tool on this target, without asking a person?

Decided on the structured request (tool name and its input), never on text seen on a screen.
Order: the plan's deny rules, the plan's allow rules, czar's default denials, czar's default
allowances; a request none of them decides goes to a person (``ask``). A shell command is split
at ``&&``, ``||``, ``;`` and ``|`` and every part must be allowed; one denied part denies it.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase


class Decision(StrEnum):
    ALLOW = "allow"  # go ahead
    DENY = "deny"  # refused; the agent is told why
    ASK = "ask"  # no rule decides: a person must (denied if nobody answers in time)


@dataclass(frozen=True)
class Rule:
    tool: str  # glob over the tool name
    match: str  # glob over the target (command or path)
    reason: str = ""


@dataclass(frozen=True)
class Request:
    tool: str  # Bash, Edit, Write, Read, mcp__czar__report, ...
    target: str  # the command for shell tools, the path for file tools, "" otherwise


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str


@dataclass(frozen=True)
class Context:
    worktree: str  # absolute path of the task's worktree
    base_branch: str


SHELL_TOOLS = frozenset({"Bash", "bash", "shell", "exec_command", "run_shell_command"})
WRITE_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit", "write_file", "replace", "apply_patch"})
READ_TOOLS = frozenset({"Read", "Glob", "Grep", "LS", "read_file", "list_directory", "search_file_content"})
HARMLESS_TOOLS = frozenset({"TodoWrite", "Task", "ExitPlanMode", "update_plan"})

# Programs that only read, build or test, run inside the worktree.
SAFE_PROGRAMS = frozenset(
    [
        "ls",
        "cat",
        "head",
        "tail",
        "wc",
        "grep",
        "rg",
        "find",
        "echo",
        "printf",
        "pwd",
        "true",
        "false",
        "test",
        "diff",
        "sort",
        "uniq",
        "cut",
        "tr",
        "sed",
        "awk",
        "which",
        "env",
        "date",
        "basename",
        "dirname",
        "realpath",
        "stat",
        "file",
        "tree",
        "mkdir",
        "touch",
        "cp",
        "mv",
        "python",
        "python3",
        "pytest",
        "pip",
        "pip3",
        "uv",
        "ruff",
        "mypy",
        "black",
        "isort",
        "node",
        "npm",
        "npx",
        "yarn",
        "pnpm",
        "tsc",
        "jest",
        "vitest",
        "make",
        "cargo",
        "go",
        "rustc",
        "gcc",
        "cc",
        "javac",
        "java",
        "mvn",
        "gradle",
        "czar",
    ]
)
SAFE_GIT = frozenset(
    [
        "status",
        "diff",
        "log",
        "show",
        "add",
        "commit",
        "restore",
        "checkout",
        "switch",
        "branch",
        "merge",
        "rebase",
        "stash",
        "rev-parse",
        "ls-files",
        "blame",
        "grep",
        "fetch",
        "mv",
        "rm",
        "reset",
        "cherry-pick",
        "revert",
        "tag",
        "describe",
        "shortlog",
        "worktree",
    ]
)
DESTRUCTIVE_PROGRAMS = frozenset({"sudo", "su", "mkfs", "dd", "shutdown", "reboot", "halt", "poweroff", "chown"})
SHELLS = frozenset({"sh", "bash", "zsh", "dash", "fish"})


def decide(
    req: Request, ctx: Context, allow: Sequence[Rule] = (), deny: Sequence[Rule] = (), *, defaults: bool = True
) -> Verdict:
    """The verdict on one request (see the module docstring for the order of rules)."""
    for rule in deny:
        if _hits(rule, req):
            return Verdict(Decision.DENY, rule.reason or f"the plan denies {rule.tool} {rule.match}")
    for rule in allow:
        if _hits(rule, req):
            return Verdict(Decision.ALLOW, rule.reason or f"the plan allows {rule.tool} {rule.match}")
    if not defaults:
        return Verdict(Decision.ASK, "no rule of the plan covers it")
    return default(req, ctx)


def default(req: Request, ctx: Context) -> Verdict:
    """czar's default policy: work freely in the worktree, nothing risky outside it."""
    if req.tool.startswith("mcp__czar__") or req.tool in HARMLESS_TOOLS:
        return Verdict(Decision.ALLOW, "czar's own tools and planning tools are always allowed")
    if req.tool in READ_TOOLS:
        return Verdict(Decision.ALLOW, "reading is allowed")
    if req.tool in WRITE_TOOLS:
        if inside(req.target, ctx.worktree):
            return Verdict(Decision.ALLOW, "edits inside the task's worktree are allowed")
        return Verdict(Decision.DENY, f"{req.target} is outside the task's worktree")
    if req.tool in SHELL_TOOLS:
        return _command(req.target, ctx)
    return Verdict(Decision.ASK, f"no rule covers the tool {req.tool}")


def inside(path: str, root: str) -> bool:
    """True if ``path`` (absolute, or relative to ``root``) stays within ``root``."""
    if not path or path.startswith(("~", "$")):
        return False  # a home folder or a variable: somewhere a shell would decide, not here
    full = posixpath.normpath(path if path.startswith("/") else posixpath.join(root, path))
    root = posixpath.normpath(root)
    return full == root or full.startswith(root + "/")


def _hits(rule: Rule, req: Request) -> bool:
    return fnmatchcase(req.tool, rule.tool) and fnmatchcase(req.target, rule.match)


def _parts(command: str) -> list[list[str]] | None:
    """The simple commands of a command line, or None if it cannot be split into words."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:
        return None
    parts: list[list[str]] = [[]]
    for word in words:
        if word and set(word) <= set(";&|"):
            parts.append([])
        else:
            parts[-1].append(word)
    return [p for p in parts if p]


def _command(command: str, ctx: Context) -> Verdict:
    parts = _parts(command)
    if not parts:
        return Verdict(Decision.ASK, "the command cannot be read")
    verdicts = [_simple(words, ctx) for words in parts]
    for v in verdicts:
        if v.decision is Decision.DENY:
            return v
    for v in verdicts:
        if v.decision is Decision.ASK:
            return v
    return Verdict(Decision.ALLOW, "; ".join(dict.fromkeys(v.reason for v in verdicts)))


def _simple(words: list[str], ctx: Context) -> Verdict:
    while words and "=" in words[0] and not words[0].startswith("="):
        words = words[1:]  # VAR=value prefixes
    if not words:
        return Verdict(Decision.ALLOW, "an assignment")
    program = posixpath.basename(words[0])
    args = words[1:]
    if program in DESTRUCTIVE_PROGRAMS:
        return Verdict(Decision.DENY, f"{program} is never allowed")
    if program in SHELLS:
        return Verdict(Decision.ASK, f"{program} runs a script czar cannot read")
    if program == "git":
        return _git(args, ctx)
    if program in ("rm", "rmdir", "chmod", "cp", "mv", "mkdir", "touch", "ln"):
        outside = [a for a in args if not a.startswith("-") and not inside(a, ctx.worktree)]
        if outside:
            return Verdict(Decision.DENY, f"{program} would touch {outside[0]}, outside the task's worktree")
        return Verdict(Decision.ALLOW, f"{program} inside the worktree")
    if program in SAFE_PROGRAMS:
        return Verdict(Decision.ALLOW, "building, testing and reading are allowed")
    return Verdict(Decision.ASK, f"no rule covers the program {program}")


def _git(args: list[str], ctx: Context) -> Verdict:
    while args[:1] in (["-C"], ["-c"]) and len(args) >= 2:
        if args[0] == "-C" and not inside(args[1], ctx.worktree):
            return Verdict(Decision.DENY, f"git -C {args[1]} works outside the task's worktree")
        args = args[2:]
    sub = next((a for a in args if not a.startswith("-")), "")
    if sub == "push":
        rest = args[args.index("push") + 1 :]
        targets = [a.split(":")[-1].removeprefix("refs/heads/") for a in rest if not a.startswith("-")][1:]
        if not targets or ctx.base_branch in targets or any(a in ("--all", "--mirror") for a in rest):
            return Verdict(Decision.DENY, f"pushing (to {ctx.base_branch} or without naming a branch) is not allowed")
        return Verdict(Decision.ASK, "pushing a branch needs a person")
    if sub in SAFE_GIT:
        return Verdict(Decision.ALLOW, f"git {sub} in the worktree is allowed")
    return Verdict(Decision.ASK, f"no rule covers git {sub or '(no subcommand)'}")
