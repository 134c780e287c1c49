"""The agent's sandbox, with the real bubblewrap and real git: what the kernel lets it touch.

Each test runs hostile commands inside the sandbox czar builds for a task and checks, from outside,
that nothing beyond the task's checkout, its home and its temp folder changed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from czar.runtime import sandbox
from czar.vcs import checkout
from czar.vcs.git import Git
from helpers import git, make_repo

pytestmark = pytest.mark.skipif(sandbox.available() is not None, reason=f"no sandbox here: {sandbox.available()}")


def _layout(tmp_path: Path) -> tuple[Path, Path, Path, Path, Path]:
    """The user's repository, czar's data folder, two task checkouts, and the agent's home."""
    repo = make_repo(tmp_path / "repo")
    data = tmp_path / "czar-home"
    g = Git(repo)
    for task in ("a", "b"):
        g.ensure_branch(f"czar/{task}", "main")
        checkout.make(g, data / "projects" / "p" / "worktrees" / task, f"czar/{task}")
    store = data / "projects" / "p" / "czar.db"
    store.write_text("secret store\n")
    home = data / "projects" / "p" / "agents" / "w1"
    return repo, data, data / "projects" / "p" / "worktrees" / "a", data / "projects" / "p" / "worktrees" / "b", home


def _run(confine: sandbox.Confinement, script: str) -> subprocess.CompletedProcess[str]:
    argv = sandbox.wrap(["sh", "-c", script], confine)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def _confine(repo: Path, data: Path, task: Path, home: Path) -> sandbox.Confinement:
    return sandbox.for_task(task, home=home, data=data, repo=repo, objects=Git(repo).common_dir() / "objects")


def test_the_agent_commits_in_its_checkout_and_czar_brings_the_branch_in(tmp_path: Path) -> None:
    repo, data, mine, _other, home = _layout(tmp_path)
    ident = "-c user.name=agent -c user.email=agent@x"
    result = _run(
        _confine(repo, data, mine, home), f"echo work > work.txt && git add work.txt && git {ident} commit -qm work"
    )
    assert result.returncode == 0, result.stderr
    g = Git(repo)
    before = g.tip("czar/a")
    after = checkout.harvest(g, mine, "czar/a", before)
    assert after != before
    assert git(repo, "show", "czar/a:work.txt") == "work"
    # Nothing moved since: nothing to fetch.
    assert checkout.harvest(g, mine, "czar/a", after) == after


HOSTILE = [
    # the user's checkout and repository
    "echo pwned > {repo}/README.md",
    "env rm -rf {repo}/README.md",
    "git --git-dir={repo}/.git branch -f main HEAD",
    "git --git-dir={repo}/.git update-ref refs/heads/main HEAD",
    "git --git-dir={repo}/.git stash",
    "git fetch --update-head-ok {repo} HEAD:main",
    "rm -rf {repo}/.git/objects",
    "git -c core.hooksPath={repo} commit --allow-empty -qm x; touch {repo}/.git/hooks/pre-commit",
    "find {repo} -name README.md -delete",
    "sed -i s/sample/pwned/ {repo}/README.md",
    "cp --target-directory={repo} /etc/hostname",
    "ln -sf {repo}/README.md link && echo pwned > link",
    "x=$(echo {repo}/README.md); echo pwned > $x",
    "echo pwned > `echo {repo}/README.md`",
    # other tasks' checkouts, czar's store, other workers' homes
    "echo pwned > {other}/a.txt",
    "rm -rf {other}",
    "git -C {other} commit --allow-empty -qm pwned",
    "echo pwned > {store}",
    "mkdir -p {data}/projects/p/agents/w2 && echo pwned > {data}/projects/p/agents/w2/x",
    # what root could do with capabilities: uncover what is hidden, remount the machine writable
    "umount -l {data}; umount -l {data}; echo pwned > {store}",
    "umount -l {repo}; echo pwned > {repo}/README.md",
    "mount -o remount,bind,rw / && echo pwned > {repo}/README.md",
    "mount -o remount,rw {repo}/.git/objects && rm -rf {repo}/.git/objects",
]


