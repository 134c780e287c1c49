"""The project's remote (``[project] remote``), with a bare repository on disk as the remote:
czar's branches fetched (pruned, nothing of the user's touched), pushed (task branches with a
lease, the integration branch forward only), and what the remote refuses said in its words."""

from __future__ import annotations

from pathlib import Path

import pytest

from czar.errors import PlanError
from czar.plan.load import load_plan
from czar.supervisor.project import check_repository
from czar.vcs.git import Git
from czar.vcs.remote import Remote, positions
from helpers import git, make_repo


def _with_remote(tmp_path: Path) -> tuple[Path, Path, Remote]:
    repo = make_repo(tmp_path / "repo")
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    git(repo, "branch", "czar/integration", "main")
    return repo, bare, Remote(Git(repo), "origin", "czar/integration")


def _commit(repo: Path, branch: str, name: str) -> str:
    git(repo, "checkout", "-q", branch)
    (repo / name).write_text(name + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", name)
    tip = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    return tip


def test_branches_are_pushed_and_fetched_and_the_remote_positions_shown(tmp_path: Path) -> None:
    repo, bare, remote = _with_remote(tmp_path)
    git(repo, "branch", "czar/a", "main")
    a1 = _commit(repo, "czar/a", "a1")
    assert remote.push("czar/a", a1, replace=True) is None
    assert git(bare, "rev-parse", "czar/a") == a1
    rows = {r["branch"]: r for r in positions(Git(repo), "czar/integration", "main", remote)}
    assert rows["czar/a"]["ahead"] == 1 and rows["czar/a"]["on_remote"] is True
    assert (rows["czar/a"]["remote_ahead"], rows["czar/a"]["remote_behind"]) == (0, 0)
    assert rows["czar/integration"]["on_remote"] is False  # not pushed yet
    # The task's branch is made again from scratch and pushed: it replaces the remote's copy.
    git(repo, "branch", "-f", "czar/a", "main")
    a2 = _commit(repo, "czar/a", "a2")
    rows = {r["branch"]: r for r in positions(Git(repo), "czar/integration", "main", remote)}
    assert (rows["czar/a"]["remote_ahead"], rows["czar/a"]["remote_behind"]) == (1, 1)
    assert remote.push("czar/a", a2, replace=True) is None
    assert git(bare, "rev-parse", "czar/a") == a2
    # Someone deletes it on the remote: the fetch prunes czar's copy, and nothing of the user's.
    git(bare, "branch", "-D", "czar/a")
    git(repo, "update-ref", "refs/remotes/origin/mine", a2)  # the user's own remote-tracking ref
    assert remote.fetch() is None
    assert "czar/a" not in remote.tips() and git(repo, "rev-parse", "refs/remotes/origin/mine") == a2


def test_a_push_the_remote_refuses_comes_back_in_its_words(tmp_path: Path) -> None:
    repo, bare, remote = _with_remote(tmp_path)
    i1 = _commit(repo, "czar/integration", "i1")
    assert remote.push("czar/integration", i1, replace=False) is None
    # Someone else moves the remote's integration branch: czar's is no longer ahead of it.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))
    _commit(other, "czar/integration", "theirs")
    git(other, "push", "-q", "origin", "czar/integration")
    i2 = _commit(repo, "czar/integration", "i2")
    refused = remote.push("czar/integration", i2, replace=False)
    assert refused is not None and "rejected" in refused
    # A task branch someone else pushed to since czar last looked: the lease refuses.
    git(repo, "branch", "czar/b", "main")
    b1 = _commit(repo, "czar/b", "b1")
    assert remote.push("czar/b", b1, replace=True) is None
    _commit(other, "main", "x")
    git(other, "fetch", "-q", "origin")
    git(other, "push", "-q", "origin", "main:czar/b", "--force")
    b2 = _commit(repo, "czar/b", "b2")
    refused = remote.push("czar/b", b2, replace=True)
    assert refused is not None and "stale info" in refused
    # A hook on the remote says no: its own words come back.
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes to czar/* need a review' >&2\nexit 1\n")
    hook.chmod(0o755)
    assert remote.fetch() is None
    b3 = _commit(repo, "czar/b", "b3")
    refused = remote.push("czar/b", b3, replace=True)
    assert refused is not None and "pushes to czar/* need a review" in refused


def test_a_remote_out_of_reach_is_said_and_nothing_waits_for_it(tmp_path: Path) -> None:
    _, bare, remote = _with_remote(tmp_path)
    bare.rename(tmp_path / "gone.git")
    problem = remote.fetch()
    assert problem is not None and "gone" not in problem and "remote.git" in problem


def test_a_plan_names_a_remote_the_repository_has_and_pushes_only_with_one(tmp_path: Path) -> None:
    repo, _, _ = _with_remote(tmp_path)
    plan = tmp_path / "czar.toml"
    task = '[[tasks]]\nid = "a"\ntitle = "a"\nbody = "do a"\n'
    plan.write_text('[project]\nname = "p"\nrepo = "repo"\nremote = "upstream"\n\n' + task)
    with pytest.raises(PlanError, match="has no remote 'upstream'"):
        check_repository(load_plan(plan))
    plan.write_text('[project]\nname = "p"\nrepo = "repo"\npush = true\n\n' + task)
    with pytest.raises(PlanError, match="push = true needs a remote"):
        load_plan(plan)
    plan.write_text('[project]\nname = "p"\nrepo = "repo"\nremote = "--upload-pack=evil"\n\n' + task)
    with pytest.raises(PlanError, match="not a remote's name"):
        load_plan(plan)
    plan.write_text('[project]\nname = "p"\nrepo = "repo"\nremote = "origin"\npush = true\n\n' + task)
    check_repository(load_plan(plan))
    assert repo.is_dir()


def test_a_credential_in_a_remotes_url_is_never_shown() -> None:
    from czar.vcs.remote import without_secrets

    said = without_secrets("fatal: unable to access 'https://x-access-token:ghs_S3CR3T@github.com/o/r.git/'")
    assert "ghs_S3CR3T" not in said and "https://***@github.com/o/r.git/" in said
    assert without_secrets("git@github.com:o/r.git") == "git@github.com:o/r.git"  # no credential there


def _someone_pushes(root: Path, bare: Path, branch: str, message: str) -> str:
    """A person's commit on ``branch`` of the remote, pushed from a clone of their own: its id."""
    theirs = root / "theirs"
    git(root, "clone", "-q", "-b", branch, str(bare), str(theirs))
    (theirs / "a.txt").write_text("one\ntwo\nthree\nfour\n")
    git(theirs, "-c", "user.name=P", "-c", "user.email=p@example.com", "commit", "-qam", message)
    git(theirs, "push", "-q", "origin", branch)
    return git(theirs, "rev-parse", "HEAD")


def test_a_commit_someone_pushed_to_a_task_branch_on_the_remote_is_kept_when_czar_replaces_it(
    tmp_path: Path, czar_home: Path
) -> None:
    """Found by a probe: with the forge merging pull requests, a person's commit pushed to a task's
    branch there was erased by czar's push of the reviewed commit, without a word."""
    from czar.core.events import EventKind
    from czar.store.store import Store
    from czar.supervisor import remote_sync
    from czar.supervisor.project import open_project
    from helpers import repo_with_remote, sim_task, write_plan

    repo, bare = repo_with_remote(tmp_path, task_branch="czar/a")
    plan = write_plan(tmp_path, "kept", [sim_task("a")], project_extra='remote = "origin"\npush = true\n')
    project = open_project(plan)
    project.sync_plan()
    reviewed = git(repo, "rev-parse", "czar/a")
    assert remote_sync.push(project, "czar/a", reviewed, replace=True, task="a")
    person = _someone_pushes(tmp_path, bare, "czar/a", "a person's fix")
    assert remote_sync.fetch(project) is None
    made_again = git(repo, "commit-tree", "-p", "main", "-m", "a, made again", "main^{tree}")
    # The forge refuses forced pushes for a while (a ruleset): the refusal is said once, and nothing
    # is said replaced (found by a review: "replaces it" at every look, the push refused).
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'no forced pushes to czar/*' >&2\nexit 1\n")
    hook.chmod(0o755)
    for _ in range(3):
        assert not remote_sync.push(project, "czar/a", made_again, replace=True, task="a")
    with project.store.read() as conn:
        alerts = [e.payload["message"] for e in Store.read_events(conn, kinds=(EventKind.ALERT,))]
    assert len(alerts) == 1 and "no forced pushes to czar/*" in alerts[0]
    assert git(repo, "rev-parse", f"refs/czar-kept/czar/a/{person[:12]}") == person  # kept before any push
    hook.unlink()
    assert remote_sync.push(project, "czar/a", made_again, replace=True, task="a")
    with project.store.read() as conn:
        alerts = [e.payload["message"] for e in Store.read_events(conn, kinds=(EventKind.ALERT,))][1:]
    assert len(alerts) == 1 and f"held commit {person[:10]}, which czar did not push there" in alerts[0]
    assert "replaced it: kept as refs/czar-kept/czar/a/" in alerts[0]
    # czar's own push, replaced by its own again (a task started over): nothing said.
    assert remote_sync.fetch(project) is None
    assert remote_sync.push(project, "czar/a", reviewed, replace=True, task="a")
    with project.store.read() as conn:
        assert len(Store.read_events(conn, kinds=(EventKind.ALERT,))) == 2


def test_an_integration_branch_changed_on_the_remote_is_said_once_and_the_omnibus_is_proven_against_it(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a probe: a person merged a task's pull request by hand on the forge; czar's push
    of its integration branch was refused, with the same alert every second (413 in two minutes),
    and the omnibus, whose pull request holds the remote's branch, said "containment proven" of a
    branch that lacked a task."""
    from czar.core.events import EventKind
    from czar.store.store import Store
    from czar.supervisor import omnibus, remote_sync
    from czar.supervisor.project import open_project
    from helpers import repo_with_remote, sim_task, write_plan

    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    repo, bare = repo_with_remote(tmp_path, task_branch="czar/a")
    extra = 'remote = "origin"\npush = true\n'
    plan = write_plan(tmp_path, "diverged", [sim_task("a")], project_extra=extra)
    plan.write_text(
        plan.read_text() + '\n[forge]\nkind = "github"\napi_url = "http://127.0.0.1:9/api"\nrepository = "acme/app"\n'
    )
    project = open_project(plan)
    project.sync_plan()
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", "-b", "czar/integration", str(bare), str(other))
    (other / "hotfix.txt").write_text("theirs\n")
    git(other, "add", "hotfix.txt")
    git(other, "-c", "user.name=P", "-c", "user.email=p@example.com", "commit", "-qm", "a person's hotfix")
    git(other, "push", "-q", "origin", "czar/integration")
    theirs = git(other, "rev-parse", "HEAD")
    ours = git(repo, "commit-tree", "-p", "czar/integration", "-m", "czar merges a", "czar/a^{tree}")
    git(repo, "update-ref", "refs/heads/czar/integration", ours)
    for _ in range(3):
        assert not remote_sync.push(project, "czar/integration", ours, replace=False)
    with project.store.read() as conn:
        refused = Store.read_events(conn, kinds=(EventKind.REMOTE_PUSH_REFUSED,))
        alerts = Store.read_events(conn, kinds=(EventKind.ALERT,))
    assert len(refused) == 1 and len(alerts) == 1  # said once
    assert omnibus._as_the_forge_has_it(project, "czar/integration", ours) == theirs
    with project.store.read() as conn:
        said = [e.payload["message"] for e in Store.read_events(conn, kinds=(EventKind.ALERT,))][1:]
    assert said == [
        f"origin's czar/integration is at {theirs[:10]}, not at czar's {ours[:10]}, and czar cannot push its own "
        "there (changed there: a pull request merged by hand, a forced push?); the omnibus is what origin has"
    ]
    # Only behind czar's (a push that failed on the way): brought up to date, nothing said.
    git(bare, "update-ref", "refs/heads/czar/integration", git(repo, "rev-parse", "czar/integration^"))
    assert omnibus._as_the_forge_has_it(project, "czar/integration", ours) == ours
    assert git(bare, "rev-parse", "czar/integration") == ours
    with project.store.read() as conn:
        assert len(Store.read_events(conn, kinds=(EventKind.ALERT,))) == 2


def test_a_task_branch_deleted_on_the_remote_is_known_gone_after_a_fetch(tmp_path: Path, czar_home: Path) -> None:
    """Found by a probe: a task's branch deleted on GitHub closed its pull request, and czar asked a
    person to reopen it, which GitHub refuses without the branch: czar says the branch is gone
    and how to put it back (``remote_sync.gone_there``)."""
    from czar.supervisor import remote_sync
    from czar.supervisor.project import open_project
    from helpers import repo_with_remote, sim_task, write_plan

    _repo, bare = repo_with_remote(tmp_path, task_branch="czar/a")
    plan = write_plan(tmp_path, "gone", [sim_task("a")], project_extra='remote = "origin"\npush = true\n')
    project = open_project(plan)
    assert remote_sync.fetch(project) is None
    assert not remote_sync.gone_there(project, "czar/a")
    git(bare, "update-ref", "-d", "refs/heads/czar/a")
    assert remote_sync.fetch(project) is None
    assert remote_sync.gone_there(project, "czar/a")
    assert not remote_sync.gone_there(project, "czar/integration")


def test_a_merged_tasks_branch_someone_pushed_to_after_its_review_is_put_back_and_their_commit_kept(
    tmp_path: Path, czar_home: Path
) -> None:
    """Found by a probe: with czar merging for GitHub, a person's push to a pull request after its
    review left it open there for ever (its head not in the integration branch), their commit left
    out without a word."""
    from czar.core.events import EventKind
    from czar.store.store import Store
    from czar.supervisor import remote_sync
    from czar.supervisor.project import open_project
    from helpers import repo_with_remote, sim_task, write_plan

    repo, bare = repo_with_remote(tmp_path, task_branch="czar/a")
    plan = write_plan(tmp_path, "late", [sim_task("a")], project_extra='remote = "origin"\npush = true\n')
    project = open_project(plan)
    project.sync_plan()
    reviewed = git(repo, "rev-parse", "czar/a")
    remote_sync.follow_merged(project, "czar/a", reviewed, "a")  # there already: nothing to do
    assert remote_sync.push(project, "czar/a", reviewed, replace=True, task="a")
    person = _someone_pushes(tmp_path, bare, "czar/a", "after the review")
    assert remote_sync.fetch(project) is None
    remote_sync.follow_merged(project, "czar/a", reviewed, "a")
    assert git(bare, "rev-parse", "czar/a") == reviewed  # the forge sees the pull request's head merged
    assert git(repo, "rev-parse", f"refs/czar-kept/czar/a/{person[:12]}") == person
    with project.store.read() as conn:
        alerts = [e.payload["message"] for e in Store.read_events(conn, kinds=(EventKind.ALERT,))]
    assert len(alerts) == 1 and f"held commit {person[:10]}, which czar did not push there" in alerts[0]
