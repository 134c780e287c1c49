"""What the CLI shows: the status table, live progress of a run, and its summary."""

from __future__ import annotations

import json
import signal
import sys
import time
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from czar.core.shown import on_one_line, visible
from czar.errors import CzarError, SupervisorGone
from czar.interfaces.cli import stopped
from czar.store.store import Event
from czar.supervisor import launcher, outcome, people, status
from czar.supervisor.lock import said_pid, supervisor_said
from czar.supervisor.project import Project


def status_data(project: Project) -> dict[str, Any]:
    return status.status(project)


WORKER_COLUMNS = ("worker", "agent", "state", "for", "task", "waits for")
TASK_COLUMNS = ("task", "state", "worker", "progress", "rounds", "cost", "depends on", "title")
RADAR_COLUMNS = ("finding", "task", "with", "files")
BRANCH_COLUMNS = ("branch", "tip", "ahead", "behind", "against", "remote")


def _count(n: int | None) -> str:
    return "-" if n is None else str(n)


def branch_rows(data: dict[str, Any]) -> list[tuple[str, ...]]:
    """Each czar branch: ahead and behind what it is measured against, and its remote's copy."""
    rows: list[tuple[str, ...]] = []
    for b in data["branches"]:
        if data["remote"] is None:
            far = "-"
        elif not b["on_remote"]:
            far = "not pushed"
        elif b["remote_ahead"] == 0 and b["remote_behind"] == 0:
            far = "same"
        else:
            far = f"{_count(b['remote_ahead'])} ahead, {_count(b['remote_behind'])} behind"
        rows.append((b["branch"], b["tip"][:10], _count(b["ahead"]), _count(b["behind"]), b["against"], far))
    return rows


