"""The views measured (``czar bench views``): a hundred simulated workers at work, ``czar web``
open in a real browser (Debian's Chromium, through Playwright) and ``czar dash`` open in a
terminal (a tmux pane), both as a person runs them.

- **Store to page**: markers (alerts, which the page shows) are written to the store one by one
  while the run is busy; the page notes when each appears (a MutationObserver, on the same clock).
  Target: p99 under ``LATENCY_TARGET_MS``.
- **CPU**: what the web server and the dashboard use together (with the git commands they run),
  over the measured stretch, in percent of one core. Target: under ``CPU_TARGET_PERCENT``.
"""

from __future__ import annotations

import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from czar.bench import metrics
from czar.bench.harness import cpu_seconds
from czar.bench.load import scale
from czar.demo.sample import init_repo
from czar.errors import CzarError
from czar.runtime import proc
from czar.runtime.tmux import TmuxHost
from czar.store.store import Store
from czar.supervisor import launcher
from czar.supervisor.project import Project, open_project
from czar.testing.browser import FLAGS, chromium_path

LATENCY_TARGET_MS = 200.0
CPU_TARGET_PERCENT = 10.0
MARKER = "bench marker"
TOKEN = "bench-views"
# Records, in the page, when each marker first shows: the page's own clock is the machine's.
WATCH = """
() => {
  window.czarSeen = {};
  const look = () => {
    // textContent, not innerText: reading the text must not make the page lay itself out.
    const text = document.getElementById("live").textContent;
    for (const m of text.matchAll(/bench marker (\\d+)/g)) {
      if (!(m[1] in window.czarSeen)) window.czarSeen[m[1]] = Date.now();
    }
  };
  new MutationObserver(look).observe(document.getElementById("live"), {childList: true, subtree: true});
  look();
  // When each marker reached the browser, apart from when it was shown: which side is slow.
  window.czarArrived = {};
  const feed = new EventSource("live");
  const arrived = (e) => {
    for (const m of e.data.matchAll(/bench marker (\\d+)/g)) {
      if (!(m[1] in window.czarArrived)) window.czarArrived[m[1]] = Date.now();
    }
  };
  feed.addEventListener("page", arrived);
  feed.addEventListener("patch", arrived);
  // The page's main thread busy for 50 ms or more at once (the browser's side of the tail).
  window.czarLong = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.czarLong.push([performance.timeOrigin + e.startTime, e.duration]);
  }).observe({type: "longtask", buffered: false});
}
"""