@pytest.mark.parametrize("command", HOSTILE)
def test_what_lies_outside_the_task_is_out_of_reach(tmp_path: Path, command: str) -> None:
    repo, data, mine, other, home = _layout(tmp_path)
    store = data / "projects" / "p" / "czar.db"

    def state() -> tuple[str, ...]:
        return (
            (repo / "README.md").read_text(),
            git(repo, "for-each-ref"),
            git(repo, "stash", "list"),
            git(repo, "status", "--porcelain"),
            git(repo, "fsck", "--connectivity-only"),
            str(sorted(p.name for p in (repo / ".git" / "hooks").iterdir())),
            git(other, "log", "--oneline"),
            str(sorted(p.name for p in other.iterdir())),
            store.read_text(),
            str((data / "projects" / "p" / "agents" / "w2").exists()),
        )

    before = state()
    _run(_confine(repo, data, mine, home), command.format(repo=repo, other=other, store=store, data=data))
    assert state() == before


def test_the_store_other_checkouts_and_other_processes_are_invisible(tmp_path: Path) -> None:
    repo, data, mine, other, home = _layout(tmp_path)
    outside = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        script = (
            f"cat {data}/projects/p/czar.db; ls {other}; cat {repo}/README.md; "
            f"test -e /proc/{outside.pid} && echo visible; ls /proc | grep -c '^[0-9]'; echo done"
        )
        result = _run(_confine(repo, data, mine, home), script)
    finally:
        outside.kill()
        outside.wait()
    assert "secret store" not in result.stdout
    assert "a.txt" not in result.stdout and "# sample" not in result.stdout
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "done"
    assert "visible" not in lines
    assert int(lines[-2]) <= 5  # bwrap's init, the shell, and what it runs: nothing of the machine's


