"""Where programs are looked for: czar's processes find the same czar first; what runs the
project's code (agents, checks) finds the person's programs first, and an agent its `czar`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from czar.runtime import search_path

OWN = str(Path(sys.executable).parent)


@pytest.fixture
def person(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv(search_path.PERSONS_PATH, raising=False)
    monkeypatch.setenv("PATH", "/project/venv/bin:/usr/bin")
    return "/project/venv/bin:/usr/bin"


def test_czar_processes_find_czar_first_and_hand_the_persons_path_on(
    person: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = search_path.czar_env()
    assert env["PATH"] == f"{OWN}:{person}"
    assert env[search_path.PERSONS_PATH] == person
    # A process of czar's (a supervisor), then one it starts (a host): one copy of czar's folder.
    monkeypatch.setenv("PATH", env["PATH"])
    monkeypatch.setenv(search_path.PERSONS_PATH, env[search_path.PERSONS_PATH])
    assert search_path.czar_env() == env
    assert search_path.for_project_code() == f"{person}:{OWN}"


def test_project_code_gets_the_persons_path_then_czars_folder_last(person: str) -> None:
    assert search_path.for_project_code() == f"{person}:{OWN}"
    assert search_path.for_project_code(Path("/x/bin")) == f"/x/bin:{person}:{OWN}"


def test_czar_installed_in_the_persons_own_virtualenv_keeps_its_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(search_path.PERSONS_PATH, raising=False)
    monkeypatch.setenv("PATH", f"/usr/local/bin:{OWN}:/usr/bin")
    assert search_path.for_project_code() == f"/usr/local/bin:{OWN}:/usr/bin:{OWN}"


def test_an_agents_czar_folder_holds_only_czar_and_runs_this_czar(tmp_path: Path) -> None:
    folder = search_path.czar_only(tmp_path / "w1.bin")
    assert sorted(p.name for p in folder.iterdir()) == ["czar"]
    command = folder / "czar"
    assert os.access(command, os.X_OK)
    made = command.stat().st_mtime_ns
    search_path.czar_only(folder)  # the next start of the agent: nothing to write
    assert command.stat().st_mtime_ns == made
    out = subprocess.run([str(command), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Usage" in out.stdout
    command.write_text("#!/bin/sh\nexit 3\n")  # changed (or an older czar's): made again
    search_path.czar_only(folder)
    assert subprocess.run([str(command), "--help"], capture_output=True, timeout=60).returncode == 0


def test_a_persons_path_that_leaked_to_a_process_czar_did_not_start_is_not_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An agent's or a test suite's czar inherits the variable with a PATH of its own.
    monkeypatch.setenv(search_path.PERSONS_PATH, "/somewhere/else/bin")
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin")
    assert search_path.persons() == ["/usr/local/bin", "/usr/bin"]
    monkeypatch.setenv(search_path.PERSONS_PATH, "")  # empty: never a PATH with nothing on it
    monkeypatch.setenv("PATH", OWN)
    assert search_path.persons() == [OWN]


def test_an_agents_czar_is_czar_even_beside_a_czar_of_the_project(tmp_path: Path) -> None:
    # `python -m czar` run in a checkout holding a `czar.py` would run the project's file.
    folder = search_path.czar_only(tmp_path / "w1.bin")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "czar.py").write_text("raise SystemExit('the project s czar.py ran')\n")
    out = subprocess.run([str(folder / "czar"), "--help"], capture_output=True, text=True, cwd=checkout, timeout=60)
    assert out.returncode == 0 and "Usage" in out.stdout, out.stderr
