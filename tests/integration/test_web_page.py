"""``czar web`` in a real browser (Debian's Chromium through Playwright) and over plain HTTP: the
run shown live, on a desktop and a phone, and a person's actions through the page."""

from __future__ import annotations

import contextlib
import html
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from httpx import Response
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from starlette.testclient import TestClient

from browser import chromium, png_size, screenshots_folder
from czar.core.events import EventKind
from czar.core.forge import CheckRun, PullDraft, PullRef
from czar.core.omnibus import OMNIBUS
from czar.core.states import TaskState, WorkerState
from czar.interfaces.web.site import make_app
from czar.store.store import Store
from czar.supervisor import people
from czar.supervisor.overview import overview
from czar.supervisor.project import Project, open_project
from czar.supervisor.snapshot import PAUSED
from helpers import make_repo, sim_task, write_plan

TOKEN = "the-token-for-tests"
HOSTILE = "<img src=x onerror=alert(1)>"


def _project(root: Path) -> Project:
    make_repo(root / "repo")
    tasks = [
        sim_task("parse"),
        sim_task("render", deps=("parse",)),
        sim_task("export", deps=("parse",)),
        sim_task("docs", deps=("render", "export")),
    ]
    plan = write_plan(root, "webby", tasks, workers=2)
    text = plan.read_text().replace('title = "task export"', f"title = {json.dumps(HOSTILE)}")
    plan.write_text(text)
    project = open_project(plan)
    project.sync_plan()
    return project


def _at_work(project: Project, task: str, worker: str) -> int:
    """``task`` taken by ``worker``, as an assignment leaves them (no agent runs)."""
    with project.store.write() as conn:
        Store.move_task(conn, task, TaskState.READY, reason="test")
        attempt = Store.new_attempt(
            conn,
            task_id=task,
            worker_id=worker,
            branch=f"czar/{task}",
            worktree=str(project.paths.worktree(task)),
            base_commit="0" * 40,
            prompt="do it",
            prompt_sha256="0" * 64,
            after_launch=0,
        )
        Store.move_task(conn, task, TaskState.ASSIGNED, reason="test", worker_id=worker, attempt_id=attempt)
        Store.move_task(conn, task, TaskState.RUNNING, reason="test")
        Store.set_worker(conn, worker, task_id=task, state=WorkerState.WORKING)
    return attempt


def _ask_permission(project: Project, task: str, worker: str, attempt: int) -> None:
    with project.store.write() as conn:
        detail = json.dumps({"tool": "Bash", "target": "rm -rf build", "asked_at": time.time()})
        Store.set_worker(conn, worker, state=WorkerState.WAITING_PERMISSION, detail=detail)
        Store.emit(
            conn, EventKind.PERMISSION_ASKED, task=task, worker=worker, attempt=attempt, tool="Bash", target="rm"
        )


@dataclass
class Site:
    project: Project
    url: str


@contextlib.contextmanager
def _serving(app: FastAPI, port: int = 0) -> Iterator[str]:
    """``app`` served on 127.0.0.1 (``port``, or one free) while in the block: its address."""
    sock = socket.create_server(("127.0.0.1", port))
    # (A page's live stream never ends of itself: at the end, the server cuts it after a second.)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def site(tmp_path: Path, czar_home: Path) -> Iterator[Site]:
    project = _project(tmp_path)
    with _serving(make_app(project, TOKEN)) as url:
        yield Site(project, url)


def _pull_of_parse(site: Site, title: str, body: str, *checks: CheckRun) -> PullRef:
    """Task parse's pull request in the local forge, at main's tip, with ``checks``."""
    draft = PullDraft(
        task="parse",
        head_branch="czar/parse",
        base_branch="czar/integration",
        head_commit=site.project.git.tip("main"),
        title=title,
        body=body,
        checks=checks,
    )
    return site.project.forge.open_or_update(draft)


def _said(client: TestClient, acted: Response) -> str:
    """What the page an action leads back to says of it."""
    assert acted.status_code == 303, acted.text
    back = client.get(urllib.parse.urljoin("/p/webby/act", acted.headers["location"]))
    found = re.search(r'<section class="(?:said|error)" role="(?:status|alert)">(.*?)</section>', back.text, re.S)
    assert found is not None, back.text
    return html.unescape(found.group(1))


