"""A broken store (its -wal file removed, its file or folder read-only) gets one line `czar: ...`
from every command, never a traceback, and `czar down` still stops the whole run: it finds the
supervisor by its lock, tmux by its socket and the rest by their environment, not in the store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from czar.paths import ProjectPaths
from czar.runtime.proc import find_by_env
from czar.runtime.tmux import TmuxHost
from helpers import czar, make_repo, retry_until, write_plan
from run_checks import first

HANG = (
    '[[tasks]]\nid = "{tid}"\ntitle = "hangs"\nscope = ["{tid}.txt"]\n'
    "body = '''\nDo {tid}.\n\n```czar-sim\nprogress 1 starting\nhang\n```\n'''\n"
)


def _read_only(target: Path) -> list[str]:
    """A prefix that runs a command with ``target`` read-only, as a person whose store's file or
    folder lost its write permission (root ignores permissions: a read-only mount of its own)."""
    if os.geteuid() != 0:
        target.chmod(0o444 if target.is_file() else 0o555)
        return []
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, str(target)]


@pytest.mark.parametrize("damage", ["wal-removed", "read-only-file", "read-only-folder"])
def test_a_broken_store_gets_one_line_and_down_still_stops_everything(
    tmp_path: Path, czar_home: Path, damage: str
) -> None:
    make_repo(tmp_path / "repo")
    name = f"broken-{damage}"
    plan = write_plan(tmp_path, name, [HANG.format(tid="a"), HANG.format(tid="b")], workers=2)
    czar("up", str(plan), check=True)
    retry_until(lambda: first(name, lambda e: e.kind == "agent.progress"), timeout=60, what="an agent at work")
    paths = ProjectPaths.for_project(name)
    prefix: list[str] = []
    if damage == "wal-removed":
        paths.db.with_name(paths.db.name + "-wal").unlink()
    else:
        prefix = _read_only(paths.db if damage == "read-only-file" else paths.root)
    try:
        said: dict[str, tuple[int, str]] = {}
        for command in (["status"], ["run", "--timeout", "5"], ["up"], ["down"], ["status"]):
            argv = [*prefix, sys.executable, "-m", "czar", *command, str(plan)]
            r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
            assert "Traceback" not in r.stderr, r.stderr
            lines = r.stderr.strip().splitlines()
            assert len(lines) <= 1 and all(line.startswith("czar: ") for line in lines), r.stderr
            said.setdefault(command[0], (r.returncode, r.stderr))
        if damage != "read-only-file":  # a read-only file can still be read: status shows it
            assert said["status"][0] != 0 and "store" in said["status"][1]
    finally:
        for path in (paths.db, paths.root):
            path.chmod(0o600 if path.is_file() else 0o700)
    # `down` stopped everything all the same.
    assert not TmuxHost(paths.tmux_socket, paths.tmux_session).alive()
    assert find_by_env({"CZAR_HOME": str(czar_home)}) == []


def test_a_plan_that_no_longer_parses_still_lets_down_stop_its_run(tmp_path: Path, czar_home: Path) -> None:
    # Found by a probe: a syntax error typed into the plan mid-run, and `czar down` said only the
    # error: the run went on, and nothing could stop it.
    make_repo(tmp_path / "repo")
    name = "plan-broken"
    plan = write_plan(tmp_path, name, [HANG.format(tid="a")], workers=1)
    czar("up", str(plan), check=True)
    retry_until(lambda: first(name, lambda e: e.kind == "agent.progress"), timeout=60, what="an agent at work")
    plan.write_text(plan.read_text() + "oops = [\n")
    stopped = czar("down", str(plan))
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stderr.startswith("czar: warning: ") and "TOML syntax" in stopped.stderr
    assert f"stopping project {name}, last started from it" in stopped.stderr
    paths = ProjectPaths.for_project(name)
    assert not TmuxHost(paths.tmux_socket, paths.tmux_session).alive()
    assert find_by_env({"CZAR_HOME": str(czar_home)}) == []
