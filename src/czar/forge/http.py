"""HTTP to a forge, as czar needs it: a time limit on every request, conditional requests, and the
proxy the environment names.

- Conditional requests: a GET whose earlier JSON answer came with an ETag is sent with
  ``If-None-Match``; a 304 is answered with the copy kept (as read: decoded). GitHub counts no rate limit for a 304,
  so reading every open pull request's state each poll costs nothing while nothing changes.
- Written here rather than taken from githubkit's HTTP cache (hishel): that layer sends each
  request again without its time limit, so a forge that accepted a connection and never answered
  held czar's request forever (seen with githubkit 0.16 and hishel 1.4).
- The proxy: httpx lets a proxy from the environment bypass a client's own transport, which
  would drop both of the above; the client is told to ignore the environment, and this transport
  reaches the proxy itself (``https_proxy``, ``no_proxy``, as curl and git read them).
"""

from __future__ import annotations

import threading
import urllib.request
from collections import OrderedDict

import httpx

KEPT = 512  # answers kept for conditional requests (the oldest dropped first)
_WIRE = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class ForgeTransport(httpx.BaseTransport):
    def __init__(self, base_url: str, timeout: float, inner: httpx.BaseTransport | None = None) -> None:
        self.timeout = httpx.Timeout(timeout).as_dict()
        self.inner = inner or httpx.HTTPTransport(proxy=proxy_for(base_url))
        self.kept: OrderedDict[str, tuple[str, httpx.Headers, bytes]] = OrderedDict()
        self.lock = threading.Lock()
        self.in_flight = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.in_flight += 1
        try:
            return self._handle(request)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _handle(self, request: httpx.Request) -> httpx.Response:
        request.extensions.setdefault("timeout", self.timeout)
        key = str(request.url)
        with self.lock:
            kept = self.kept.get(key) if request.method == "GET" else None
        if kept is not None:
            request.headers["If-None-Match"] = kept[0]
        response = self.inner.handle_request(request)
        response.read()  # whole, while counted in flight: a close elsewhere cannot cut it short
        if request.method != "GET":
            return response
        if response.status_code == 304 and kept is not None:
            response.close()
            return httpx.Response(200, headers=kept[1], content=kept[2], request=request)
        etag = response.headers.get("etag")
        if response.status_code == 200 and etag and "json" in response.headers.get("content-type", ""):
            # Kept as read: decoded, so the headers that described the wire form go (a copy replayed
            # with "Content-Encoding: gzip" would be decoded a second time, and fail).
            headers = httpx.Headers([(k, v) for k, v in response.headers.multi_items() if k.lower() not in _WIRE])
            with self.lock:
                self.kept[key] = (etag, headers, response.content)
                self.kept.move_to_end(key)
                while len(self.kept) > KEPT:
                    self.kept.popitem(last=False)
        return response

    def close(self) -> None:
        """Close the idle connections. githubkit makes a client a request and closes it after:
        closing every connection then would pull one from under a request another thread (the
        merge queue, the pull requests' loop) is making (seen: "Bad file descriptor"). While any
        request is in flight nothing is closed; the connection pool serves the next request anew."""
        with self.lock:
            if self.in_flight == 0:
                self.inner.close()


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (none if ``no_proxy`` says to go direct)."""
    split = httpx.URL(url)
    if urllib.request.proxy_bypass(split.host):
        return None
    proxies = urllib.request.getproxies_environment()
    return proxies.get(split.scheme) or proxies.get("all")
