"""The projects under ``$CZAR_HOME``: what ``czar projects`` lists, and what the dashboard and the
web page switch between. A project is found by its folder; its plan file, recorded in its store,
opens it again."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from czar.errors import CzarError
from czar.paths import ProjectPaths, czar_home
from czar.store.store import Store
from czar.supervisor.lock import holder_pid
from czar.supervisor.project import Project, open_project


@dataclass(frozen=True)
class ProjectEntry:
    name: str
    folder: str
    plan: str | None  # the plan file it was last run from
    repo: str | None
    running: bool  # its supervisor runs
    pid: int | None
    counts: dict[str, int] = field(default_factory=dict)  # tasks by state
    last_activity: float | None = None  # its newest event
    problem: str | None = None  # why it could not be read

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def all_projects(home: Path | None = None) -> list[ProjectEntry]:
    """Every project folder that has a store, by name."""
    root = (home or czar_home()) / "projects"
    if not root.is_dir():
        return []
    return [_entry(ProjectPaths(name=d.name, root=d)) for d in sorted(root.iterdir()) if (d / "czar.db").is_file()]


def _entry(paths: ProjectPaths) -> ProjectEntry:
    held = holder_pid(paths.supervisor_lock)
    running, pid = held is not None, held if held is not None and held > 0 else None  # (-1: no pid written yet)
    try:  # (one broken project is said in its row: the others are listed all the same)
        store = Store(paths)
    except CzarError as exc:
        return ProjectEntry(paths.name, str(paths.root), None, None, running, pid, problem=str(exc))
    try:
        with store.read() as conn:
            plan = Store.get_meta(conn, "plan_path", None)
            repo = Store.get_meta(conn, "repo", None)
            tasks = Store.all_tasks(conn)
            last = Store.newest_event_id(conn)
            newest = Store.read_events(conn, after=(last or 1) - 1, limit=1) if last else []
    except CzarError as exc:
        return ProjectEntry(paths.name, str(paths.root), None, None, running, pid, problem=str(exc))
    finally:
        store.close()
    counts: dict[str, int] = {}
    for t in tasks:
        counts[t.state.value] = counts.get(t.state.value, 0) + 1
    return ProjectEntry(
        name=paths.name,
        folder=str(paths.root),
        plan=plan,
        repo=repo,
        running=running,
        pid=pid,
        counts=dict(sorted(counts.items())),
        last_activity=newest[-1].ts if newest else None,
    )


def open_named(name: str, home: Path | None = None) -> Project:
    """A project by its name, from the plan file it was last run from."""
    entry = next((p for p in all_projects(home) if p.name == name), None)
    if entry is None:
        raise CzarError(f"no project {name!r} under {(home or czar_home()) / 'projects'} (`czar projects` lists them)")
    if entry.plan is None or not Path(entry.plan).is_file():
        raise CzarError(f"project {name}: its plan file {entry.plan or '(not recorded)'} is gone")
    project = open_project(Path(entry.plan), check_repo=False)
    if project.name != name:
        raise CzarError(f"project {name}: its plan file {entry.plan} now names project {project.name}")
    return project