def _log_in(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/login?token={TOKEN}")
    page.wait_for_selector("#live")


def test_the_run_is_shown_on_a_desktop_and_on_a_phone(site: Site, tmp_path: Path) -> None:
    _at_work(site.project, "parse", "w1")
    folder = screenshots_folder(tmp_path / "screens")
    dialogs: list[str] = []
    with chromium() as browser:
        for name, width, height in (("desktop", 1280, 900), ("phone", 390, 844)):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(site.url + "/")
            page.wait_for_selector("#tasks")
            tasks = page.locator("#tasks tr[data-task]")
            assert tasks.count() == 4
            assert page.locator("#workers tr[data-worker]").count() == 2
            assert page.locator("svg.graph g.node").count() == 4
            assert page.locator("svg.graph line").count() == 4  # render, export <- parse; docs <- both
            row = page.locator('#tasks tr[data-task="parse"]')
            assert "running" in row.inner_text()
            assert page.locator('#workers tr[data-worker="w1"]').inner_text().count("parse") == 1
            # A title from the plan is text, never markup.
            assert HOSTILE in page.locator('#tasks tr[data-task="export"]').inner_text() or name == "phone"
            assert page.locator("#live img").count() == 0
            # Nothing sticks out sideways: a phone scrolls down, not across.
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name}: the page is {overflow}px wider than the screen"
            shot = folder / f"overview-{name}.png"
            page.screenshot(path=str(shot), full_page=True)
            w, h = png_size(shot)
            assert w == width and h >= height
            assert shot.stat().st_size > 20_000, "the screenshot looks empty"
            page.close()
    assert dialogs == []


def test_a_change_in_the_store_reaches_an_open_page_without_reloading(site: Site) -> None:
    with chromium() as browser:
        page = browser.new_page()
        page.goto(site.url + "/")
        page.wait_for_selector('#tasks tr[data-task="parse"]')
        page.evaluate("window.czarMark = 1")  # gone if the page reloads
        first = page.locator("#live").get_attribute("data-version")
        started = time.monotonic()
        with site.project.store.write() as conn:
            Store.move_task(conn, "parse", TaskState.READY, reason="test")
        page.wait_for_function(
            """() => document.querySelector('#tasks tr[data-task="parse"]').innerText.includes('ready')""",
            timeout=15_000,
        )
        took = time.monotonic() - started
        # Its node in the graph too, replaced alone inside the SVG (and still drawn as SVG).
        page.wait_for_function(
            """() => document.querySelector('svg.graph g.node[data-task="parse"]').classList.contains('state-ready')""",
            timeout=15_000,
        )
        assert page.evaluate(
            """() => document.querySelector('svg.graph g.node[data-task="parse"] rect') instanceof SVGRectElement"""
        )
        assert page.locator("svg.graph g.node").count() == 4
        assert page.evaluate("window.czarMark") == 1
        assert page.locator("#live").get_attribute("data-version") != first
        print(f"store to page: {took * 1000:.0f} ms")


def test_a_page_no_longer_live_says_so(tmp_path: Path, czar_home: Path) -> None:
    """Found by a probe: after `czar web --host` restarted (a new server secret: the session
    refused), the open page's stream got a 401 once and stopped, and the page went on showing the
    run as it was, with its buttons, as if live."""
    project = _project(tmp_path)
    with chromium() as browser:
        page = browser.new_page()
        with _serving(make_app(project, TOKEN, private=True)) as url:
            page.goto(f"{url}/login?token={TOKEN}")
            page.wait_for_selector("#live")
            assert page.locator("#not-live").is_hidden()
        page.wait_for_selector("#not-live:has-text('does not answer')", timeout=15_000)  # gone: trying again
        page.context.clear_cookies()  # as a restarted server's secret makes of the session
        with _serving(make_app(project, TOKEN, private=True), int(urllib.parse.urlsplit(url).port or 0)):
            page.wait_for_selector("#not-live:has-text('no longer live')", timeout=15_000)
        assert "stale" in (page.locator("#live").get_attribute("class") or "")


