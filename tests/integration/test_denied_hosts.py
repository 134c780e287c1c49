"""What a worker host says when its agent's sandbox refuses it a host: an alert, once per host,
for a host the work may need (a package index: a person adds it to ``allow_hosts``); only a line
in its window for what the agent's program reaches for on its own at every start (Codex's update
check), which would otherwise raise an alert per worker per run that nobody can act on."""

from __future__ import annotations

import io
from pathlib import Path

from czar.agents.host_settings import HostSettings
from czar.host.worker_host import WorkerHost
from czar.supervisor.project import Project, open_project
from helpers import make_repo, sim_task, write_plan


def _refused(tmp_path: Path, kind: str, hosts: tuple[str, ...]) -> tuple[Project, str]:
    """A worker host of ``kind`` told that its agent's sandbox refused each of ``hosts``: the
    project, and what the host said in its window."""
    make_repo(tmp_path / "repo")
    project = open_project(write_plan(tmp_path, f"denied-{kind}", [sim_task("a")], workers=1))
    project.sync_plan()
    out = io.StringIO()
    host = WorkerHost.on_store(project.store, HostSettings(project.name, "w1", kind), out=out)
    try:
        for name in hosts:
            host._denied(name, "not an allowed host")
    finally:
        host.link.close()
    return project, out.getvalue()


def test_a_refused_host_is_an_alert_once_and_an_update_check_is_only_said(tmp_path: Path, czar_home: Path) -> None:
    hosts = ("api.github.com", "github.com", "ab.chatgpt.com", "pypi.org", "pypi.org", "chatgpt.com")
    project, said = _refused(tmp_path, "codex", hosts)
    alerts = [e.payload for e in project.store.events_after(0) if e.kind == "alert"]
    # Its experiments' host too is reached at every start; chatgpt.com may be its model's (a login).
    assert [(a["level"], a["message"]) for a in alerts] == [
        ("warning", "the agent of w1 could not reach pypi.org: not an allowed host"),
        ("warning", "the agent of w1 could not reach chatgpt.com: not an allowed host"),
    ]
    assert "could not reach api.github.com: not an allowed host (its program reaches for it at every start" in said
    assert said.count("could not reach pypi.org") == 1


def test_aiders_model_list_fetch_is_only_said(tmp_path: Path, czar_home: Path) -> None:
    project, said = _refused(tmp_path, "aider", ("raw.githubusercontent.com",))
    assert not [e for e in project.store.events_after(0) if e.kind == "alert"]
    assert "could not reach raw.githubusercontent.com" in said


def test_claude_codes_update_and_marketplace_looks_are_only_said(tmp_path: Path, czar_home: Path) -> None:
    """Claude Code on its own screen reaches for both at every start (seen offline: two alerts per
    worker and start)."""
    project, said = _refused(tmp_path, "claude", ("downloads.claude.ai", "github.com", "pypi.org"))
    alerts = [e.payload["message"] for e in project.store.events_after(0) if e.kind == "alert"]
    assert alerts == ["the agent of w1 could not reach pypi.org: not an allowed host"]
    assert "could not reach downloads.claude.ai" in said and "could not reach github.com" in said