def run(
    workers: int = 100,
    markers: int = 60,
    folder: Path | None = None,
    timeout: float = 600,
    progress: bool = False,
) -> dict[str, Any]:
    root = (folder or Path(tempfile.mkdtemp(prefix="czar-bench-views-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    os.environ["CZAR_HOME"] = str(root / "home")  # everything the run keeps stays in its folder
    scenario = scale(workers=workers, tasks=workers * 3, task_seconds=20.0)
    init_repo(root / "repo", scenario.files, "initial commit")
    plan = root / "czar.toml"
    plan.write_text(scenario.plan(), encoding="utf-8")
    project = open_project(plan)
    web: proc.Child | None = None
    dash = TmuxHost(f"czar-bench-dash-{os.getpid()}", "dash")
    try:
        launcher.up(project)
        web, url = _start_web(project, root)
        dash.start_window("dash", [sys.executable, "-m", "czar", "dash", str(plan)], env={}, cwd=root)
        dash_pid = dash.pane_pid("dash")
        if dash_pid is None:
            raise CzarError("czar dash did not start in its terminal")
        _say(progress, f"run started; web at {url}; dashboard pid {dash_pid}")
        _wait_busy(project, workers, timeout)
        measured = _measure(project, url, web.pid, dash_pid, markers, progress)
        screen = dash.capture("dash", 60)
    finally:
        if web is not None:
            web.end_all()
        dash.kill_server()
        launcher.down(project, reason="benchmark finished")
    latency = metrics.summary(measured["latencies"], scale=1000, digits=1)
    cpu = measured["cpu_percent"]
    p99 = latency["p99"]
    result: dict[str, Any] = {
        "workers": workers,
        "markers": markers,
        "markers_seen": len(measured["latencies"]),
        "store_to_page_ms": latency,
        "store_to_server_ms": metrics.summary(measured["served"], scale=1000, digits=1),
        "store_to_browser_ms": metrics.summary(measured["reached"], scale=1000, digits=1),
        "web_cpu_percent": measured["web_cpu_percent"],
        "dash_cpu_percent": measured["dash_cpu_percent"],
        "views_cpu_percent": cpu,
        "measured_seconds": measured["seconds"],
        "browser_long_tasks": measured["browser_long_tasks"],
        "dashboard_showed_the_run": "w100" in screen or f"w{workers}" in screen,
        "folder": str(root),
    }
    seen_all = result["markers_seen"] == markers
    result["targets"] = {
        "store_to_page_p99_ms": {
            "value": p99,
            "target": f"< {LATENCY_TARGET_MS:g}",
            "met": seen_all and p99 is not None and p99 < LATENCY_TARGET_MS,
        },
        "views_cpu_percent": {"value": cpu, "target": f"< {CPU_TARGET_PERCENT:g}", "met": cpu < CPU_TARGET_PERCENT},
    }
    result["passed"] = all(t["met"] for t in result["targets"].values())
    return result


def _say(progress: bool, text: str) -> None:
    if progress:
        print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def _start_web(project: Project, root: Path) -> tuple[proc.Child, str]:
    log = root / "web.log"
    argv = [sys.executable, "-m", "czar", "web", str(project.plan.path), "--port", "0", "--token", TOKEN]
    env = {**os.environ, "CZAR_WEB_TRACE": str(root / "web-trace.txt")}
    child = proc.start_server(argv, cwd=root, env=env, log_to=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"czar web: (http://\S+/) ", log.read_text(encoding="utf-8", errors="replace"))
        if found:
            return child, found.group(1)
        if not child.running():
            raise CzarError(f"czar web exited: {log.read_text(encoding='utf-8', errors='replace')[-500:]}")
        time.sleep(0.1)
    child.end_all()
    raise CzarError("czar web did not say where it listens within 60 s")


def _wait_busy(project: Project, workers: int, timeout: float) -> None:
    """Until most workers have a task: the busy stretch is what is measured."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = sum(1 for w in project.store.workers() if w.task_id is not None)
        if busy >= workers * 0.8:
            return
        time.sleep(0.5)
    raise CzarError(f"the run did not get {workers * 0.8:.0f} workers busy within {timeout:.0f} s")


def _measure(project: Project, url: str, web_pid: int, dash_pid: int, markers: int, progress: bool) -> dict[str, Any]:
    try:
        from playwright.sync_api import TimeoutError as PageTimeout
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise CzarError("czar bench views drives a real browser: pip install playwright (make setup does)") from None
    chromium = chromium_path()
    rnd = random.Random(3)
    written: dict[str, float] = {}
    ids: dict[str, int] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=list(FLAGS), chromium_sandbox=False)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url, wait_until="load")
        page.wait_for_selector("#live")
        page.evaluate(WATCH)
        web_cpu, dash_cpu, started = _cpu(web_pid), _cpu(dash_pid), time.monotonic()
        for i in range(markers):
            page.wait_for_timeout(rnd.uniform(300, 700))  # the page's own loop runs meanwhile
            with project.store.write() as conn:
                ids[str(i)] = Store.alert(conn, "warning", f"{MARKER} {i}")
            written[str(i)] = time.time()
        try:
            page.wait_for_function(f"() => Object.keys(window.czarSeen).length >= {markers}", timeout=10_000)
        except PageTimeout:
            _say(progress, "the page missed markers (counted as missed)")
        seconds = time.monotonic() - started
        web_used, dash_used = _cpu(web_pid) - web_cpu, _cpu(dash_pid) - dash_cpu
        seen: dict[str, float] = page.evaluate("window.czarSeen")
        arrived: dict[str, float] = page.evaluate("window.czarArrived")
        long_tasks: list[tuple[float, float]] = page.evaluate("window.czarLong")
        browser.close()
    latencies = [max(0.0, seen[k] / 1000 - at) for k, at in written.items() if k in seen]
    reached = [max(0.0, arrived[k] / 1000 - at) for k, at in written.items() if k in arrived]
    published = _published(Path(os.environ["CZAR_HOME"]).parent / "web-trace.txt")
    served = [
        max(0.0, when - written[k]) for k, i in ids.items() if (when := next((t for t, e in published if e >= i), None))
    ]
    web_percent = round(web_used / seconds * 100, 2)
    dash_percent = round(dash_used / seconds * 100, 2)
    return {
        "latencies": latencies,
        "reached": reached,
        "served": served,
        "seconds": round(seconds, 1),
        "web_cpu_percent": web_percent,
        "dash_cpu_percent": dash_percent,
        "cpu_percent": round(web_percent + dash_percent, 2),
        "browser_long_tasks": {
            "count": len(long_tasks),
            "longest_ms": round(max((d for _, d in long_tasks), default=0.0), 1),
        },
    }


def _cpu(pid: int) -> float:
    # The git commands a view runs (its branches' positions) are part of what it costs.
    return cpu_seconds(pid, children=True)


def _published(trace: Path) -> list[tuple[float, int]]:
    """When the web server sent each version out, and the newest event it showed."""
    try:
        lines = trace.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [(float(fields[0]), int(fields[2])) for fields in (line.split() for line in lines) if len(fields) >= 3]