def test_acting_needs_the_token(site: Site) -> None:
    with chromium() as browser:
        page = browser.new_page()
        page.goto(site.url + "/")
        page.get_by_role("button", name="pause the run").click()
        page.wait_for_selector("input[name=token]")
        assert "acting needs the token" in page.content()
        with site.project.store.read() as conn:
            assert not Store.get_meta(conn, PAUSED, False)
        page.fill("input[name=token]", "not-it")
        page.get_by_role("button", name="log in").click()
        assert "that is not the token" in page.content()
        page.fill("input[name=token]", TOKEN)
        page.get_by_role("button", name="log in").click()
        page.wait_for_selector("#live")
        page.get_by_role("button", name="pause the run").click()
        page.wait_for_selector("text=paused: no task or review starts")
    with site.project.store.read() as conn:
        assert Store.get_meta(conn, PAUSED, False)
        paused = Store.read_events(conn, kinds=(EventKind.PERSON_PAUSED,))
    assert [e.actor for e in paused] == ["person"]


def test_the_inbox_answers_a_permission_a_question_and_a_failed_task(site: Site) -> None:
    project = site.project
    attempt = _at_work(project, "parse", "w1")
    _ask_permission(project, "parse", "w1", attempt)
    with chromium() as browser:
        page = browser.new_page()
        _log_in(page, site)
        item = page.locator('.inbox .item[data-kind="permission"]')
        assert "w1 asks to use Bash rm -rf build" in item.inner_text()
        item.get_by_role("button", name="allow").click()
        page.wait_for_selector("text=allowed; worker w1 goes on with task parse")
        with project.store.read() as conn:
            assert Store.worker(conn, "w1").state is WorkerState.WORKING
            decided = Store.read_events(conn, kinds=(EventKind.PERMISSION_DECIDED,))
        assert [(e.actor, e.payload["decision"]) for e in decided] == [("person", "allow")]

        people.pause(project)  # any write: the page's question must come from the store, live
        with project.store.write() as conn:
            Store.set_waits(conn, "parse", "a person")
            Store.emit(conn, EventKind.AGENT_QUESTION, task="parse", worker="w1", question="Which format, CSV or JSON?")
        question = page.locator('.inbox .item[data-kind="question"]')
        question.wait_for(timeout=15_000)
        assert "Which format, CSV or JSON?" in question.inner_text()
        question.locator("input[name=text]").fill("JSON, please")
        question.get_by_role("button", name="answer").click()
        page.wait_for_selector("text=sent to worker w1")
        with project.store.read() as conn:
            told = Store.read_events(conn, kinds=(EventKind.PERSON_TOLD,))
            assert Store.task(conn, "parse").blocked_on is None
        assert [e.payload["text"] for e in told] == ["JSON, please"]

        with project.store.write() as conn:
            Store.move_task(conn, "export", TaskState.READY, reason="test")
            Store.move_task(conn, "export", TaskState.ASSIGNED, reason="test")
            Store.move_task(conn, "export", TaskState.FAILED, reason="test")
        failed = page.locator('.inbox .item[data-kind="failed"]')
        failed.wait_for(timeout=15_000)
        failed.get_by_role("button", name="retry").click()
        page.wait_for_selector("text=task export goes again")
    with project.store.read() as conn:
        assert Store.task(conn, "export").state is TaskState.PENDING  # parse has not merged
        retried = Store.read_events(conn, kinds=(EventKind.PERSON_RETRIED,))
    assert [e.task_id for e in retried] == ["export"]


def test_a_task_page_shows_its_text_history_and_transcript(site: Site) -> None:
    _at_work(site.project, "export", "w2")
    site.project.paths.logs.mkdir(parents=True, exist_ok=True)
    (site.project.paths.logs / "w2.log").write_text(
        "10:00:00 worker w2 ready (sim); waiting for a task\n"
        "10:00:01 == task parse (attempt id 1): prompt of 10 characters\n10:00:02 agent: parsing\n"
        "10:00:03 == task ended; waiting for the next one\n"
        "10:00:04 == task export (attempt id 2): prompt of 10 characters\n"
        "10:00:05 agent: reading the parser\n10:00:06 agent: writing export.txt\n"
        "10:00:07 == task ended; waiting for the next one\n"
        "10:00:08 == task docs (attempt id 3): prompt of 10 characters\n10:00:09 w2 asks to use Bash\n"
    )
    dialogs: list[str] = []
    with chromium() as browser:
        page = browser.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(site.url + "/p/webby/task/export")
        text = page.inner_text("main")
        assert f"task export: {HOSTILE}" in text
        assert "Do export." in text
        assert "agent: writing export.txt" in text
        # Only its part of the worker's transcript (found by a probe: the next task's showed too).
        assert "agent: parsing" not in text and "asks to use Bash" not in text and "task docs" not in text
        assert "pending -> ready" in text or "ready" in text
        page.goto(site.url + "/p/webby/task/nothing-such")
        assert "no task 'nothing-such'" in page.inner_text("main")
    assert dialogs == []