def test_the_agent_writes_its_home_and_temp_folder(tmp_path: Path) -> None:
    repo, data, mine, _other, home = _layout(tmp_path)
    result = _run(
        _confine(repo, data, mine, home), f"echo a > {home}/note && echo b > /tmp/scratch && cat /tmp/scratch"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "b"
    assert (home / "note").read_text() == "a\n"
    assert (home.with_name(home.name + ".tmp") / "scratch").read_text() == "b\n"


def test_the_user_home_is_hidden_but_for_git_settings_and_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, data, mine, _other, home = _layout(tmp_path)
    user = tmp_path / "user-home"
    secrets = {
        ".ssh/id_ed25519": "PRIVATE KEY",
        ".netrc": "machine x password hunter2",
        ".bash_history": "export TOKEN=sk-history",
        ".config/someapp/token": "app-token",
        "other-project/.env": "DB_PASSWORD=other",
        ".config/git/credentials": "https://user:git-token@example.com",
    }
    for rel, text in {
        **secrets,
        ".gitconfig": "[user]\n\tname = Someone\n",
        ".local/bin/tool": "#!/bin/sh\necho tool ran\n",
    }.items():
        (user / rel).parent.mkdir(parents=True, exist_ok=True)
        (user / rel).write_text(text + "\n")
    (user / ".local" / "bin" / "tool").chmod(0o755)
    monkeypatch.setenv("HOME", str(user))
    names = " ".join(str(user / rel) for rel in secrets)
    result = _run(_confine(repo, data, mine, home), f"cat {names}; ls -A {user}; echo done")
    for text in secrets.values():
        assert text not in result.stdout
    assert "other-project" not in result.stdout and ".ssh" not in result.stdout
    assert result.stdout.strip().endswith("done")
    kept = _run(
        _confine(repo, data, mine, home), f"git config --file {user}/.gitconfig user.name; {user}/.local/bin/tool"
    )
    assert kept.stdout.split() == ["Someone", "tool", "ran"], kept.stderr
    wrote = _run(
        _confine(repo, data, mine, home), f"echo planted >> {user}/.gitconfig; echo x > {user}/.bashrc; echo done"
    )
    assert wrote.stdout.strip().endswith("done")
    assert "planted" not in (user / ".gitconfig").read_text() and not (user / ".bashrc").exists()


def test_a_checkout_has_only_its_own_branch_and_no_remote(tmp_path: Path) -> None:
    repo, _data, mine, _other, _home = _layout(tmp_path)
    git(repo, "branch", "feature")
    assert git(mine, "branch", "--all", "--format=%(refname)") == "refs/heads/czar/a"
    assert git(mine, "remote") == ""
    assert checkout.tip(mine, "czar/a") == git(repo, "rev-parse", "czar/a")
    # Packed refs are read too.
    git(mine, "pack-refs", "--all")
    assert checkout.tip(mine, "czar/a") == git(repo, "rev-parse", "czar/a")
    assert checkout.tip(mine, "czar/none") is None


def test_tmux_servers_and_runtime_sockets_are_out_of_reach(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tmux server (czar's, or yours) would let an agent type into another pane, outside its
    sandbox; a socket in the session's runtime folder would let it reach D-Bus and the like."""
    import shutil
    import socket as sockets
    import tempfile

    repo, data, mine, _other, home = _layout(tmp_path)
    # Outside /tmp, which the sandbox replaces anyway: what must hide it is knowing it is a runtime folder.
    runtime = Path(tempfile.mkdtemp(prefix="czar-runtime-", dir="/var/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("TMUX_TMPDIR", str(runtime))
    server = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    server.bind(str(runtime / "bus"))
    server.listen(1)
    name = f"czar-sandbox-test-{tmp_path.name}"
    subprocess.run(["tmux", "-L", name, "new-session", "-d", "sleep", "60"], check=True)
    try:
        outside = subprocess.run(["tmux", "-L", name, "list-sessions"], capture_output=True, check=False)
        assert outside.returncode == 0
        script = (
            f"tmux -L {name} list-sessions && echo reached-tmux; "
            f"python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); s.connect('{runtime}/bus')\" "
            "&& echo reached-bus; echo done"
        )
        result = _run(_confine(repo, data, mine, home), script)
    finally:
        subprocess.run(["tmux", "-L", name, "kill-server"], check=False)
        server.close()
        shutil.rmtree(runtime, ignore_errors=True)
    assert "reached" not in result.stdout
    assert result.stdout.strip().endswith("done")


def test_links_the_agent_leaves_cannot_turn_czar_against_the_machine(tmp_path: Path) -> None:
    """czar writes the agent's settings into its home and binds its temp folder: a link the agent
    planted there must not make czar write, or bind read-write, what lies outside."""
    repo, data, mine, _other, home = _layout(tmp_path)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "settings.json").write_text("the user's\n")
    confine = _confine(repo, data, mine, home)
    plant = f"ln -s {victim} {home}/.claude; ln -s {victim}/settings.json {home}/settings.json; "
    plant += f"rm -rf {home}.tmp; ln -s {victim} {home}.tmp; echo done"
    result = _run(confine, plant)
    assert result.stdout.strip().endswith("done")
    assert (home / ".claude").is_symlink()  # it could plant links in its own home
    assert not (home.with_name(home.name + ".tmp")).is_symlink()  # but not replace its /tmp
    confine = _confine(repo, data, mine, home)  # the next start: czar prepares the home again
    assert not (home / ".claude").exists() and not (home / "settings.json").exists()
    (home / "settings.json").write_text("czar's\n")
    assert _run(confine, "echo mine > /tmp/x; echo done").stdout.strip() == "done"
    assert sorted(p.name for p in victim.iterdir()) == ["settings.json"]
    assert (victim / "settings.json").read_text() == "the user's\n"


def test_a_checkout_is_made_whole_or_not_at_all(tmp_path: Path) -> None:
    """A clone is made beside its place and moved in: a crash midway leaves no half clone where
    czar (or an agent) would take it for a whole one, and the next try starts clean."""
    repo = make_repo(tmp_path / "repo")
    g = Git(repo)
    g.ensure_branch("czar/a", "main")
    place = tmp_path / "worktrees" / "a"
    half = place.with_name(".a.making")
    (half / ".git").mkdir(parents=True)  # what a crash during the clone leaves
    assert not checkout.is_checkout(place)
    checkout.make(g, place, "czar/a")
    assert checkout.is_checkout(place) and not half.exists()
    assert git(place, "symbolic-ref", "HEAD") == "refs/heads/czar/a"
    assert (place / "README.md").read_text() == "# sample\n"


def test_what_a_killed_git_command_left_locked_is_freed_and_nothing_outside(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    g = Git(repo)
    g.ensure_branch("czar/a", "main")
    place = tmp_path / "worktrees" / "a"
    checkout.make(g, place, "czar/a")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.lock").write_text("someone else's\n")
    (place / ".git" / "index.lock").write_text("")
    (place / ".git" / "refs" / "heads" / "czar" / "a.lock").write_text("")
    (place / ".git" / "refs" / "elsewhere").symlink_to(outside)  # links are not followed
    (place / ".git" / "planted.lock").symlink_to(outside / "keep.lock")
    removed = checkout.unlock(place)
    assert sorted(removed) == ["index.lock", "planted.lock", "refs/heads/czar/a.lock"]
    assert (outside / "keep.lock").read_text() == "someone else's\n"
    (place / "x.txt").write_text("x\n")
    git(place, "add", "x.txt")  # git works there again
    # A git folder the agent made a link to another repository's is not touched.
    (repo / ".git" / "index.lock").write_text("")
    shutil.rmtree(place / ".git")
    (place / ".git").symlink_to(repo / ".git")
    assert checkout.unlock(place) == []
    assert (repo / ".git" / "index.lock").exists()


def test_programs_kept_where_the_sandbox_hides_them(tmp_path: Path) -> None:
    """An agent's program (or czar itself) installed under /tmp, which the sandbox replaces, or
    under a hidden folder, stays there to be run, read-only."""
    repo, data, mine, _other, home = _layout(tmp_path)
    package = tmp_path / "tools" / "node_modules" / "agent"
    (tmp_path / "tools" / "node_modules" / ".bin").mkdir(parents=True)
    package.mkdir()
    (package / "cli.sh").write_text("#!/bin/sh\necho agent ran\n")
    (package / "cli.sh").chmod(0o755)
    (tmp_path / "tools" / "node_modules" / ".bin" / "agent").symlink_to(package / "cli.sh")
    command = str(tmp_path / "tools" / "node_modules" / ".bin" / "agent")
    assert tmp_path / "tools" / "node_modules" in sandbox.program_folders(command)
    confine = sandbox.for_task(
        mine,
        home=home,
        data=data,
        repo=repo,
        objects=None,
        programs=sandbox.program_folders(command),
    )
    result = subprocess.run(sandbox.wrap([command], confine), capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "agent ran", result.stderr
    assert _run(confine, f"echo x > {package}/cli.sh; cat {package}/cli.sh").stdout.startswith("#!/bin/sh")


def test_programs_installed_in_the_user_home_run_and_nothing_else_of_it_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An npm global install (a launcher in ``~/.npm-global/bin`` linking into its package) and a
    pipx-style virtual environment: each runs in the sandbox, and a folder of the home that is
    neither stays hidden."""
    repo, data, mine, _other, home = _layout(tmp_path)
    user = tmp_path / "user-home"
    package = user / "prefix" / "lib" / "node_modules" / "agent"
    package.mkdir(parents=True)
    (package / "cli.sh").write_text("#!/bin/sh\necho npm agent ran\n")
    (package / "cli.sh").chmod(0o755)
    (user / "prefix" / "bin").mkdir()
    (user / "prefix" / "bin" / "agent").symlink_to(package / "cli.sh")
    venv = user / "venvs" / "tool"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {Path(sys.executable).resolve().parent}\n")
    (venv / "lib").mkdir()
    (venv / "lib" / "code.txt").write_text("venv code\n")
    (venv / "bin" / "tool").write_text(f"#!/bin/sh\ncat {venv}/lib/code.txt\n")
    (venv / "bin" / "tool").chmod(0o755)
    (user / "private").mkdir()
    (user / "private" / "notes.txt").write_text("not for agents\n")
    monkeypatch.setenv("HOME", str(user))
    for command, said in ((user / "prefix" / "bin" / "agent", "npm agent ran"), (venv / "bin" / "tool", "venv code")):
        confine = sandbox.for_task(
            mine, home=home, data=data, repo=repo, objects=None, programs=sandbox.program_folders(str(command))
        )
        result = subprocess.run(sandbox.wrap([str(command)], confine), capture_output=True, text=True, timeout=60)
        assert result.stdout.strip() == said, result.stderr
        assert "not for agents" not in _run(confine, f"cat {user}/private/notes.txt; echo done").stdout


def test_czar_data_reached_through_a_link_stays_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """czar's data folder in the user's home under a link (``~/.local/share`` pointing to another
    disk, say): the home is hidden first, the link with it, so the data must be hidden by where it
    really is, not only by the path it was given."""
    repo = make_repo(tmp_path / "repo")
    user = tmp_path / "user-home"
    (user / ".local").mkdir(parents=True)
    # Outside /tmp, which the sandbox replaces with the agent's own anyway.
    disk = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="czar-test-disk-"))
    request.addfinalizer(lambda: shutil.rmtree(disk, ignore_errors=True))
    (user / ".local" / "share").symlink_to(disk)
    monkeypatch.setenv("HOME", str(user))
    data = user / ".local" / "share" / "czar-home"
    g = Git(repo)
    g.ensure_branch("czar/a", "main")
    mine = data / "projects" / "p" / "worktrees" / "a"
    checkout.make(g, mine, "czar/a")
    (data / "projects" / "p" / "czar.db").write_text("STORE-SECRET\n")
    confine = sandbox.for_task(mine, home=data / "projects" / "p" / "agents" / "w1", data=data, repo=repo, objects=None)
    real = disk / "czar-home" / "projects" / "p" / "czar.db"
    result = _run(confine, f"cat {real}; echo done")
    assert "STORE-SECRET" not in result.stdout and result.stdout.strip().endswith("done")


def test_a_shared_folder_of_yours_is_read_only_in_the_checkout_and_never_where_a_link_points(tmp_path: Path) -> None:
    repo, data, mine, _, home = _layout(tmp_path)
    (repo / "node_modules" / "dep").mkdir(parents=True)
    (repo / "node_modules" / "dep" / "index.js").write_text("yours\n")
    shared = ("node_modules",)
    confine = sandbox.for_task(
        mine, home=home, data=data, repo=repo, objects=Git(repo).common_dir() / "objects", shared=shared
    )
    seen = _run(confine, "cat node_modules/dep/index.js; echo changed > node_modules/dep/index.js; echo $?")
    assert seen.stdout.splitlines()[0] == "yours" and seen.stdout.splitlines()[-1] != "0"
    assert (repo / "node_modules" / "dep" / "index.js").read_text() == "yours\n"
    # A reviewer's checkout, read-only whole, has them too (bwrap cannot make their place there).
    (mine / "node_modules").rmdir()
    reviewer = sandbox.for_task(
        mine, home=home, data=data, repo=repo, objects=Git(repo).common_dir() / "objects", shared=shared, locked=(mine,)
    )
    seen = _run(reviewer, "cat node_modules/dep/index.js")
    assert seen.returncode == 0 and seen.stdout == "yours\n", seen.stderr
    # What a task committed there instead (a link to another checkout, a file) is left as it is:
    # the mount never goes where a link points, and the sandbox still starts.
    (mine / "node_modules").rmdir()
    elsewhere = home / "elsewhere"
    elsewhere.mkdir(parents=True)
    (mine / "node_modules").symlink_to(elsewhere)
    seen = _run(confine, "ls node_modules/")
    assert seen.returncode == 0 and "dep" not in seen.stdout, seen.stdout + seen.stderr
    (mine / "node_modules").unlink()
    (mine / "node_modules").write_text("a file\n")
    seen = _run(confine, "cat node_modules")
    assert seen.returncode == 0 and seen.stdout == "a file\n", seen.stderr
