"""Other czar processes on the machine when a benchmark starts: a run left going (a stopped
test's, a `czar up` someone forgot) shares the cores a benchmark measures, and its figures come
out slower than the machine's with nothing to say why (seen: a supervisor left by an interrupted
test took a run of the stack benchmark from 11 s to 18 s). Read from ``/proc``; said, not refused:
the person may mean to measure beside them.
"""

from __future__ import annotations

import os
from pathlib import Path

from czar.runtime.ancestry import PROC, ancestry, process

# What each czar process is, by the command it runs (``python -m czar ...`` or the ``czar`` script).
ROLES = {
    "supervise": "a supervisor",
    "run": "a `czar run`",
    "web": "`czar web`",
    "dash": "`czar dash`",
    "bench": "another benchmark",
    "czar.host": "a worker host",
    "czar.agent_tools.tools_server": "a tools server",
}


def role(cmdline: tuple[str, ...]) -> str | None:
    """What czar process ``cmdline`` is (with the plan a supervisor or run follows), or None if
    none of those a benchmark competes with (pure)."""
    for i, word in enumerate(cmdline[:4]):
        if word == "-m" and i + 1 < len(cmdline):
            module, rest = cmdline[i + 1], cmdline[i + 2 :]
        elif i > 0 and Path(word).name == "czar" and cmdline[0] != word and "python" in Path(cmdline[0]).name:
            module, rest = "czar", cmdline[i + 1 :]  # the console script, run by its interpreter
        elif i == 0 and Path(word).name == "czar":
            module, rest = "czar", cmdline[1:]
        else:
            continue
        if module != "czar":
            return ROLES.get(module)
        if not rest or rest[0] not in ROLES:
            return None
        plans = [w for w in rest[1:] if not w.startswith("-")][:1]
        return ROLES[rest[0]] + (f" ({plans[0]})" if plans and rest[0] in ("supervise", "run") else "")
    return None


def running(me: int | None = None) -> list[str]:
    """The czar processes running now, but for ``me`` (this process) and its ancestors: each as
    "role, pid N"."""
    mine = {p.pid for p in ancestry(me if me is not None else os.getpid())}
    found = []
    try:
        pids = sorted(int(e.name) for e in os.scandir(PROC) if e.name.isdigit())
    except OSError:
        return []  # no /proc: not Linux
    for pid in pids:
        if pid in mine:
            continue
        info = process(pid)
        what = role(info.cmdline) if info is not None else None
        if what is not None:
            found.append(f"{what}, pid {pid}")
    return found


def warning(found: list[str], shown: int = 4) -> str | None:
    """The line a benchmark says of them, or None (pure)."""
    if not found:
        return None
    more = f" and {len(found) - shown} more" if len(found) > shown else ""
    return (
        f"{len(found)} other czar process(es) run on this machine ({'; '.join(found[:shown])}{more}): "
        "they share the cores this measures, so its figures will be slower than the machine's"
    )