def test_over_http_the_checks_hold(site: Site) -> None:
    client = TestClient(make_app(site.project, TOKEN), base_url="http://127.0.0.1:8765", follow_redirects=False)
    assert client.get("/").headers["location"] == "p/webby/"
    assert client.get("/p/webby/").status_code == 200
    assert client.get("/p/nobody/").status_code == 404
    refused = client.post("/p/webby/act", data={"action": "pause"})
    assert refused.status_code == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/p/webby/act", data={"action": "pause"}, headers=bearer).status_code == 303
    # Another site cannot act with a browser's session.
    client.get(f"/login?token={TOKEN}")
    cross = client.post("/p/webby/act", data={"action": "resume"}, headers={"sec-fetch-site": "cross-site"})
    assert cross.status_code == 401
    unknown = client.post("/p/webby/act", data={"action": "merge-everything"}, headers=bearer)
    assert "no action" in _said(client, unknown)
    with site.project.store.read() as conn:
        assert Store.get_meta(conn, PAUSED, False)
    private = TestClient(make_app(site.project, TOKEN, private=True), follow_redirects=False)
    assert private.get("/p/webby/", headers={"host": "czar.example.com"}).status_code == 401  # any name, the token
    assert private.get("/p/webby/").status_code == 401
    assert private.get("/p/webby/", headers=bearer).status_code == 200
    # Hand-made addresses and forms: a page that says what is wrong (found by a probe: a number
    # past SQLite's integers was a 500, a word where a number goes the framework's JSON).
    for number, code in (("9223372036854775808", 404), ("abc", 404), ("0", 404), ("-1", 404)):
        answer = client.get(f"/p/webby/pr/{number}")
        assert answer.status_code == code and "<html" in answer.text, (number, answer.text)
    no_action = client.post("/p/webby/act", data={"task": "parse"}, headers=bearer)
    assert no_action.status_code == 400 and "action: Field required" in no_action.text


def test_a_change_sends_only_the_rows_and_parts_it_touched(site: Site) -> None:
    from czar.interfaces.web.live import LivePage
    from czar.interfaces.web.site import pages

    live = LivePage(site.project, pages())
    assert live.update() is None  # the first picture is the whole page
    html = live.html()
    assert html.count('data-key="task:') == 4 and html.count('data-key="worker:') == 2
    assert live.update() == {"rows": {}, "parts": {}}  # nothing happened: nothing to send
    with site.project.store.write() as conn:
        Store.move_task(conn, "export", TaskState.READY, reason="test")
    patch = live.update()
    assert patch is not None
    assert sorted(patch["rows"]) == ["node:export", "task:export"]  # its row and its node in the graph
    assert "ready" in patch["rows"]["task:export"] and HOSTILE not in patch["rows"]["task:export"]
    assert 'data-key="node:export"' in patch["rows"]["node:export"] and "ready" in patch["rows"]["node:export"]
    assert HOSTILE not in patch["rows"]["node:export"]
    assert set(patch["parts"]) == {"summary"}  # the counts moved; the graph's layout did not
    assert "ready" in live.html().split('id="part-graph"')[1]  # a page that joins now sees the node's new state
    with site.project.store.write() as conn:
        Store.move_task(conn, "render", TaskState.READY, reason="test")
    live.feed.look()  # an update that failed after reading the events: their rows were never sent
    live.forget()  # ... what the live thread does then
    assert live.update() is None  # the next sends the whole page, read whole
    assert 'data-key="task:render"' in live.html() and "ready" in live.html().split('data-key="task:render"')[1][:400]
    live.feed.whole_seconds = 0  # every look reads the whole run: it says everything may have changed
    patch = live.update()
    assert patch is not None and patch["rows"] == {}  # ... and no row is rendered or sent that did not
    live.feed.whole_seconds = 3600
    with site.project.store.write() as conn:
        Store.alert(conn, "warning", "disk almost full")
    patch = live.update()
    assert patch is not None and patch["rows"] == {} and set(patch["parts"]) == {"alerts"}
    assert "disk almost full" in patch["parts"]["alerts"]


