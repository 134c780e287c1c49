"""HTTP to a forge: the proxy the environment names (and ``no_proxy``), read as curl and git read
them, since the client ignores the environment so that czar's own transport carries every request."""

from __future__ import annotations

import pytest

from czar.forge.http import proxy_for


def test_the_proxy_comes_from_the_environment_unless_no_proxy_names_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
    ):
        monkeypatch.delenv(var, raising=False)
    assert proxy_for("https://api.github.com") is None
    monkeypatch.setenv("https_proxy", "http://proxy.corp:3128")
    monkeypatch.setenv("no_proxy", "ghe.corp,localhost")
    assert proxy_for("https://api.github.com") == "http://proxy.corp:3128"
    assert proxy_for("https://ghe.corp/api/v3") is None
    assert proxy_for("http://api.github.com") is None  # no http_proxy given


def test_requests_from_several_threads_share_the_transport_and_a_closed_client_does_not_close_it() -> None:
    import http.server
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from czar.forge.http import ForgeTransport

    class Slow(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("ETag", '"same"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    transport = ForgeTransport(url, 5)

    def ask(i: int) -> int:
        with httpx.Client(transport=transport) as client:  # as githubkit does: a client a request
            return client.get(f"{url}/x/{i % 3}").status_code

    try:
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(ask, range(200))) == {200}
    finally:
        transport.close()
        server.shutdown()
        server.server_close()
