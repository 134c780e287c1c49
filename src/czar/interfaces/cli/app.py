"""The ``czar`` command."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from czar.core.events import EventKind
from czar.core.shown import visible
from czar.errors import CzarError, PlanError, StoreError, SupervisorError
from czar.interfaces.cli import agent as agent_commands
from czar.interfaces.cli import stopped
from czar.interfaces.cli.starter import (
    base_branch_of,
    checked_base_branch,
    project_name_for,
    repository_of,
    starter_plan,
)

app = typer.Typer(
    name="czar",
    help="Run a team of AI coding agents on one git repository and supervise them until the plan is merged.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

PlanArg = Annotated[Path, typer.Argument(help="The plan file.", show_default=True)]
PlanOpt = Annotated[Path, typer.Option("--plan", "-p", help="The plan file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
DEFAULT_PLAN = Path("czar.toml")
# After a worker's or a task's id, the plan may come as the other commands take it (or -p).
PlanAfter = Annotated[Path | None, typer.Argument(metavar="[plan]", help="The plan file (or -p).", show_default=False)]


def _in_plan(name: str, plan_here: Path | None, plan: Path) -> tuple[str, Path]:
    """A command's worker or task id and its plan, given in either order (`czar allow w1
    czar.toml`, or the plan first as `czar status` takes it: `czar allow czar.toml w1`)."""
    if plan_here is None:
        return name, plan
    if name.endswith(".toml") and not str(plan_here).endswith(".toml"):
        name, plan_here = str(plan_here), Path(name)
    if plan != DEFAULT_PLAN and plan != plan_here:
        raise CzarError(f"two plans given ({plan_here} and --plan {plan}): give one")
    if not str(plan_here).endswith(".toml") and not plan_here.is_file():
        raise CzarError(f"{str(plan_here)!r} is no plan file (see --help for what this command takes)")
    return name, plan_here


def _a_plan(word: str) -> bool:
    """Whether a command's last word names a plan, not words of a message: a TOML file with
    tasks (a project's pyproject.toml, named in a message, has none)."""
    if not word.endswith(".toml"):
        return False
    try:
        with open(word, "rb") as fh:
            return b"[[tasks]]" in fh.read(1 << 20)
    except OSError:
        return False


def _views() -> Any:
    # Imported when needed: agents run `czar report` and friends often, and must not pay for the
    # views' imports (the supervisor, rich tables) each time.
    from czar.interfaces.cli import views

    return views


def _open(plan: Path, *, check_repo: bool = True, owned: bool = True) -> Any:
    from czar.supervisor.project import open_project

    return open_project(_found(plan), check_repo=check_repo, owned=owned)


def _found(plan: Path) -> Path:
    """The plan: where given, or, for the default `czar.toml` not in this folder, the nearest one in
    a folder above, up to the repository's top (found by a probe: from a subfolder of the
    repository, `czar status` said there was no plan, and to write one)."""
    if plan != DEFAULT_PLAN or plan.exists():
        return plan
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / DEFAULT_PLAN).is_file():
            return folder / DEFAULT_PLAN
        if (folder / ".git").exists():
            break  # the repository's top: a plan above it is another project's
    return plan


def _before_start(project: Any) -> None:
    """Before a start, and in `validate`: no other project of yours works on branches of the same
    names there; the simulated agents' scripts parse; and a warning for each task scope git
    ignores there, each task a simulated agent may be given with no script, each check whose
    program is not found, and the run's tasks the plan no longer has."""
    from czar.agents import sim_plans
    from czar.model import plan_scripts
    from czar.supervisor.project import changed_started, dropped_tasks, ignored_scopes, unfound_checks
    from czar.supervisor.project import check_neighbours as check

    check(project)
    settled = _settled(project)
    errors, warnings = sim_plans.problems(project.plan, settled)
    errors += plan_scripts.problems(project.plan, settled)
    if errors:
        raise PlanError("\n".join(f"{project.plan.path}: {e}" for e in errors))  # a line each
    extra = [*ignored_scopes(project), *unfound_checks(project), *dropped_tasks(project), *changed_started(project)]
    for line in [*warnings, *extra]:
        typer.echo(f"czar: warning: {line}", err=True)


def _settled(project: Any) -> set[str]:
    """The tasks the project's run has merged, failed or cancelled already (none before a run)."""
    from czar.core.states import TERMINAL_TASK_STATES

    if not project.paths.db.exists():
        return set()
    try:
        return {t.id for t in project.store.tasks() if t.state in TERMINAL_TASK_STATES}
    except StoreError:
        return set()  # a broken store: the command that needs it says so


def _for_person(command: str, plan: Path, *, check_repo: bool = True, owned: bool = True) -> Any:
    """The project, for a command that acts for a person: refused when an agent runs it."""
    from czar.supervisor.people import require_person

    project = _open(plan, check_repo=check_repo, owned=owned)
    require_person(project, command)
    return project


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the starter plan.")] = DEFAULT_PLAN,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    base_branch: Annotated[
        str | None,
        typer.Option("--base-branch", help="The branch the work builds on (default: the repository's current one)."),
    ] = None,
) -> None:
    """Write a commented starter plan."""
    if path.exists() and not force:
        raise CzarError(f"{path} exists; use --force to overwrite it")
    if path.exists() and not path.is_file():  # a fifo would hang the write, a device swallow the plan
        raise CzarError(f"{path} is not a regular file; give a plan file's path")
    folder = path.absolute().parent
    repo = repository_of(folder, Path.cwd())
    base = checked_base_branch(base_branch) if base_branch else base_branch_of(repo or folder)
    # Named after the plan's folder, not the repository's: two plans in two folders of one
    # repository are two projects, not one project whose plan changes under it.
    text = starter_plan(base, project_name_for(folder), os.path.relpath(repo or folder, folder.resolve()))
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CzarError(f"cannot write {path}: {exc.strerror}") from exc
    if repo is None:
        typer.echo(
            f"czar: warning: neither {folder} nor this folder is in a git repository: `git init` one, "
            f"or set `repo` in {path.name} to yours",
            err=True,
        )
    typer.echo(f"wrote {path}; edit it, then run `czar validate {path}`")


@app.command()
def validate(plan: PlanArg = DEFAULT_PLAN) -> None:
    """Check a plan and its repository; print one line per problem and exit 2 if any."""
    from czar.core.graph import depth
    from czar.supervisor.doctor import require_programs

    project = _open(plan)
    _before_start(project)
    require_programs(project.plan)
    tasks = project.plan.tasks
    edges = {t.id: t.depends_on for t in tasks}
    typer.echo(
        f"{plan}: ok: {len(tasks)} task(s), dependency depth {depth(edges)}, "
        f"{_workers(project.plan)}, repository {project.plan.repo}"
    )


def _workers(plan: Any) -> str:
    """``2 claude worker(s) and 1 sim worker(s), 1 codex reviewer(s)``: the authors, then the reviewers."""
    reviewers = plan.reviewers

    def counted(kinds: list[str], role: str) -> str:
        counts: dict[str, int] = {}
        for k in kinds:
            counts[k] = counts.get(k, 0) + 1
        return " and ".join(f"{n} {k} {role}(s)" for k, n in counts.items())

    authors = [k for w, k in plan.worker_kinds.items() if w not in reviewers]
    return ", ".join(
        part for part in (counted(authors, "worker"), counted(list(reviewers.values()), "reviewer")) if part
    )


@app.command()
def up(
    plan: PlanArg = DEFAULT_PLAN,
    foreground: Annotated[bool, typer.Option("--foreground", help="Run the supervisor in this terminal.")] = False,
) -> None:
    """Start the supervisor and the workers (idempotent: finds a running supervisor)."""
    from czar.store.store import Store
    from czar.supervisor.launcher import supervisor_pid
    from czar.supervisor.launcher import up as start

    project = _for_person("up", plan)
    _before_start(project)
    if foreground:
        _supervise(project)
        return
    resuming = supervisor_pid(project) is None and any(t.state != "pending" for t in project.store.tasks())
    pid, started = start(project)
    if started and resuming:
        with project.store.write() as conn:
            Store.emit(conn, EventKind.PERSON_UP, actor="person", reason="supervisor restarted by hand during a run")
    typer.echo(
        f"supervisor {'started' if started else 'already running'} (pid {pid}); `czar status {plan}` shows progress"
    )
    if not started:
        _drift(project)


def _drift(project: Any) -> None:
    """A running supervisor took the plan in when it started: a person who edited it since hears so."""
    from czar.supervisor.project import plan_drift

    said = plan_drift(project)
    if said:
        typer.echo(f"czar: warning: {said}", err=True)


def _supervise(project: Any) -> None:
    from czar.runtime import logs
    from czar.supervisor.loop import Supervisor

    project.paths.ensure()
    logs.gather(project.paths.logs / "supervisor.log")
    Supervisor(project).run()


@app.command(hidden=True)
def supervise(plan: PlanArg = DEFAULT_PLAN) -> None:
    """Run the supervisor loop here (what `czar up` starts in tmux)."""
    _supervise(_open(plan))


@app.command("worker-host", hidden=True)
def worker_host(
    plan: PlanOpt = DEFAULT_PLAN,
    worker: Annotated[str, typer.Option("--worker", help="Worker id.")] = "w1",
) -> None:
    """Run a worker host here (what the supervisor starts in each worker's tmux window)."""
    from czar.host.worker_host import WorkerHost

    project = _open(plan, check_repo=False)
    kind = project.plan.worker_kinds.get(worker)
    if kind is None:
        raise CzarError(f"no worker {worker!r} in this plan")
    raise typer.Exit(WorkerHost.on_store(project.store, project.host_settings(worker)).run())


@app.command()
def down(plan: PlanArg = DEFAULT_PLAN) -> None:
    """Stop the supervisor, workers and agents; keep branches, worktrees and the store."""
    from czar.store.store import Store
    from czar.supervisor.launcher import down as stop

    try:
        project = _for_person("down", plan, check_repo=False, owned=False)
    except PlanError as exc:
        project = _run_of(plan, exc)
    broken: StoreError | None = None
    try:
        unfinished = any(t.state not in ("merged", "failed", "cancelled", "pending") for t in project.store.tasks())
    except StoreError as exc:  # a broken store must not keep the run going: `down` needs none
        broken, unfinished = exc, False
    if stop(project):
        if unfinished:
            with project.store.write() as conn:
                Store.emit(conn, EventKind.PERSON_DOWN, actor="person", reason="stopped by hand during a run")
        typer.echo("stopped; branches, worktrees and the store are kept (`czar up` resumes)")
    else:
        typer.echo("nothing was running")
    if broken is not None:
        raise StoreError(f"{broken} (everything is stopped all the same)")


def _run_of(plan: Path, unreadable: PlanError) -> Any:
    """The run of the project last started from ``plan``, which cannot be read now (a syntax error
    typed into it meanwhile): `czar down` must stop it all the same. ``unreadable`` if none."""
    from czar.paths import ProjectPaths
    from czar.supervisor.people import require_person
    from czar.supervisor.project import RunAt
    from czar.supervisor.projects import all_projects

    where = _found(plan).resolve()
    runs = [p for p in all_projects() if p.plan is not None and Path(p.plan).resolve() == where]
    if len(runs) != 1:
        raise unreadable
    typer.echo(f"czar: warning: {unreadable}; stopping project {runs[0].name}, last started from it", err=True)
    run = RunAt(ProjectPaths.for_project(runs[0].name))
    require_person(run, "down")
    return run


@app.command()
def status(plan: PlanArg = DEFAULT_PLAN, as_json: JsonOpt = False) -> None:
    """Workers and tasks, as the store has them now."""
    project = _open(plan, check_repo=False)
    data = _views().status_data(project)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        _views().print_status(data)


@app.command()
def prs(plan: PlanArg = DEFAULT_PLAN, as_json: JsonOpt = False) -> None:
    """The tasks' pull requests: state, checks, reviews, size, rounds and cost."""
    from czar.supervisor.pull_view import pull_list

    rows = pull_list(_open(plan, check_repo=False))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        _views().print_pulls(rows)


@app.command()
def omnibus(plan: PlanArg = DEFAULT_PLAN) -> None:
    """Write the run's omnibus: one pull request from the integration branch into the base branch,
    with release notes, once czar has checked the branch and proven nothing was left out
    (`czar run` writes it at the end of a run). It never moves the base branch."""
    from czar.supervisor import outcome

    project = _open(plan)
    integration = project.plan.project.integration_branch
    if integration not in project.git.tips(integration):
        # (Found by a probe: git's own words, "fatal: Needed a single revision", said it.)
        raise CzarError(f"no run has made {integration} yet: `czar run` makes it, and writes the omnibus at its end")
    if not _views().write_omnibus(project, outcome.integration_check(project)):
        raise typer.Exit(1)  # (said why on its line)


pr_app = typer.Typer(help="One pull request.", no_args_is_help=True)
app.add_typer(pr_app, name="pr")


@pr_app.command("show")
def pr_show(
    number: Annotated[int, typer.Argument(help="The pull request's number (`czar prs`).", min=1, max=2**63 - 1)],
    plan: PlanArg = DEFAULT_PLAN,
    as_json: JsonOpt = False,
) -> None:
    """A pull request whole: its description, files, checks, reviews and history."""
    from czar.supervisor.pull_view import pull_detail

    data = pull_detail(_open(plan, check_repo=False), number)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        _views().print_pull(data)


@app.command()
@stopped.on_signals  # killed or hung up, it stops the run as Ctrl-C does
def run(
    plan: PlanArg = DEFAULT_PLAN,
    as_json: JsonOpt = False,
    keep_running: Annotated[bool, typer.Option("--keep-running", help="Leave workers up at the end.")] = False,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Give up after this many seconds.")] = None,
) -> None:
    """Start (or join) a run, follow it until every task is merged or failed, and sum it up.

    Exits 0 only if every task merged, the integration branch passes the plan's checks, and the
    omnibus proves that nothing was left out.
    """
    from czar.supervisor.launcher import supervisor_pid

    if timeout is not None:
        _time_limit(timeout)
    project = _for_person("run", plan)
    _before_start(project)
    if supervisor_pid(project) is not None:
        _drift(project)  # (joined: it goes on with the plan it took in)
    outcome = _views().run_to_end(project, as_json=as_json, keep_running=keep_running, timeout=timeout)
    raise typer.Exit(0 if _all_done(outcome) and outcome.integration_tests_passed is not False else 1)


def _time_limit(timeout: float) -> None:
    """A --timeout that is a time (found by fuzzing and probes: nan never timed out; a negative
    one started the whole run and stopped it at once)."""
    if not 0 < timeout < float("inf"):
        raise CzarError(f"--timeout must be a number of seconds above 0, not {timeout:g}")


def _all_done(outcome: Any) -> bool:
    """Every task merged, and the omnibus's proof did not find one left out (found by a probe: a
    run whose integration branch lost a task's work said "containment NOT proven", and exited 0)."""
    return bool(outcome.tasks_merged == outcome.tasks_total and outcome.containment_ok is not False)


@app.command()
def attach(
    worker: Annotated[str, typer.Argument(help="Worker id (w1, w2, ...) or 'supervisor'.")],
    plan_here: PlanAfter = None,
    plan: PlanOpt = DEFAULT_PLAN,
) -> None:
    """Attach this terminal to a worker's tmux window (detach with C-b d)."""
    worker, plan = _in_plan(worker, plan_here, plan)
    project = _open(plan, check_repo=False)
    if worker not in project.tmux.windows():
        raise SupervisorError(f"no window {worker!r}; running: {', '.join(project.tmux.windows()) or 'nothing'}")
    argv = project.tmux.attach_argv(worker)
    os.execvp(argv[0], argv)


@app.command()
def logs(
    worker: Annotated[str | None, typer.Argument(help="Worker id (w1, r1, ...); the supervisor's if omitted.")] = None,
    plan_here: PlanAfter = None,
    plan: PlanOpt = DEFAULT_PLAN,
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, help="How many lines from the end.")] = 50,
) -> None:
    """Print the end of a worker's transcript or of the supervisor's log."""
    if worker is not None and worker.endswith(".toml") and plan_here is None:
        plan, worker = _in_plan("", Path(worker), plan)[1], None  # `czar logs czar.toml`: the supervisor's
    elif worker is not None:
        worker, plan = _in_plan(worker, plan_here, plan)
    project = _open(plan, check_repo=False)
    name = worker or "supervisor"
    # The plan's workers, and every log there is (the tools server's, a worker a plan had before).
    kept = sorted(p.stem for p in project.paths.logs.glob("*.log")) if project.paths.logs.is_dir() else []
    known = list(dict.fromkeys(["supervisor", *project.plan.worker_kinds, *kept]))
    if name not in known:
        raise CzarError(f"no worker {name!r} in project {project.name} (logs of: {', '.join(known)})")
    path = project.paths.logs / f"{name}.log"
    if not path.exists():
        raise CzarError(f"no log yet at {path}")
    # Visible: the log holds what agents said, and escape sequences would act on your terminal.
    typer.echo(visible("\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])))


@app.command()
@stopped.on_signals
def demo(
    as_json: JsonOpt = False,
    workers: Annotated[int, typer.Option("--workers", min=1, max=16, help="Simulated workers.")] = 4,
    folder: Annotated[
        Path | None, typer.Option("--dir", help="Build the demo here (default: a new temp folder).")
    ] = None,
) -> None:
    """Build a sample repository and plan, run it with simulated agents in tmux, and sum it up."""
    import importlib.util
    import tempfile

    from czar.demo.sample import write_sample

    if importlib.util.find_spec("pytest") is None:
        raise CzarError("the demo's sample project is tested with pytest: pip install pytest")
    root = folder.resolve() if folder else Path(tempfile.mkdtemp(prefix="czar-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    os.environ["CZAR_HOME"] = str(root / "czar-home")  # the demo keeps all its data in its folder
    plan = write_sample(root, workers=workers)
    if not as_json:
        typer.echo(f"demo: sample repository and plan in {root}")
    outcome = _views().run_to_end(_open(plan), as_json=as_json, keep_running=False, timeout=600)
    if not as_json:
        typer.echo(f"inspect it: git -C {root / 'repo'} log --graph --oneline {outcome.integration_branch}")
        me = sys.argv[0] if Path(sys.argv[0]).name == "czar" else f"{sys.executable} -m czar"  # as it was run
        typer.echo(f"browse it: CZAR_HOME={root / 'czar-home'} {me} web {plan}  (or dash)")
    raise typer.Exit(0 if _all_done(outcome) and outcome.integration_tests_passed else 1)


@app.command()
@functools.partial(stopped.on_signals, said="its runs are stopped, nothing of them left running")
def bench(
    scenario: Annotated[
        str,
        typer.Argument(
            help="seed, scale, dag, queue (the merge queue), review (a reviewer's precision and recall), stack"
            " (stacked dependents), views (czar web and czar dash under load), agents (the real agent CLIs),"
            " chaos (kill -9 at random moments), or replay REPO A..B."
        ),
    ],
    replay: Annotated[list[str] | None, typer.Argument(help="replay: the repository and the range A..B.")] = None,
    as_json: JsonOpt = False,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, max=256, help="Workers (scale, dag, replay).")
    ] = None,
    tasks: Annotated[int | None, typer.Option("--tasks", min=2, max=2000, help="Tasks (scale, dag, queue).")] = None,
    pairs: Annotated[
        int,
        typer.Option("--pairs", min=1, max=20, help="stack: runs of each kind, alternated (their medians compared)."),
    ] = 3,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (scale, dag, queue).")] = None,
    task_seconds: Annotated[
        float | None, typer.Option("--task-seconds", min=0.5, help="Mean time a task takes (scale, dag).")
    ] = None,
    folder: Annotated[Path | None, typer.Option("--dir", help="Run it here (default: a new temp folder).")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Give up after this many seconds.")] = 900,
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent", help="The agent to measure: claude, codex or gemini (agents); sim or those (review, chaos)."
        ),
    ] = None,
    no_deps: Annotated[
        bool, typer.Option("--no-deps", help="replay: no dependencies; every task may start at once.")
    ] = False,
    with_review: Annotated[
        bool, typer.Option("--review", help="chaos: a reviewer reads each task's work before it merges.")
    ] = False,
    stacked: Annotated[
        bool, typer.Option("--stack", help="chaos: dependents start from their dependencies' approved work.")
    ] = False,
    forge: Annotated[
        str | None,
        typer.Option(
            "--forge",
            help="chaos: pull requests on a forge (czar's own fake of its API, over a bare repository as "
            "the remote; push = true): github or gitlab (czar merges and pushes), github-merges or "
            "gitlab-merges (the forge merges each).",
        ),
    ] = None,
    kills: Annotated[int, typer.Option("--kills", min=0, max=10_000, help="chaos: the most kills.")] = 20,
    every: Annotated[
        float, typer.Option("--every", min=0.05, max=60, help="chaos: mean seconds between two kills' chances.")
    ] = 0.7,
) -> None:
    """Run a benchmark on real git and tmux (simulated agents, or the real agent CLIs against the
    scripted model); exit 1 if a target is missed."""
    from czar.bench import SCENARIOS, neighbours
    from czar.bench.harness import run as run_bench

    others = ["queue", "review", "stack", "views", "agents", "chaos", "replay"]
    if scenario not in [*SCENARIOS, *others]:
        raise CzarError(f"no benchmark {scenario!r}; choose one of: " + ", ".join([*SCENARIOS, *others]))
    if replay and scenario != "replay":
        raise CzarError(f"unexpected argument(s) {' '.join(replay)!r}: only replay takes a repository and a range")
    given = {"workers": workers, "tasks": tasks, "seed": seed, "task_seconds": task_seconds}
    options = {k: v for k, v in given.items() if v is not None}
    _time_limit(timeout)
    chaos_only = with_review or stacked or forge is not None or kills != 20 or every != 0.7
    if chaos_only and scenario != "chaos":
        raise CzarError("--review, --stack, --forge, --kills and --every are for the chaos benchmark")
    if options and scenario == "seed":
        raise CzarError(
            "the seed scenario is fixed; --workers, --tasks, --seed and --task-seconds are for scale and dag"
        )
    crowded = neighbours.warning(neighbours.running())
    if crowded:
        typer.echo(f"czar: warning: {crowded}", err=True)
    if scenario == "agents":
        _bench_agents(agent or "claude", tasks, folder, timeout, as_json)
    if scenario == "chaos":
        from czar.bench import chaos

        measured = chaos.run(
            agent or "sim",
            tasks=tasks or 12,
            workers=workers or 3,
            seed=1 if seed is None else seed,
            folder=folder,
            timeout=timeout,
            progress=not as_json,
            review=with_review,
            stack=stacked,
            forge=forge,
            kills=kills,
            every=every,
        )
        _measured(f"benchmark chaos ({measured['agent']}, seed {measured['seed']})", measured, as_json)
    if scenario == "stack":
        from czar.bench import stack

        measured = stack.run(workers or 4, folder=folder, timeout=timeout, progress=not as_json, pairs=pairs)
        _measured("benchmark stack (the demo's plan, waiting for merges and stacked)", measured, as_json)
    if scenario == "views":
        from czar.bench import views

        measured = views.run(workers or 100, folder=folder, timeout=timeout, progress=not as_json)
        _measured(f"benchmark views ({measured['workers']} workers, czar web and czar dash open)", measured, as_json)
    if scenario == "review":
        from czar.bench import review

        measured = review.run(agent or "sim", folder=folder, timeout=timeout, progress=not as_json)
        _measured(f"benchmark review ({measured['reviewer']} reviewer)", measured, as_json)
    if scenario == "queue":
        from czar.bench import queue

        measured = queue.run(tasks=tasks or 120, seed=seed or 0, folder=folder)
        _measured(f"benchmark queue ({measured['tasks_total']} tasks)", measured, as_json)
    if scenario == "replay":
        _bench_replay(replay or [], not no_deps, workers or 4, folder, timeout, as_json)
    result = run_bench(SCENARIOS[scenario](**options), folder=folder, timeout=timeout, progress=not as_json)
    if as_json:
        typer.echo(json.dumps(result))
    else:
        _views().print_bench(result)
    raise typer.Exit(0 if result["passed"] else 1)


def _measured(title: str, measured: dict[str, Any], as_json: bool) -> NoReturn:
    """A benchmark's figures, as JSON or a table; exits 1 if a target was missed."""
    if as_json:
        typer.echo(json.dumps(measured))
    else:
        _views().print_measures(title, measured)
    raise typer.Exit(0 if measured["passed"] else 1)


def _bench_replay(
    args: list[str], deps: bool, workers: int, folder: Path | None, timeout: float, as_json: bool
) -> None:
    from czar.bench import replay

    if len(args) != 2:
        raise CzarError("usage: czar bench replay REPO A..B [--no-deps] [--workers N]")
    result = replay.run(
        Path(args[0]), args[1], deps=deps, workers=workers, folder=folder, timeout=timeout, progress=not as_json
    )
    if as_json:
        typer.echo(json.dumps(result))
    else:
        _views().print_replay(result)
    raise typer.Exit(0 if result["passed"] else 1)


def _bench_agents(agent: str, tasks: int | None, folder: Path | None, timeout: float, as_json: bool) -> None:
    from czar.bench import agents

    if agent not in agents.KINDS:
        raise CzarError(f"no agent benchmark for {agent!r}; choose one of: {', '.join(agents.KINDS)}")
    try:
        result = agents.run(agent, tasks=tasks or 5, folder=folder, timeout=timeout, progress=not as_json)
    except (FileNotFoundError, RuntimeError) as e:
        raise CzarError(str(e)) from None
    if as_json:
        typer.echo(json.dumps(result))
    else:
        _views().print_agents_bench(result)
    raise typer.Exit(0 if result["passed"] else 1)


@app.command()
def doctor(
    plan: Annotated[Path | None, typer.Argument(help="A plan: also check its agents.")] = None,
) -> None:
    """Check this machine for a run: tmux, git, the store, each agent the plan uses (exit 1 if not)."""
    from czar.supervisor import doctor as checks

    if plan is None and DEFAULT_PLAN.exists():
        plan = DEFAULT_PLAN
    project = _open(plan, check_repo=False) if plan is not None else None
    results = checks.examine(project.plan if project else None, project.paths if project else None, project)
    for check in results:
        typer.echo(check.line())
    raise typer.Exit(0 if all(c.ok for c in results) else 1)


@app.command("model-server")
def model_server(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free one).", min=0, max=65535)] = 0,
    log: Annotated[Path | None, typer.Option("--log", help="Log each request here (JSON lines).")] = None,
) -> None:
    """Serve the scripted model (Anthropic and OpenAI APIs) to rehearse a plan with real agent CLIs
    without spending tokens: point `[agents.<kind>] base_url` at it; task bodies carry `czar-model`
    scripts."""
    import threading

    from czar.model.server import serve

    if log is not None:
        if log.exists() and not log.is_file():  # a pipe would hold the first request, a device...
            raise CzarError(f"cannot write the log {log}: not a file")
        try:  # said now, not as a traceback at each request
            log.open("a", encoding="utf-8").close()
        except OSError as exc:
            raise CzarError(f"cannot write the log {log}: {exc.strerror or exc}") from None
    try:
        server = serve(port, log)
    except OSError as exc:
        raise CzarError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    typer.echo(f"scripted model at http://127.0.0.1:{server.server_address[1]} (Ctrl-C stops it)", err=False)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


@app.command()
def allow(
    worker: Annotated[str, typer.Argument(help="The worker waiting for a permission.")],
    plan_here: PlanAfter = None,
    plan: PlanOpt = DEFAULT_PLAN,
) -> None:
    """Allow what a worker's agent asked for (a human intervention)."""
    worker, plan = _in_plan(worker, plan_here, plan)
    from czar.supervisor.people import answer_permission

    typer.echo(answer_permission(_for_person("allow", plan, check_repo=False), worker, True))


@app.command()
def deny(
    worker: Annotated[str, typer.Argument(help="The worker waiting for a permission.")],
    plan_here: PlanAfter = None,
    plan: PlanOpt = DEFAULT_PLAN,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the agent.")] = "",
) -> None:
    """Deny what a worker's agent asked for (a human intervention)."""
    worker, plan = _in_plan(worker, plan_here, plan)
    from czar.supervisor.people import answer_permission

    typer.echo(answer_permission(_for_person("deny", plan, check_repo=False), worker, False, reason))


@app.command()
def tell(
    worker: Annotated[str, typer.Argument(help="The worker to tell.")],
    text: Annotated[list[str], typer.Argument(help="The message (the words are joined).")],
    plan: PlanOpt = DEFAULT_PLAN,
) -> None:
    """Send a message to a worker's agent: an answer, a hint (a human intervention)."""
    if worker.endswith(".toml"):  # the plan first (`czar tell czar.toml w1 ...`)
        if len(text) < 2:
            raise CzarError(f"what to tell? `czar tell {worker} WORKER WORDS...`")
        (worker, plan), text = _in_plan(text[0], Path(worker), plan), text[1:]
    elif len(text) > 1 and _a_plan(text[-1]):  # the plan last, as `czar status` and `logs` take it
        (worker, plan), text = _in_plan(worker, Path(text[-1]), plan), text[:-1]
    from czar.supervisor.people import tell as send

    typer.echo(send(_for_person("tell", plan, check_repo=False), worker, " ".join(text)))


@app.command()
def retry(
    task: Annotated[str, typer.Argument(help="The failed task.")],
    plan_here: PlanAfter = None,
    plan: PlanOpt = DEFAULT_PLAN,
) -> None:
    """Give a failed task another go, its rounds counted from zero (a human intervention)."""
    task, plan = _in_plan(task, plan_here, plan)
    from czar.supervisor.people import retry as again

    typer.echo(again(_for_person("retry", plan, check_repo=False), task))


@app.command()
def cancel(
    task: Annotated[str, typer.Argument(help="The task to withdraw.")],
    plan_here: PlanAfter = None,
    plan: PlanOpt = DEFAULT_PLAN,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record.")] = "",
) -> None:
    """Withdraw a task: its agent is stopped and tasks that depend on it fail (a human intervention)."""
    task, plan = _in_plan(task, plan_here, plan)
    from czar.supervisor.people import cancel as withdraw

    typer.echo(withdraw(_for_person("cancel", plan, check_repo=False), task, reason))


@app.command()
def pause(plan: PlanArg = DEFAULT_PLAN) -> None:
    """Start no task or review until `czar resume`; work under way goes on (a human intervention)."""
    from czar.supervisor.people import pause as hold

    typer.echo(hold(_for_person("pause", plan, check_repo=False)))


@app.command()
def resume(plan: PlanArg = DEFAULT_PLAN) -> None:
    """Let a paused run start tasks and reviews again (a human intervention)."""
    from czar.supervisor.people import resume as go_on

    typer.echo(go_on(_for_person("resume", plan, check_repo=False)))


@app.command()
def projects(as_json: JsonOpt = False) -> None:
    """List the projects under $CZAR_HOME with their state."""
    from czar.supervisor.projects import all_projects

    found = all_projects()
    if as_json:
        typer.echo(json.dumps([p.as_dict() for p in found]))
        return
    _views().print_projects(found)


@app.command()
def dash(plan: PlanArg = DEFAULT_PLAN) -> None:
    """A live dashboard in this terminal: workers, tasks, pull requests, alerts, what needs you."""
    from czar.interfaces.tui.dashboard import run_dashboard

    run_dashboard(_open(plan, check_repo=False))


@app.command()
def web(
    plan: PlanArg = DEFAULT_PLAN,
    host: Annotated[str, typer.Option("--host", help="Where to listen (only this machine by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The port (0: any free one).", min=0, max=65535)] = 8765,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="CZAR_WEB_TOKEN",
            help="The password for acting (default: a new one, printed). Prefer CZAR_WEB_TOKEN: a command"
            " line is visible to every user of the machine.",
        ),
    ] = None,
) -> None:
    """A live web page of the run; anything beyond reading needs the token it prints."""
    from czar.interfaces.web.server import serve

    serve(_open(plan, check_repo=False), host=host, port=port, token=token)


agent_commands.register(app)


def main() -> None:
    try:
        app()
    except CzarError as exc:
        print(*exc.said(), sep="\n", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("czar: interrupted", file=sys.stderr)
        sys.exit(130)
    except OSError as exc:  # a path the system refuses (too long, a file where a folder goes): said, not traced
        where = f": {exc.filename}" if exc.filename else ""
        print(f"czar: {exc.strerror or exc}{where}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # czar's own fault, or the machine's (no thread left): a line, the trace kept
        print(f"czar: {exc!r}; the trace is in {_traced(exc)}", file=sys.stderr)
        sys.exit(1)


def _traced(exc: BaseException) -> str:
    """Where the trace of ``exc`` is written (found by a probe: a supervisor out of threads ended
    on fifty lines of traceback in its window)."""
    import tempfile
    import traceback

    text = "".join(traceback.format_exception(exc))
    try:
        with tempfile.NamedTemporaryFile("w", prefix="czar-trace-", suffix=".txt", delete=False) as fh:
            fh.write(text)
            return fh.name
    except OSError:
        return "(nowhere: it could not be written)"
