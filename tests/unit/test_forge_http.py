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