def worker_rows(data: dict[str, Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for w in data["workers"]:
        since = f"{w['for_seconds']:.0f} s" if w["for_seconds"] is not None else "-"
        rows.append((w["id"], w["agent"], w["state"], since, w["task"] or "-", (w["detail"] or "")[:60]))
    return rows


def task_rows(data: dict[str, Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for t in data["tasks"]:
        progress = f"{t['checkpoint']}/{t['checkpoints']}" if t["checkpoints"] else "-"
        if t["blocked_on"]:
            progress += f" (waits for {t['blocked_on']})"
        cost = f"${t['cost_usd']:.2f}" if t["cost_usd"] else "-"
        deps = ", ".join(t["depends_on"]) or "-"
        rows.append((t["id"], t["state"], t["worker"] or "-", progress, str(t["rounds"]), cost, deps, t["title"]))
    return rows


def radar_rows(data: dict[str, Any]) -> list[tuple[str, ...]]:
    return [(f["kind"], f["task"], f["other"] or "integration", ", ".join(f["files"][:5])) for f in data["radar"]]


# Columns of names a person types back (`czar retry a-task`, `czar logs w2`): folded onto a next
# line where the terminal is narrow, never cut short (in 80 columns, a pipe, two tasks `readme-top`
# and `readme-too` both showed as `readme-…`); the table still fits the terminal.
NAMES = frozenset({"#", "worker", "task", "with", "branch", "project", "depends on", "against"})


PIPED_WIDTH = 400  # columns of a table written to a pipe or a file


def _console() -> Console:
    """The terminal's width, or, into a pipe or a file, as wide as the rows need: wrapped to
    80 columns, `czar status | grep a-task` found the task split over two lines (found by a probe)."""
    return Console() if sys.stdout.isatty() else Console(width=PIPED_WIDTH)


def _table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> Table:
    table = Table(title=title, title_justify="left")
    for name in columns:
        table.add_column(name, overflow="fold" if name in NAMES else "ellipsis")
    for row in rows:
        if len(row) != len(columns):
            # rich pads a short row without a word: every cell after the gap would sit one column left.
            raise ValueError(f"{title} table: a row of {len(row)} cells under {len(columns)} headers")
        # As plain text: titles and notes come from plans and agents, and `[...]` is not markup
        # (nor an escape sequence); on one line each (an agent's question with a line break in
        # it printed a line of its own in the table, found by a probe).
        table.add_row(*(Text(visible(on_one_line(cell))) for cell in row))
    return table


def print_status(data: dict[str, Any], console: Console | None = None) -> None:
    console = console or _console()
    sup = data["supervisor"]
    if not data["tasks"]:
        console.print(f"project {data['project']}: no run yet; `czar up` or `czar run` starts one")
        return
    cost = data["cost"]
    console.print(
        f"project {data['project']}: supervisor "
        + supervisor_said(sup)
        + (" | PAUSED (`czar resume`)" if data.get("paused") else "")
        + " | "
        + ", ".join(f"{n} {s}" for s, n in data["counts"].items())
        + (
            f" | ${cost['cost_usd']:.2f} ({cost['input_tokens']} tokens in, {cost['output_tokens']} out)"
            if cost["cost_usd"]
            else ""
        )
    )
    console.print(_table("workers", WORKER_COLUMNS, worker_rows(data)))
    console.print(_table("tasks", TASK_COLUMNS, task_rows(data)))
    remote = data["remote"]
    title = "branches" + (f" (remote {remote['name']})" if remote else "")
    console.print(_table(title, BRANCH_COLUMNS, branch_rows(data)))
    if remote and remote["fetch_problem"]:
        console.print(f"remote {remote['name']} could not be fetched: {remote['fetch_problem']}", markup=False)
    forge = data.get("forge") or {"kind": "local"}
    if forge["kind"] != "local":
        name = {"github": "GitHub", "gitlab": "GitLab"}.get(forge["kind"], forge["kind"])
        how = "merged by the forge" if forge.get("merge_via") == "pull-request" else "merged by czar, then pushed"
        held = "; merges wait for CI" if forge.get("wait_for_ci") else ""
        where = forge.get("repository") or "(repository not named)"
        console.print(f"pull requests: on {name}, {where} ({how}{held}); `czar prs` lists them", markup=False)
    if data["radar"]:
        console.print(_table("radar", RADAR_COLUMNS, radar_rows(data)))
    if data["alerts"]:
        console.print("alerts:")
        for a in data["alerts"][-10:]:
            when = time.strftime("%H:%M:%S", time.localtime(a["time"]))
            # On one line: an agent's words there (a question, a command it asks to run) could
            # otherwise start a line that reads as czar's own.
            console.print(f"  {when} [{a['level']}] {visible(on_one_line(a['message']))}", markup=False)


PROJECT_COLUMNS = ("project", "supervisor", "tasks", "last activity", "plan")


def print_projects(found: list[Any], console: Console | None = None) -> None:
    console = console or _console()
    if not found:
        console.print("no projects yet: `czar up` or `czar run` in a repository starts one")
        return
    rows: list[tuple[str, ...]] = []
    for p in found:
        states = ", ".join(f"{n} {s}" for s, n in p.counts.items()) or "none"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(p.last_activity)) if p.last_activity else "-"
        running = f"running ({said_pid(p.pid)})" if p.running else "stopped"
        rows.append((p.name, running, p.problem or states, when, p.plan or "-"))
    console.print(_table("projects", PROJECT_COLUMNS, rows))


PULL_COLUMNS = ("#", "task", "state", "head", "checks", "reviews", "files", "rounds", "cost")


def pull_rows(rows: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for p in rows:
        checks = f"{p['checks_passed']}/{p['checks']} passed" if p["checks"] else "-"
        reviews = f"{p['reviews']} ({p['verdict']})" if p["reviews"] else "-"
        size = f"{p['files']} +{p['added']} -{p['removed']}"
        cost = f"${p['cost_usd']:.2f}" if p["cost_usd"] else "-"
        out.append(
            (
                f"#{p['number']}",
                p["task"],
                p["state"] + (" (closed there)" if p.get("closed_there") else ""),
                p["head_commit"][:10],
                checks,
                reviews,
                size,
                str(p["rounds"]),
                cost,
            )
        )
    return out


def print_pulls(rows: list[dict[str, Any]], console: Console | None = None) -> None:
    console = console or _console()
    if not rows:
        console.print("no pull requests yet: a task's opens when it is verified")
        return
    table = pull_rows(rows)
    if any(p.get("remote_number") for p in rows):  # on a forge: its own number beside czar's
        numbers = [f"#{p['remote_number']}" if p.get("remote_number") else "-" for p in rows]
        table = [(row[0], number, *row[1:]) for row, number in zip(table, numbers, strict=True)]
        console.print(_table("pull requests", (PULL_COLUMNS[0], "forge", *PULL_COLUMNS[1:]), table))
        return
    console.print(_table("pull requests", PULL_COLUMNS, table))


def print_pull(data: dict[str, Any], console: Console | None = None) -> None:
    console = console or _console()
    merged = f", merged as {data['merged_as'][:10]}" if data["merged_as"] else ""
    console.print(
        visible(
            f"#{data['number']} {data['title']}\n{data['state']}{merged}: {data['head']} "
            f"({data['head_commit'][:10]}) into {data['base']}"
        ),
        markup=False,
        highlight=False,
    )
    if data.get("url"):
        console.print(visible(data["url"]), markup=False, highlight=False)
    console.print(visible(data["body"]), markup=False, highlight=False, soft_wrap=True)
    console.print("history:")
    for h in data["history"]:
        when = time.strftime("%H:%M:%S", time.localtime(h["time"]))
        commit = f" {h['commit'][:10]}" if h.get("commit") else ""
        extra = {k: v for k, v in h.items() if k not in ("time", "what", "commit", "runs", "title")}
        line = f"  {when} {h['what']}{commit} {json.dumps(extra) if extra else ''}".rstrip()
        console.print(visible(line), markup=False)


PAUSED_LINE = "the run is paused: no task or review starts until `czar resume` (work under way goes on)"


def run_to_end(project: Project, *, as_json: bool, keep_running: bool, timeout: float | None) -> outcome.RunOutcome:
    """Start or join the run, print progress (to stderr with --json), and print the outcome."""
    since = outcome.last_event_id(project)
    stop: stopped.Stop | None = None  # how it was interrupted, if it was

    last: dict[str, str] = {}  # task -> the line last shown of it

    def show(event: Event) -> None:
        line = outcome.describe(event)
        if line and event.task_id is not None:
            # Said once: a task the forge holds is asked again every `poll_seconds`, and each time
            # goes back to approved for the same reason.
            if last.get(event.task_id) == line:
                return
            last[event.task_id] = line
        if line:
            print(
                f"{time.strftime('%H:%M:%S')} {visible(line)}", file=sys.stderr if as_json else sys.stdout, flush=True
            )

    try:
        # Inside the try: a supervisor that fails to start in time is stopped, not left behind.
        pid, fresh = launcher.up(project)
        if not as_json:
            typer.echo(f"supervisor {'started' if fresh else 'already running'} ({said_pid(pid)}); following the run")
        if people.paused(project):  # (else it would seem to hang: a person paused it, maybe long ago)
            print(PAUSED_LINE, file=sys.stderr if as_json else sys.stdout, flush=True)
        outcome.follow(project, since, show, timeout=timeout)
        integration_ok = outcome.integration_check(project)
        write_omnibus(project, integration_ok, print_to=sys.stderr if as_json else sys.stdout)
    except SupervisorGone:
        # `czar run` follows the run, it does not own it: the workers keep their work for the
        # next supervisor (or were stopped by whoever stopped this one).
        keep_running = True
        raise
    except (KeyboardInterrupt, BrokenPipeError) as exc:
        # Ctrl-C (or SIGTERM, SIGHUP, its output closed: ``stopped``) stops the run as its end
        # does (unless --keep-running); Typer would end the process without a word, and a person
        # must know what is left running and what is kept.
        stop = stopped.how(exc)
        if isinstance(exc, BrokenPipeError):
            stopped.stopping()  # (a signal's own way out does so first thing)
            stopped.output_gone()
        raise
    finally:
        if stop is not None:
            # A second Ctrl-C must not cut what follows short (`down`, what it says after); a
            # second kill is noted already (``stopped``). Either, now or in `down`, hurries it.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if stop is not None and not keep_running:
            stopped.say(f"czar: {stop.said}: stopping the run...")
        if not keep_running:
            reason = stop.reason if stop is not None else "run finished"
            launcher.down(project, reason=reason, hurry=stopped.told_again())
        if stop is not None:
            what = (
                "the run goes on (`czar status` follows it, `czar down` stops it)"
                if keep_running
                else f"the run is stopped; its tasks, branches and checkouts are kept (`czar run {project.plan.path}` "
                "carries it on)"
            )
            stopped.say(f"czar: {stop.said}: {what}")
    # The whole run's numbers, also when this joined a run `czar up` started earlier.
    result = outcome.outcome(project, integration_ok)
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
    else:
        typer.echo(
            f"\n{result.tasks_merged}/{result.tasks_total} task(s) merged, {result.tasks_failed} failed"
            f" in {result.wall_seconds:.1f} s; integration branch {result.integration_branch}: tests "
            + {True: "pass", False: "FAIL", None: "not configured"}[result.integration_tests_passed]
            + f"; {result.interventions} human intervention(s)"
            + (f"; models cost ${result.cost_usd:.2f}" if result.cost_usd else "")
        )
        if result.failed_tasks:
            typer.echo(f"failed: {', '.join(result.failed_tasks)} (see `czar logs` and `czar status`)")
    return result


def write_omnibus(project: Project, checks_passed: bool | None, print_to: Any = sys.stdout) -> bool:
    """The tasks' pull requests brought up to date, then the run's omnibus, proven and written;
    a line says which, or why not. False if it could not be written."""
    from czar.core.omnibus import into_base
    from czar.supervisor import omnibus
    from czar.supervisor.pulls import PullRequests

    try:
        PullRequests(project, lambda _text: None).sync()
        written = omnibus.write(project, checks_passed)
    except CzarError as exc:  # the run's work is merged whatever happens here; `czar omnibus` tries again
        print(visible(f"omnibus not written: {exc}"), file=print_to, flush=True)
        return False
    if written.pull is None:
        print("no omnibus: nothing merged", file=print_to, flush=True)
        return True
    proof = (
        "containment proven" if written.proof.ok else "containment NOT proven: " + "; ".join(written.proof.problems())
    )
    spec = project.plan.project
    clash = (
        f"; {into_base(spec.base_branch, spec.integration_branch, written.conflicts)}"
        if written.conflicts != ()
        else ""
    )
    print(  # the files in conflict, and what containment found, are named by agents
        visible(f"omnibus: pull request #{written.pull.number} into {spec.base_branch}; {proof}{clash}"),
        file=print_to,
        flush=True,
    )
    try:
        landed = omnibus.land(project, written, checks_passed)
    except CzarError as exc:  # the base branch moved meanwhile, say: a person merges the pull request
        landed = f"not landed: {exc}"
    if landed:
        print(visible(f"omnibus {landed}"), file=print_to, flush=True)
    # The run's report, with what the checks of the integration branch said.
    from czar.supervisor.report import report_line

    print(report_line(project, checks_passed), file=print_to, flush=True)
    return True


def print_measures(title: str, r: dict[str, Any]) -> None:
    """A benchmark's figures and its targets, met or not."""
    console = _console()
    table = Table("measure", "value", title=title, title_justify="left")
    for key, value in r.items():
        if key not in ("targets", "passed", "scenario"):
            table.add_row(key.replace("_", " "), _num(value) if isinstance(value, float) else str(value))
    console.print(table)
    for name, t in r["targets"].items():
        console.print(f"  target {name}: {t['value']} (target {t['target']}): {'met' if t['met'] else 'MISSED'}")
    console.print("passed" if r["passed"] else "FAILED")


def print_bench(r: dict[str, Any]) -> None:
    console = _console()
    table = Table("measure", "value", title=f"benchmark {r['scenario']} ({r['workers']} workers)", title_justify="left")
    rows: list[tuple[str, str]] = [
        ("tasks merged", f"{r['tasks_merged']}/{r['tasks_total']}"),
        ("accuracy", _num(r["accuracy"])),
        ("duplication", f"{r['duplication']} ({r['duplicated_lines']} of {r['added_lines']} lines)"),
        ("interventions", str(r["interventions"])),
        ("failures detected", f"{r['detected']}/{r['injected']}"),
    ]
    for kind, d in sorted(r["detection_seconds"].items()):
        rows.append((f"  {kind} detected in (s)", f"p50 {_num(d['p50'])}, p99 {_num(d['p99'])} (n={d['n']})"))
    reaction = r["reaction_ms"]
    rows.append(("reaction (ms)", f"p50 {_num(reaction['p50'])}, p99 {_num(reaction['p99'])} (n={reaction['n']})"))
    unblock = r["unblock_ms"]
    rows.append(("unblock (ms)", f"p50 {_num(unblock['p50'])}, p99 {_num(unblock['p99'])} (n={unblock['n']})"))
    if r.get("makespan_ratio") is not None:
        rows.append(
            (
                "makespan / lower bound",
                f"{r['makespan_ratio']} ({r['makespan_seconds']} s / {r['lower_bound_seconds']} s)",
            )
        )
    rows += [("supervisor CPU (% of a core)", _num(r["supervisor_cpu_percent"])), ("wall (s)", _num(r["wall_seconds"]))]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for name, t in r["targets"].items():
        mark = "met" if t["met"] else "MISSED"
        console.print(f"  target {name}: {t['value']} (target {t['target']}): {mark}", markup=False)
    console.print(f"{'passed' if r['passed'] else 'FAILED'}; the run is kept in {r['folder']}", markup=False)


def print_agents_bench(r: dict[str, Any]) -> None:
    console = _console()
    table = Table("measure (medians)", "czar", f"bare {r['agent']} CLI", title=f"benchmark agents ({r['agent']})")
    table.add_row("tasks merged", f"{r['tasks_merged']}/{r['tasks_total']}", "")
    table.add_row("start to first model request (s)", _num(r["czar_start_seconds"]), _num(r["cli_start_seconds"]))
    table.add_row("  four started together (s)", _num(r["czar_start_four_seconds"]), _num(r["cli_start_four_seconds"]))
    table.add_row("hand-in to czar knowing (ms)", f"{_num(r['finish_ms'])} (max {_num(r['finish_ms_max'])})", "")
    table.add_row("supervisor CPU per task (s)", _num(r["supervisor_cpu_seconds_per_task"]), "")
    table.add_row("  all of czar's processes (s)", _num(r["czar_cpu_seconds_per_task"]), "")
    table.add_row(
        "worker host memory (MB)", f"{_num(r['host_memory_mb_median'])} (max {_num(r['host_memory_mb'])})", ""
    )
    table.add_row("a cold `czar run` to first model request (s)", _num(r["cold_start_seconds"]), "")
    table.add_row("wall (s)", _num(r["wall_seconds"]), "")
    console.print(table)
    for name, t in r["targets"].items():
        mark = "met" if t["met"] else "MISSED"
        console.print(f"  target {name}: {t['value']} (target {t['target']}): {mark}", markup=False)
    console.print(f"{'passed' if r['passed'] else 'FAILED'}; the run is kept in {r['folder']}", markup=False)


def print_replay(r: dict[str, Any]) -> None:
    console = _console()
    mode = "no dependencies" if not r["deps"] else "dependencies by file"
    table = Table("measure", "value", title=f"replay {r['range']} of {r['source']} ({mode}, {r['workers']} workers)")
    table.add_row("tasks merged", f"{r['tasks_merged']}/{r['tasks_total']} ({r['tasks_failed']} failed)")
    table.add_row("final tree equals the range's end", "yes" if r["tree_matches"] else "NO")
    table.add_row("stand-offs", str(r["stand_offs"]))
    table.add_row("verification rounds", f"{r['rounds']} ({r['failed_verifications']} failed)")
    table.add_row("failed merges, sent back to be made again", f"{r['failed_merges']}, {r['sent_back']}")
    table.add_row("tasks back in the pool", str(r["requeues"]))
    table.add_row("duplication", f"{r['duplication']} ({r['duplicated_lines']} of {r['added_lines']} lines)")
    table.add_row("wall (s)", _num(r["wall_seconds"]))
    console.print(table)
    if r["failed_tasks"]:
        console.print(f"  failed: {', '.join(r['failed_tasks'])}", markup=False)
    if r["problem"]:
        console.print(f"  {r['problem']}", markup=False)
    console.print(f"{'passed' if r['passed'] else 'FAILED'}; the run is kept in {r['folder']}", markup=False)


def _num(value: object) -> str:
    return "-" if value is None else str(value)
