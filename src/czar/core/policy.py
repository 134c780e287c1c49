"""The permission policy: may an agent use this tool on this target, without asking a person?

Decided on the structured request (tool name and its input), never on text seen on a screen.
Order: the plan's deny rules, the plan's allow rules, czar's defaults; with ``defaults = false``
what the plan's rules do not decide goes to a person (``ask``).

A shell command is parsed as bash would read it (``core.shell``), every command it would run is
found (through ``env``, ``sh -c``, ``$(...)``, pipes, ``&&``, newlines, ...) and each one is
decided: the plan's rules match each command as czar reads it (``npm publish*`` matches
``env FOO=1 npm publish``), and one denied command denies the whole line, one that needs a
person sends it to a person. A command czar cannot parse is denied.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from czar.core import commands, shell
from czar.core.verdicts import Context, Decision, Verdict, git_files, inside, worst, writable

# The most a permission request waits for a person (the plan's permission_timeout normally decides
# long before), and how long whatever waits for such a decision waits: a minute more. Each timeout
# on the way (the agent's own, its hook's call to its worker host, the host's to the tools server)
# is at least that, or the wait ends on a timeout and the person's answer reaches nobody.
PERSON_WAIT_SECONDS = 3600
DECISION_WAIT_SECONDS = PERSON_WAIT_SECONDS + 60

__all__ = ["Context", "Decision", "Request", "Rule", "Verdict", "decide", "default", "inside", "target_of"]


@dataclass(frozen=True)
class Rule:
    tool: str  # glob over the tool name
    match: str  # glob over the target (a command as czar reads it, or a path)
    reason: str = ""


@dataclass(frozen=True)
class Request:
    tool: str  # Bash, Edit, Write, Read, mcp__czar__report, ...
    target: str  # the command for shell tools, the path for file tools, "" otherwise


SHELL_TOOLS = frozenset({"Bash", "bash", "shell", "exec_command", "run_shell_command"})
WRITE_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit", "write_file", "replace", "apply_patch"})
READ_TOOLS = frozenset({"Read", "Glob", "Grep", "LS", "read_file", "list_directory", "search_file_content"})
HARMLESS_TOOLS = frozenset({"TodoWrite", "Task", "ExitPlanMode", "update_plan"})


def decide(
    req: Request, ctx: Context, allow: Sequence[Rule] = (), deny: Sequence[Rule] = (), *, defaults: bool = True
) -> Verdict:
    """The verdict on one request (see the module docstring for the order of rules)."""
    if req.tool in SHELL_TOOLS:
        return _shell(req, ctx, allow, deny, defaults)
    for rule in deny:
        if _hits(rule, req.tool, req.target):
            return Verdict(Decision.DENY, rule.reason or f"the plan denies {rule.tool} {rule.match}")
    for rule in allow:
        if _hits(rule, req.tool, req.target):
            return Verdict(Decision.ALLOW, rule.reason or f"the plan allows {rule.tool} {rule.match}")
    if not defaults:
        return Verdict(Decision.ASK, "no rule of the plan covers it")
    return default(req, ctx)


def default(req: Request, ctx: Context) -> Verdict:
    """czar's default policy: work freely in the checkout, nothing risky outside it."""
    if req.tool.startswith("mcp__czar__") or req.tool in HARMLESS_TOOLS:
        return Verdict(Decision.ALLOW, "czar's own tools and planning tools are always allowed")
    if req.tool in READ_TOOLS:
        return Verdict(Decision.ALLOW, "reading is allowed")
    if req.tool in WRITE_TOOLS:
        full = req.target if req.target.startswith("/") else f"{ctx.worktree}/{req.target}"
        if git_files(full, ctx) is not None:
            return Verdict(Decision.DENY, f"{req.target} is a repository's own git files (only git writes there)")
        if inside(req.target, ctx.worktree) or (req.target.startswith("/") and writable(full, ctx)):
            return Verdict(Decision.ALLOW, "edits inside the task's worktree are allowed")
        return Verdict(Decision.DENY, f"{req.target} is outside the task's worktree")
    if req.tool in SHELL_TOOLS:
        return _shell(req, ctx, (), (), True)
    return Verdict(Decision.ASK, f"no rule covers the tool {req.tool}")


def _hits(rule: Rule, tool: str, target: str) -> bool:
    return fnmatchcase(tool, rule.tool) and fnmatchcase(target, rule.match)


def _shell(req: Request, ctx: Context, allow: Sequence[Rule], deny: Sequence[Rule], defaults: bool) -> Verdict:
    for rule in deny:
        if _hits(rule, req.tool, req.target):
            return Verdict(Decision.DENY, rule.reason or f"the plan denies {rule.tool} {rule.match}")
    try:
        script = shell.parse(req.target)
    except shell.ShellError as exc:
        return Verdict(Decision.DENY, str(exc))
    verdicts = []
    for finding in commands.judge(script, ctx, text=req.target):
        verdicts.append(_ruled(req.tool, finding, allow, deny, defaults))
    return worst(verdicts, Verdict(Decision.ALLOW, "nothing to run"))


def _ruled(
    tool: str, finding: commands.CommandVerdict, allow: Sequence[Rule], deny: Sequence[Rule], defaults: bool
) -> Verdict:
    for rule in deny:
        if _hits(rule, tool, finding.command):
            return Verdict(Decision.DENY, rule.reason or f"the plan denies {rule.tool} {rule.match}")
    for rule in allow:
        if _hits(rule, tool, finding.command):
            return Verdict(Decision.ALLOW, rule.reason or f"the plan allows {rule.tool} {rule.match}")
    if not defaults:
        return Verdict(Decision.ASK, f"no rule of the plan covers `{finding.command}`")
    return finding.verdict


def target_of(tool_name: str, tool_input: dict[str, Any]) -> str:
    """What an agent's tool use is about, for the policy: the command, or the path, or its input. A
    command to run in another folder (Gemini CLI's ``dir_path``, say) is judged as run there. Here,
    not with the agent tools: a tool-use hook (`czar hook`, at each tool use) must not load the store."""
    for key in ("command", "cmd", "file_path", "path", "notebook_path", "url"):
        value = tool_input.get(key)
        if isinstance(value, str):
            folder = next((tool_input[k] for k in _FOLDER_KEYS if isinstance(tool_input.get(k), str)), "")
            if key in ("command", "cmd") and folder:
                return f"cd {shlex.quote(folder)} && {value}"
            return value
    return json.dumps(tool_input, sort_keys=True)[:1000]


_FOLDER_KEYS = ("dir_path", "directory", "workdir", "cwd")
