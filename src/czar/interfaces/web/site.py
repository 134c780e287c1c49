"""The web page's routes: the run live, the dependency graph, the timeline, a page per task and
per pull request, the projects, and the actions of the "needs you" inbox.

Pages are rendered here (Jinja2, escaped); the only script is a few lines in the page that swap
in the live part when the server sends it (server-sent events). Links are relative, so the site
works under any path a reverse proxy puts it at.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from czar.core.omnibus import OMNIBUS
from czar.core.shown import in_page
from czar.core.states import TaskState
from czar.errors import CzarError
from czar.interfaces.web.auth import COOKIE, local_host, session_of, trusted
from czar.interfaces.web.graph import STATE_COLOURS
from czar.interfaces.web.live import Broadcaster, LivePage
from czar.supervisor import people, pull_view, task_view
from czar.supervisor.charts import timeline_svg
from czar.supervisor.history import history
from czar.supervisor.project import Project
from czar.supervisor.projects import all_projects, open_named

ACTIONS = ("allow", "deny", "answer", "tell", "retry", "cancel", "pause", "resume")


# Sent with every answer. No other page may show this one in a frame: a page an agent serves on
# another port could lay it under its own, and have a person's click act here (their session
# goes with it: the same site). Nothing is guessed as another type than the one sent; a link
# followed from here says nothing of where it was (a token in a login link, a task's name).
GUARDS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # (not no-referrer: a browser then sends its own forms as Origin: null)
}
NOTES_KEPT = 256


class Notes:
    """What an action did, said on the page it leads back to, by a name in the link (not the text
    itself: a link from anywhere could then put any words in czar's mouth, on its page)."""

    def __init__(self) -> None:
        self._kept: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def add(self, kind: str, text: str) -> str:
        name = secrets.token_urlsafe(9)
        self._kept[name] = (kind, text)
        while len(self._kept) > NOTES_KEPT:
            self._kept.popitem(last=False)
        return name

    def get(self, name: str, default: tuple[str, str]) -> tuple[str, str]:
        return self._kept.get(name, default)


@dataclass
class Served:
    project: Project
    live: Broadcaster


def _clock(ts: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts)) if ts else "-"


def _money(value: float) -> str:
    return f"${value:.2f}" if value else "-"


def _web_link(url: object) -> str:
    """A link from a forge or a CI (which an agent's branch may set) only if it is http(s): a
    ``javascript:`` one would run on this page, with the person's session."""
    text = str(url or "")
    return text if text.startswith(("https://", "http://")) else ""


def pages() -> Environment:
    env = Environment(
        loader=PackageLoader("czar.interfaces.web", "templates"), autoescape=select_autoescape(), finalize=in_page
    )
    env.filters["web_link"] = _web_link
    env.filters["clock"] = _clock
    env.filters["money"] = _money
    env.globals["colours"] = STATE_COLOURS
    return env


