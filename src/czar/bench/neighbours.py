"""Other czar processes on the machine when a benchmark starts: a run left going (a stopped
test's, a `czar up` someone forgot) shares the cores a benchmark measures, and its figures come
out slower than the machine's with nothing to say why (seen: a supervisor left by an interrupted
test took a run of the stack benchmark from 11 s to 18 s). Read from ``/proc``; said, not refused:
the person may mean to measure beside them.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

from czar.runtime.ancestry import PROC, ancestry, process

# What each czar process is, by what it runs: a command of ``czar`` (``python -m czar ...`` or the
# ``czar`` script), or a module of czar's own. A person's supervisor is ``supervise`` (what
# ``czar up`` starts) or ``up --foreground``.
COMMANDS = {
    "supervise": "a supervisor",
    "up": "a supervisor",  # only with --foreground: else it starts one and is gone
    "run": "a `czar run`",
    "demo": "a `czar demo`",
    "web": "`czar web`",
    "dash": "`czar dash`",
    "bench": "another benchmark",
    "worker-host": "a worker host",
}
MODULES = {"czar.host": "a worker host", "czar.agent_tools.tools_server": "a tools server"}
# The roles counted, with their plurals; each of the others (a supervisor, a run, a benchmark: what
# a person stops) is named with its plan and pid.
PLURALS = {
    "a worker host": "worker hosts",
    "a tools server": "tools servers",
    "`czar web`": "`czar web` servers",
    "`czar dash`": "`czar dash` screens",
}
INTERPRETER = re.compile(r"(python|pypy)[0-9.]*")
WITH_VALUE = ("-X", "-W")  # the interpreter's options that take the next word as theirs


def role(cmdline: tuple[str, ...]) -> tuple[str, str | None] | None:
    """What czar process ``cmdline`` is, and the plan it names (a ``.toml`` among its words), or
    None if none of those a benchmark competes with (pure)."""
    if not cmdline:
        return None
    if Path(cmdline[0]).name == "czar":
        return _command(cmdline[1:])
    if not INTERPRETER.fullmatch(Path(cmdline[0]).name):
        return None
    words = iter(cmdline[1:])
    for word in words:
        if word in WITH_VALUE:
            next(words, None)
        elif word == "-m":
            module = next(words, "")
            rest = tuple(words)
            return _command(rest) if module == "czar" else ((MODULES[module], None) if module in MODULES else None)
        elif word == "-c" or word == "-" or not word.startswith("-"):
            # A program given on the command line, read from standard input, or a script: czar's
            # own script alone is czar.
            return _command(tuple(words)) if Path(word).name == "czar" else None
    return None


def _command(rest: tuple[str, ...]) -> tuple[str, str | None] | None:
    if not rest or rest[0] not in COMMANDS or (rest[0] == "up" and "--foreground" not in rest):
        return None
    plans = [w for w in rest[1:] if w.endswith(".toml") and not w.startswith("-")]
    return COMMANDS[rest[0]], (plans[0] if plans else None)


def running(me: int | None = None) -> list[tuple[str, str | None, int]]:
    """The czar processes running now, but for ``me`` (this process) and its ancestors: each
    one's role, plan and pid."""
    mine = {p.pid for p in ancestry(me if me is not None else os.getpid())}
    try:
        pids = sorted(int(e.name) for e in os.scandir(PROC) if e.name.isdigit())
    except OSError:
        return []  # no /proc: not Linux
    found = []
    for pid in pids:
        info = process(pid) if pid not in mine else None
        what = role(info.cmdline) if info is not None else None
        if what is not None:
            found.append((what[0], what[1], pid))
    return found


def warning(found: list[tuple[str, str | None, int]]) -> str | None:
    """The line a benchmark says of them, or None (pure): each supervisor, run and benchmark with
    its plan and pid (what a person stops), and how many of the rest."""
    if not found:
        return None
    named = [f"{what}{f' ({plan})' if plan else ''}, pid {pid}" for what, plan, pid in found if what not in PLURALS]
    counted = Counter(what for what, _, _ in found if what in PLURALS)
    rest = [what if n == 1 else f"{n} {PLURALS[what]}" for what, n in sorted(counted.items())]
    return (
        f"{len(found)} other czar process(es) run on this machine ({'; '.join([*named, *rest])}): "
        "they share the cores this measures, so its figures will be slower than the machine's"
    )