def test_a_supervisor_that_dies_without_a_word_is_shown_not_running(site: Site) -> None:
    """Found by a probe: after a `kill -9` of the supervisor (it writes no event) the page, and a
    page loaded afresh, said "running" for as long as nothing else happened."""
    from czar.interfaces.web.live import Broadcaster, LivePage
    from czar.interfaces.web.site import pages
    from czar.supervisor.lock import SupervisorLock

    lock = SupervisorLock(site.project)
    lock.acquire()
    shown = Broadcaster(LivePage(site.project, pages()), "webby")
    try:
        assert "supervisor: <b>running" in shown.latest()[1]
        assert not shown._refresh(False)  # the safety poll: nothing happened, nothing is sent
    finally:
        lock.release()  # as a killed supervisor's lock goes: no event
    assert shown._refresh(False)
    assert "supervisor: <b>not running" in shown.latest()[1]
    assert not shown._refresh(False)


def test_a_pull_request_page_shows_its_checks_and_a_failing_ones_output(site: Site) -> None:
    ref = _pull_of_parse(
        site,
        "parse: the parser",
        "What parse does.",
        CheckRun("lint", True, "all good"),
        CheckRun("pytest", False, "FAILED test_parse.py::test_empty"),
    )
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{site.url}/p/webby/pr/{ref.number}")
        text = page.inner_text("main")
        assert f"#{ref.number} parse: the parser" in text
        assert "passed lint" in text and "FAILED pytest" in text
        assert (
            "FAILED test_parse.py::test_empty" in text and "all good" not in text
        )  # a passing check's output is noise
        assert "What parse does." in text
        page.goto(site.url + "/")
        page.locator('#tasks tr[data-task="parse"] a', has_text=f"#{ref.number}").wait_for(timeout=15_000)


def test_another_site_or_another_local_port_cannot_read_or_act(site: Site) -> None:
    client = TestClient(make_app(site.project, TOKEN), base_url="http://127.0.0.1:8765", follow_redirects=False)
    # A site that points its own name at 127.0.0.1 (DNS rebinding) is not answered.
    assert client.get("/p/webby/", headers={"host": "evil.example:8765"}).status_code == 421
    assert client.get("/p/webby/", headers={"host": "localhost:8765"}).status_code == 200
    client.get(f"/login?token={TOKEN}")  # a browser that logged in: it has the session cookie
    for headers in (
        {"sec-fetch-site": "same-site"},  # an agent's dev server on another port of this host
        {"sec-fetch-site": "cross-site"},
        {"origin": "http://127.0.0.1:3000"},
    ):
        assert client.post("/p/webby/act", data={"action": "pause"}, headers=headers).status_code == 401, headers
    with site.project.store.read() as conn:
        assert not Store.get_meta(conn, PAUSED, False)
    same = {"origin": "http://127.0.0.1:8765", "sec-fetch-site": "same-origin"}
    assert client.post("/p/webby/act", data={"action": "pause"}, headers=same).status_code == 303
    with site.project.store.read() as conn:
        assert Store.get_meta(conn, PAUSED, False)


def test_an_allow_answers_the_request_the_person_saw_and_no_later_one(site: Site) -> None:
    attempt = _at_work(site.project, "parse", "w1")
    _ask_permission(site.project, "parse", "w1", attempt)
    seen = next(n for n in overview(site.project).inbox if n.kind == "permission")
    assert seen.asked_at is not None
    _ask_permission(site.project, "parse", "w1", attempt)  # the agent asks for something else meanwhile
    client = TestClient(make_app(site.project, TOKEN), base_url="http://127.0.0.1:8765", follow_redirects=False)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    form = {"action": "allow", "worker": "w1", "asked": repr(seen.asked_at)}
    refused = client.post("/p/webby/act", data=form, headers=bearer)
    assert "asks for something else now" in _said(client, refused)
    with site.project.store.read() as conn:
        assert Store.worker(conn, "w1").state is WorkerState.WAITING_PERMISSION
    now = next(n for n in overview(site.project).inbox if n.kind == "permission")
    form["asked"] = repr(now.asked_at)
    assert "allowed" in _said(client, client.post("/p/webby/act", data=form, headers=bearer))