def make_app(project: Project, token: str, *, private: bool = False, home: Path | None = None) -> FastAPI:
    """The site for ``project`` (the others under ``home`` reachable too). ``private``: reading
    needs the token as well (``czar web`` listening beyond this machine)."""
    env = pages()
    served: dict[str, Served] = {}
    notes = Notes()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        for s in served.values():
            s.live.close()

    app = FastAPI(title="czar", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @app.middleware("http")
    async def guarded(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        answer = await call_next(request)
        answer.headers.update(GUARDS)
        return answer

    if not private:

        @app.middleware("http")
        async def this_machine_only(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            if not local_host(request):
                return PlainTextResponse("czar web answers only to this machine's names", status_code=421)
            return await call_next(request)

    def project_named(name: str) -> Served:
        if name not in served:
            try:
                p = project if name == project.name else open_named(name, home)
            except CzarError as exc:
                raise HTTPException(404, str(exc)) from None
            served[name] = Served(p, Broadcaster(LivePage(p, env), name))
        return served[name]

    def page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        kind, text = notes.get(request.query_params.get("note", ""), ("", ""))
        values.setdefault("said", text if kind == "said" else None)
        values.setdefault("error", text if kind == "error" else None)
        values.setdefault("trusted", trusted(request, token))
        values.setdefault("private", private)
        # Links are relative to where the page is, so the site works under a proxy's path too.
        values.setdefault("up", "../" * (request.url.path.count("/") - 1) or "./")
        return HTMLResponse(env.get_template(template).render(**values), status_code=status)

    def may_read(request: Request) -> None:
        if private and not trusted(request, token):
            raise HTTPException(401, "log in with the token `czar web` printed")

    @app.exception_handler(StarletteHTTPException)
    async def refused(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 401:
            return page(request, "login.html", 401, project=project.name, problem=exc.detail)
        return page(request, "problem.html", exc.status_code, project=project.name, problem=exc.detail)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        """A hand-made address or form (``pr/abc``, an action with no action): a page that says
        what is wrong, not the framework's JSON."""
        wrong = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'it'}: {e.get('msg', '')}" for e in exc.errors()
        )
        in_path = any(e.get("loc", ("",))[0] == "path" for e in exc.errors())
        return page(request, "problem.html", 404 if in_path else 400, project=project.name, problem=wrong[:300])

    async def found(read: Callable[[], Any]) -> Any:
        """What ``read`` reads from the store (off the server's loop); not there: a 404 page."""
        try:
            return await asyncio.to_thread(read)
        except CzarError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/")
    async def home_page() -> Response:
        return RedirectResponse(f"p/{urllib.parse.quote(project.name)}/", status_code=303)

    @app.get("/login")
    async def login_page(request: Request) -> Response:
        given = request.query_params.get("token")
        if given is not None:
            return _logged_in(request, given)
        return page(request, "login.html", project=project.name, problem=None)

    @app.post("/login")
    async def login(request: Request, token_given: str = Form(alias="token")) -> Response:
        return _logged_in(request, token_given)

    def _logged_in(request: Request, given: str) -> Response:
        if not _same(given, token):
            return page(request, "login.html", 401, project=project.name, problem="that is not the token")
        answer = RedirectResponse("./", status_code=303)
        answer.set_cookie(
            COOKIE,
            session_of(token),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https",
        )
        return answer

    @app.get("/projects")
    async def projects_page(request: Request) -> Response:
        may_read(request)
        found = await asyncio.to_thread(all_projects, home)
        return page(request, "projects.html", project=project.name, projects=found)

    @app.get("/p/{name}/")
    async def overview_page(request: Request, name: str) -> Response:
        may_read(request)
        s = project_named(name)
        version, live = await found(s.live.latest)
        return page(request, "overview.html", project=name, live=live, version=version)

    @app.get("/p/{name}/live")
    async def live_stream(request: Request, name: str) -> Response:
        may_read(request)
        s = project_named(name)

        async def stream() -> AsyncIterator[dict[str, Any]]:
            queue = s.live.subscribe()
            try:
                version, html = await asyncio.to_thread(s.live.latest)
                yield {"event": "page", "id": str(version), "data": html}
                while True:
                    await queue.get()
                    while not queue.empty():
                        queue.get_nowait()  # one message brings the page up to date, however far behind
                    version, kind, data = s.live.since(version)  # a patch: quick; a whole page: rendered once
                    yield {"event": kind, "id": str(version), "data": data}
            finally:
                s.live.unsubscribe(queue)

        return EventSourceResponse(stream(), ping=15)

    @app.get("/p/{name}/timeline")
    async def timeline_page(request: Request, name: str) -> Response:
        may_read(request)
        s = project_named(name)

        svg = timeline_svg(await asyncio.to_thread(history, s.project))
        return page(request, "timeline.html", project=name, svg=svg)

    @app.get("/p/{name}/task/{task_id}")
    async def task_page(request: Request, name: str, task_id: str) -> Response:
        may_read(request)
        p = project_named(name).project
        detail = await found(lambda: task_view.task_detail(p, task_id))
        return page(request, "task.html", project=name, task=detail)

    @app.get("/p/{name}/pr/{number}")
    async def pull_page(request: Request, name: str, number: int) -> Response:
        may_read(request)
        p = project_named(name).project
        if not 0 < number < 2**63:  # (SQLite's integers: a larger one is no pull request, not a fault)
            raise HTTPException(404, f"no pull request #{number}")
        pull = await found(lambda: pull_view.pull_detail(p, number))
        # The omnibus is the run's, no task's: its page has its notes, checks and history.
        detail = None if pull["task"] == OMNIBUS else await found(lambda: task_view.task_detail(p, pull["task"]))
        return page(request, "pull.html", project=name, pull=pull, task=detail)

    @app.post("/p/{name}/act")
    async def act(
        request: Request,
        name: str,
        action: str = Form(),
        worker: str = Form(""),
        task: str = Form(""),
        text: str = Form(""),
        asked: str = Form(""),
        was: str = Form(""),
    ) -> Response:
        if not trusted(request, token):
            raise HTTPException(401, "acting needs the token `czar web` printed")
        s = project_named(name)
        try:
            said = await asyncio.to_thread(_carry_out, s.project, action, worker, task, text, asked, was)
        except CzarError as exc:
            return RedirectResponse(f"./?note={notes.add('error', str(exc))}", status_code=303)
        return RedirectResponse(f"./?note={notes.add('said', said)}", status_code=303)

    return app


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _carry_out(project: Project, action: str, worker: str, task: str, text: str, asked: str = "", was: str = "") -> str:
    """A person's action, through the same functions as the CLI's commands. ``task`` with an
    answer, ``asked`` with a permission and ``was`` with a cancel say what the page showed: what
    moved on since is not acted on."""
    if action not in ACTIONS:
        raise CzarError(f"no action {action!r}; the actions are {', '.join(ACTIONS)}")
    if action in ("allow", "deny"):
        try:
            asked_at = float(asked) if asked else None
        except ValueError:
            raise CzarError(f"not a time: {asked!r}") from None
        return people.answer_permission(project, _needed(worker, "worker"), action == "allow", text, asked_at)
    if action in ("answer", "tell"):
        return people.tell(project, _needed(worker, "worker"), _needed(text.strip(), "text"), task or None)
    if action == "retry":
        return people.retry(project, _needed(task, "task"))
    if action == "cancel":
        return people.cancel(project, _needed(task, "task"), text, _state(was))
    if action == "pause":
        return people.pause(project)
    return people.resume(project)


def _state(was: str) -> TaskState | None:
    if not was:
        return None
    try:
        return TaskState(was)
    except ValueError:
        raise CzarError(f"no task state {was!r}") from None


def _needed(value: str, what: str) -> str:
    if not value:
        raise CzarError(f"that action needs a {what}")
    return value
