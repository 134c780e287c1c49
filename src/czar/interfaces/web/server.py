"""``czar web``: serve the site with uvicorn until interrupted."""

from __future__ import annotations

import socket

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
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"czar web: http://{shown}:{bound}/ (Ctrl-C stops it)")
    typer.echo(f"to act (allow, answer, retry, pause...), log in once: http://{shown}:{bound}/login?token={token}")
    if private:
        typer.echo("listening beyond this machine: reading needs the token too; put it behind HTTPS")
    config = uvicorn.Config(app, log_level="warning", access_log=False, proxy_headers=True, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
