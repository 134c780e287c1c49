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

from starlette.requests import Request

COOKIE = "czar_session"


def new_token() -> str:
    return secrets.token_urlsafe(18)


def session_of(token: str) -> str:
    return hashlib.sha256(f"czar-web-session:{token}".encode()).hexdigest()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def trusted(request: Request, token: str) -> bool:
    """The request carries the token (or the session made from it), from this page's own origin."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    said = request.headers.get("authorization", "")
    if said.startswith("Bearer ") and hmac.compare_digest(said[7:].strip().encode(), token.encode()):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), session_of(token).encode())
