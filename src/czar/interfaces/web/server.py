"""``czar web``: serve the site with uvicorn until interrupted."""

from __future__ import annotations

import secrets
import socket
from typing import Any

import typer
import uvicorn

from czar.errors import CzarError
from czar.interfaces.web.auth import is_loopback, new_token
from czar.interfaces.web.site import make_app
from czar.supervisor.people import require_person
from czar.supervisor.project import Project


def serve(project: Project, *, host: str, port: int, token: str | None) -> None:
    require_person(project, "web")  # the page acts for a person: an agent must not serve it to itself
    token = token or new_token()
    private = not is_loopback(host)
    app = make_app(project, token, private=private)
    try:
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        raise CzarError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = sock.getsockname()[1]
    reached = _reached_at(host)
    shown = f"[{reached}]" if ":" in reached else reached
    if private:
        typer.echo(f"czar web: http://{shown}:{bound}/ (Ctrl-C stops it)")
        typer.echo(f"to act (allow, answer, retry, pause...), log in once: http://{shown}:{bound}/login?token={token}")
        typer.echo("listening beyond this machine: reading needs the token too; put it behind HTTPS")
        # (Cookies are kept by host, not by port: a name of its own, as on this machine, is a
        # name a phone cannot resolve.)
        typer.echo(
            f"the log-in's cookie goes to every server at {shown} the browser visits: visit no other there with it"
        )
        _run(app, sock)
        return
    # A name of its own on this machine (browsers take every *.localhost for it): the session's
    # cookie then goes to this page only, not to every server on 127.0.0.1 the browser visits
    # (cookies are kept by name, not by port).
    name = f"czar-{secrets.token_hex(4)}.localhost"
    typer.echo(f"czar web: http://{name}:{bound}/ (or http://{shown}:{bound}/; Ctrl-C stops it)")
    typer.echo(f"to act (allow, answer, retry, pause...), log in once: http://{name}:{bound}/login?token={token}")
    _run(app, sock)


def _reached_at(host: str) -> str:
    """The address a phone reaches this machine at, for a server listening on all of them
    (``0.0.0.0``, ``::``): the one its traffic leaves by (a datagram socket's connect sends
    nothing). Else ``host`` itself."""
    if host not in ("0.0.0.0", "::", ""):
        return host
    family, far = (socket.AF_INET6, "2001:db8::1") if host == "::" else (socket.AF_INET, "192.0.2.1")
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((far, 9))
            return str(probe.getsockname()[0])
    except OSError:  # no route out: the machine's name, which its network may know
        return socket.gethostname()


def _run(app: Any, sock: socket.socket) -> None:
    config = uvicorn.Config(app, log_level="warning", access_log=False, proxy_headers=True, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
