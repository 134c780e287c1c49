"""What a benchmark scenario is: a repository, a plan with simulated agents, the failures it
injects, and the targets it must meet."""

from __future__ import annotations

from dataclasses import dataclass, field

from czar.plan.toml_text import toml_string, toml_strings


@dataclass
class Scenario:
    name: str
    workers: int
    files: dict[str, str]  # the repository's first commit
    tasks: list[str]  # TOML ``[[tasks]]`` entries
    project: str = ""  # extra lines for ``[project]``
    sections: str = ""  # extra tables: ``[health]`` ...
    injected: list[tuple[str, str]] = field(default_factory=list)  # (failure kind, task)
    durations: dict[str, float] = field(default_factory=dict)  # seconds of work per task, for the lower bound
    edges: dict[str, tuple[str, ...]] = field(default_factory=dict)
    accuracy: bool = True  # check each task's acceptance and scope on the integration branch
    targets: dict[str, float] = field(default_factory=dict)

    def plan(self) -> str:
        head = f'[project]\nname = "bench-{self.name}"\nrepo = "repo"\n{self.project}\n'
        head += f'[workers]\ncount = {self.workers}\nagent = "sim"\n\n{self.sections}\n'
        return head + "\n".join(self.tasks)


def toml_task(
    tid: str,
    title: str,
    prose: str,
    script: str,
    *,
    deps: tuple[str, ...] = (),
    scope: tuple[str, ...] = (),
    accept: tuple[str, ...] | None = None,
    extra: str = "",
) -> str:
    """One ``[[tasks]]`` entry: prose for a real agent, and the ``czar-sim`` script that does it."""
    lines = [
        "[[tasks]]",
        f"id = {toml_string(tid)}",
        f"title = {toml_string(title)}",
        f"depends_on = {toml_strings(deps)}",
        f"scope = {toml_strings(scope)}",
    ]
    if accept is not None:
        lines.append(f"accept = {toml_strings(accept)}")
    if extra:
        lines.append(extra.rstrip())
    body = f"{prose.strip()}\n\n```czar-sim\n{script.strip()}\n```\n"
    # As written, where TOML's literal string can hold it; escaped where not (a commit subject of a
    # history replayed may hold three quotes, or a control character).
    literal = "'''" not in body and all(
        c in "\n\t" or (c >= " " and c != "\x7f" and not "\ud800" <= c <= "\udfff") for c in body
    )
    lines.append(f"body = '''\n{body}'''\n" if literal else f"body = {toml_string(body)}\n")
    return "\n".join(lines)


def write(path: str, text: str) -> str:
    """A ``write`` action of the sim's script language."""
    return f"write {path} <<EOF\n{text.rstrip()}\nEOF\n"
