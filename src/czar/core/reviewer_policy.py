"""What a reviewer's agent may do: read the commit under review, never change it or run it.

Its checkout is read-only in its sandbox anyway; this is the policy its permission requests meet,
so that an agent that tries to edit, commit or run the project's code hears why not at once. A
shell command passes only if every command it would run is a reader (``READERS``, or git's
reading subcommands) and nothing is written through a redirection. The plan's own permission
rules do not widen it: they are written for authors.
"""

from __future__ import annotations

from collections.abc import Iterator

from czar.core import shell
from czar.core.options import names
from czar.core.policy import HARMLESS_TOOLS, READ_TOOLS, SHELL_TOOLS, WRITE_TOOLS, Request
from czar.core.verdicts import Decision, Verdict

# Programs that only read and print.
# (No pager, sorter or search tool whose options run programs or write files: less, sort -o,
# uniq's second file, tree -o, rg --pre.)
READERS = names("""
    ls cat head tail wc grep egrep fgrep echo printf pwd true false test diff cmp comm
    cut tr nl file stat basename dirname realpath readlink column fold
    """)
# git options that run programs or write files, whatever the subcommand.
GIT_RUNS = ("--ext-diff", "--textconv", "-O", "--open-files-in-pager", "--output", "-c", "--exec-path")
GIT_READS = names("""
    diff log show status blame grep ls-files ls-tree rev-parse cat-file shortlog describe merge-base
    rev-list whatchanged
    """)
CZAR_REVIEW = frozenset({"finding", "verdict", "board"})


def decide(req: Request) -> Verdict:
    """The verdict on one request of a reviewer's agent."""
    if req.tool.startswith("mcp__czar__") or req.tool in HARMLESS_TOOLS or req.tool in READ_TOOLS:
        return Verdict(Decision.ALLOW, "a reviewer reads")
    if req.tool in WRITE_TOOLS:
        return Verdict(Decision.DENY, "a reviewer changes nothing: say it in a finding")
    if req.tool in SHELL_TOOLS:
        return _shell(req.target)
    return Verdict(Decision.DENY, f"a reviewer reads and answers; {req.tool} is not for reviewing")


def _shell(line: str) -> Verdict:
    try:
        script = shell.parse(line)
    except shell.ShellError as exc:
        return Verdict(Decision.DENY, str(exc))
    for command in _commands(script):
        problem = _problem(command)
        if problem:
            return Verdict(Decision.DENY, f"a reviewer only reads: {problem}")
    return Verdict(Decision.ALLOW, "it only reads")


def _commands(node: shell.Script) -> Iterator[shell.Command]:
    if isinstance(node, shell.Command):
        yield node
        for sub in node.substitutions:
            yield from _commands(sub)
        return
    for sub in node.substitutions:
        yield from _commands(sub)
    if any(r.writes for r in node.redirects):
        yield shell.Command(redirects=node.redirects)  # judged for its redirection
    for part in node.parts:
        yield from _commands(part)


def _problem(command: shell.Command) -> str | None:
    if command.assignments:
        return "it sets environment variables (they can make a reader run a program)"
    written = next((r for r in command.redirects if r.writes and r.target is not None), None)
    if written is not None and written.target is not None and written.target.text != "/dev/null":
        return f"it writes {written.target.text}"
    if not command.words:
        return None
    words = [w.value for w in command.words]
    if any(w is None for w in words):
        return f"{command.words[0].source}...: only run time could tell what it runs"
    program, args = str(words[0]).rsplit("/", 1)[-1], [str(w) for w in words[1:]]
    if program in READERS:
        return None
    if program == "git":
        sub = next((a for a in args if not a.startswith("-")), "")
        if any(a.split("=", 1)[0] in GIT_RUNS or a.startswith("-O") for a in args):
            return f"git {' '.join(args[:3])}: an option that runs a program or writes a file"
        return None if sub in GIT_READS else f"git {sub} is not a reading command"
    if program == "czar":
        return None if args and args[0] in CZAR_REVIEW else f"czar {' '.join(args[:1])} is not a reviewer's command"
    return f"{program} is not a reader"
