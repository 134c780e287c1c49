"""Who may act through the web page: whoever shows the token ``czar web`` printed.

The token is given once (a login link or the login form) and kept in a cookie that holds a
digest of it, never the token itself; the cookie is HttpOnly and SameSite=Strict, so another site
cannot make a browser act with it, and a request a browser marks as coming from another site
(``Sec-Fetch-Site: cross-site``) is refused whatever it carries. Scripts may send the token as
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request

COOKIE = "czar_session"


def new_token() -> str:
    return secrets.token_urlsafe(18)


# A new one at each start: a session cookie that leaked (browsers send a host's cookies to all of
# its ports) is worth nothing once the server restarts.
_SERVER_SECRET = secrets.token_bytes(32)


def session_of(token: str) -> str:
    return hmac.new(_SERVER_SECRET, f"czar-web-session:{token}".encode(), hashlib.sha256).hexdigest()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def same_origin(request: Request) -> bool:
    """The browser says the request comes from this page's own origin (or from nowhere: a link
    typed or a script). Another port of the same host is another origin, though the same site:
    an agent's dev server on 127.0.0.1:3000 must not act through a page on 127.0.0.1:8765."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or (origin == "null" and request.method == "GET"):
        return True
    # Behind a reverse proxy the Host it forwards may be its own upstream's; it says the original.
    here = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    return urlsplit(origin).netloc == here.split(",")[0].strip()


LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def local_host(request: Request) -> bool:
    """The request names this machine (``Host``): a page of another site that a DNS trick points
    at 127.0.0.1 names its own, and is refused by a server listening on this machine only."""
    name = urlsplit("//" + request.headers.get("host", "")).hostname or ""
    return name in LOCAL_NAMES or name.endswith(".localhost")


def trusted(request: Request, token: str) -> bool:
    """The request carries the token (or the session made from it), from this page's own origin."""
    if not same_origin(request):
        return False
    said = request.headers.get("authorization", "")
    if said.startswith("Bearer ") and hmac.compare_digest(said[7:].strip().encode(), token.encode()):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), session_of(token).encode())