def test_an_answer_or_a_give_up_from_a_page_that_stood_still_is_refused(site: Site) -> None:
    """Found by a probe: the answer form named only the worker, so an answer typed for task
    parse went to whatever the worker had taken since; "give up" cancelled a task another person
    had just retried."""
    project = site.project
    _at_work(project, "parse", "w1")
    with project.store.write() as conn:
        Store.set_waits(conn, "parse", "a person")
        Store.emit(conn, EventKind.AGENT_QUESTION, task="parse", worker="w1", question="CSV or JSON?")
        Store.move_task(conn, "export", TaskState.READY, reason="test")
        Store.move_task(conn, "export", TaskState.ASSIGNED, reason="test")
        Store.move_task(conn, "export", TaskState.FAILED, reason="test")
    client = TestClient(make_app(project, TOKEN), base_url="http://127.0.0.1:8765", follow_redirects=False)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    shown = client.get("/p/webby/").text
    forms = re.findall(r'<form method="post" action="act">(.*?)</form>', shown, re.S)
    fields = [dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', f)) for f in forms]
    answer = next(f for f in fields if f.get("action") == "answer")
    give_up = next(f for f in fields if f.get("was"))
    assert (answer["worker"], answer["task"]) == ("w1", "parse")
    assert (give_up["task"], give_up["was"]) == ("export", "failed")

    with project.store.write() as conn:  # w1 takes docs, and export is retried, as the page stands still
        Store.set_waits(conn, "parse", None)
    _at_work(project, "docs", "w1")
    people.retry(project, "export")
    refused = client.post("/p/webby/act", data={**answer, "text": "JSON"}, headers=bearer)
    assert "works on task docs now, not parse: your words were not sent" in _said(client, refused)
    refused = client.post("/p/webby/act", data={**give_up, "action": "cancel"}, headers=bearer)
    assert "task export is pending now, not failed: it was not cancelled" in _said(client, refused)
    with project.store.read() as conn:
        assert not Store.read_events(conn, kinds=(EventKind.PERSON_TOLD, EventKind.PERSON_CANCELLED))
        assert Store.task(conn, "export").state is TaskState.PENDING


def test_a_link_from_a_forge_or_a_ci_is_shown_only_if_it_is_http(site: Site) -> None:
    ref = _pull_of_parse(
        site,
        "parse",
        "",
        CheckRun("evil", False, "x", url="javascript:fetch('act')"),
        CheckRun("ci", False, "y", url="https://ci.example.com/run/1"),
    )
    client = TestClient(make_app(site.project, TOKEN), base_url="http://127.0.0.1:8765")
    page = client.get(f"/p/webby/pr/{ref.number}").text
    assert "javascript:" not in page
    assert 'href="https://ci.example.com/run/1"' in page


@contextlib.contextmanager
def _czar_web(site: Site, *args: str) -> Iterator[tuple[str, str]]:
    """`czar web` started for ``site``'s plan with ``args``: the first two lines it prints."""
    web = subprocess.Popen(
        [sys.executable, "-m", "czar", "web", str(site.project.plan.path), "--port", "0", "--token", TOKEN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert web.stdout is not None
        yield web.stdout.readline(), web.stdout.readline()
    finally:
        web.terminate()
        web.communicate(timeout=10)  # its pipe read to the end and closed


def test_czar_web_gives_its_page_a_name_of_its_own_and_says_how_to_log_in(site: Site) -> None:
    with _czar_web(site) as (first, second):
        found = re.match(r"czar web: http://(czar-[0-9a-f]{8}\.localhost):(\d+)/ \(or http://127\.0\.0\.1:\2/", first)
        assert found, first
        assert second.strip().endswith(f"http://{found.group(1)}:{found.group(2)}/login?token={TOKEN}")
        # Its own name and this machine's both reach it (a browser resolves every *.localhost here).
        client = TestClient(make_app(site.project, TOKEN), base_url=f"http://{found.group(1)}:{found.group(2)}")
        assert client.get("/p/webby/").status_code == 200


def test_czar_web_on_every_address_prints_one_a_phone_can_open(site: Site) -> None:
    """Found by a probe: `--host 0.0.0.0` printed http://0.0.0.0:PORT/login?token=..., which no
    phone opens, and its login page said reading was open."""
    with _czar_web(site, "--host", "0.0.0.0") as (first, second):
        found = re.match(r"czar web: http://([^/]+):(\d+)/ \(Ctrl-C stops it\)", first)
        assert found and found.group(1) != "0.0.0.0", first
        assert second.strip().endswith(f"http://{found.group(1)}:{found.group(2)}/login?token={TOKEN}"), second
        login = urllib.request.urlopen(f"http://127.0.0.1:{found.group(2)}/login", timeout=10).read().decode()
        assert "Reading and acting need the token" in login and "Reading is open" not in login


def test_no_page_of_another_port_shows_this_one_in_a_frame(site: Site, tmp_path: Path) -> None:
    """Found by a probe: a page an agent served on another port of this host framed the page, and
    a person's click in the frame paused the run (their session cookie goes to every port)."""
    attempt = _at_work(site.project, "parse", "w1")
    assert attempt
    client = TestClient(make_app(site.project, TOKEN), base_url="http://127.0.0.1:8765", follow_redirects=False)
    answer = client.get("/p/webby/")
    assert answer.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    other = socket.create_server(("127.0.0.1", 0))
    port = other.getsockname()[1]
    framing = tmp_path / "framing"
    framing.mkdir()
    (framing / "index.html").write_text(f'<iframe id="f" src="{site.url}/p/webby/" width=800 height=600></iframe>')
    other.close()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(framing)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with chromium() as browser:
            page = browser.new_page()
            _log_in(page, site)
            deadline = time.monotonic() + 20
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}/")
                    break
                except Exception:
                    assert time.monotonic() < deadline, "the framing page was not served"
                    time.sleep(0.1)
            page.wait_for_selector("#f")
            frame = page.frame_locator("#f")
            with pytest.raises(PlaywrightTimeout):  # the browser refused to show czar's page in the frame
                frame.locator("#live").wait_for(timeout=3_000)
    finally:
        server.terminate()
        server.wait(10)


def test_words_that_reorder_text_are_named_on_the_page(site: Site) -> None:
    """Found by a probe: a permission request with a right-to-left mark read, next to its allow
    button, as another command; czar status and the dashboard name such marks, the page did not."""
    with site.project.store.write() as conn:
        Store.alert(conn, "warning", "git push origin \u202e<img src=x>\u202c main")
    page_text = TestClient(make_app(site.project, TOKEN), base_url="http://127.0.0.1:8765").get("/p/webby/").text
    assert "\u202e" not in page_text and "&lt;U+202E&gt;&lt;img src=x&gt;&lt;U+202C&gt;" in page_text


def test_a_page_says_only_what_an_action_did(site: Site) -> None:
    """Found by a probe: what an action did was said by the link it led to (?error=...): any link
    could put words of its own on czar's page ("Session expired: log in again at http://evil...")."""
    client = TestClient(make_app(site.project, TOKEN), base_url="http://127.0.0.1:8765", follow_redirects=False)
    forged = client.get("/p/webby/?error=Session expired: log in at http://evil.example&said=x&note=made-up").text
    assert "evil.example" not in forged and 'class="error"' not in forged and 'class="said"' not in forged
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert "paused" in _said(client, client.post("/p/webby/act", data={"action": "pause"}, headers=bearer))


def test_the_omnibus_has_a_page(site: Site) -> None:
    """Found by a probe: the pull requests' table links to the omnibus's page, which said "no task
    '(omnibus)'"."""
    draft = PullDraft(
        task=OMNIBUS,
        head_branch="czar/integration",
        base_branch="main",
        head_commit=site.project.git.tip("main"),
        title="czar: the run of webby",
        body="Everything the run merged.",
    )
    ref = site.project.forge.open_or_update(draft)
    answer = TestClient(make_app(site.project, TOKEN), base_url="http://127.0.0.1:8765").get(
        f"/p/webby/pr/{ref.number}"
    )
    assert answer.status_code == 200, answer.text
    assert "Everything the run merged." in answer.text and "the run's omnibus" in answer.text
