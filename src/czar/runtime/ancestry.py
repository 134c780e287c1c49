"""A process's line of ancestors, read from ``/proc``: who started whom, in which process group and
session, under which program. czar asks it to tell a person's command from one an agent runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    pgid: int  # its process group: an agent's children stay in the agent's unless they leave it
    sid: int  # its session: kept even by a child that forks twice and is adopted by init
    name: str  # the program's short name (``comm``)
    cmdline: tuple[str, ...]
    state: str = "R"  # ``/proc``'s one letter: "T" stopped by a signal (SIGSTOP, Ctrl-Z), "t" by a debugger

    @property
    def stopped(self) -> bool:
        return self.state in ("T", "t")


def process(pid: int) -> ProcessInfo | None:
    """What ``/proc`` says of ``pid``; None if it is gone (or there is no ``/proc``)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
    left, right = stat.find("("), stat.rfind(")")
    fields = stat[right + 2 :].split()
    if left < 0 or right < 0 or len(fields) < 4:
        return None
    cmdline = tuple(a.decode(errors="replace") for a in raw.split(b"\0") if a)
    return ProcessInfo(
        pid, int(fields[1]), int(fields[2]), int(fields[3]), stat[left + 1 : right], cmdline, state=fields[0]
    )


def ancestry(pid: int | None = None) -> list[ProcessInfo]:
    """``pid`` (this process by default), its parent, and so on up to the first process."""
    line: list[ProcessInfo] = []
    current = os.getpid() if pid is None else pid
    seen: set[int] = set()
    while current > 0 and current not in seen:
        seen.add(current)
        info = process(current)
        if info is None:
            break
        line.append(info)
        current = info.ppid
    return line


def descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, theirs, and so on, as ``/proc`` lists them now (a sandbox's
    processes hang under its ``bwrap``). Empty if ``pid`` is gone or ``/proc`` lacks the lists."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = list((PROC / str(parent) / "task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            for kid in kids:
                if kid not in found and kid != pid:
                    found.append(kid)
                    todo.append(kid)
    return found
