"""The rule at the edge of a sandbox's network: which hosts, which addresses, which local ports."""

from __future__ import annotations

import pytest

from czar.core import egress


@pytest.mark.parametrize(
    ("host", "patterns", "allowed"),
    [
        ("api.anthropic.com", ["*.anthropic.com"], True),
        ("API.Anthropic.COM.", ["*.anthropic.com"], True),
        ("anthropic.com", ["*.anthropic.com"], False),  # the domain itself is named on its own
        ("anthropic.com", ["anthropic.com"], True),
        ("evilanthropic.com", ["*.anthropic.com"], False),
        ("api.anthropic.com.evil.org", ["*.anthropic.com"], False),
        ("pypi.org", [], False),
        ("anything.example", ["*"], True),
        ("files.pythonhosted.org", ["pypi.org"], False),
    ],
)
def test_a_host_is_permitted_only_when_named(host: str, patterns: list[str], allowed: bool) -> None:
    assert egress.permits(host, patterns) is allowed


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # loopback written as IPv6
        ("169.254.169.254", True),  # the cloud's metadata service
        ("fe80::1%eth0", True),
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("fd00:ec2::254", True),  # AWS's metadata service over IPv6
        ("100.100.100.200", True),  # Alibaba's
        ("93.184.216.34", False),
        ("2606:4700::1111", False),
    ],
)
def test_this_machine_and_the_metadata_service_are_refused_whatever_their_name(address: str, refused: bool) -> None:
    assert (egress.refused_address(address) is not None) is refused
    assert (egress.refused_address(address, named=True) is not None) is refused


@pytest.mark.parametrize("address", ["10.1.2.3", "192.168.1.20", "172.17.0.1", "100.64.0.9", "fd12:3456::1"])
def test_a_private_address_only_for_a_host_named_exactly(address: str) -> None:
    """A model server on your network may be named in allow_hosts; ``*`` does not reach it."""
    assert egress.refused_address(address) is not None
    assert egress.refused_address(address, named=True) is None
    assert egress.names_exactly("gpu.lan", ["*", "GPU.lan."]) and not egress.names_exactly("gpu.lan", ["*.lan", "*"])


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("api.anthropic.com", True),
        ("my_host.internal", True),
        ("10.0.0.1", True),
        ("::1", True),
        ("", False),
        ("a" * 64 + ".org", False),
        ("x" * 254, False),
        ("\x1b[31mred.org", False),
        ("evil.org/path", False),
        ("user@evil.org", False),
        ("bücher.de", False),  # names are asked in their ASCII form
    ],
)
def test_what_is_a_host(text: str, host: bool) -> None:
    assert egress.is_host(text) is host


def test_only_loopback_urls_are_forwarded_by_their_port() -> None:
    values = [
        "http://127.0.0.1:8080/v1",
        "http://localhost:9000",
        "https://[::1]:8443/x",
        "http://127.0.0.1",  # port 80
        "https://api.openai.com/v1",
        "postgres://localhost:5432/db",  # not a URL czar's gateway carries
        "not a url",
        "http://127.0.0.1:notaport/",
    ]
    assert egress.forwarded_ports(values) == (80, 8080, 8443, 9000)


def test_a_base_url_elsewhere_names_its_host() -> None:
    assert egress.url_host("https://Gateway.Example.com:8443/v1") == "gateway.example.com"
    assert egress.url_host("http://127.0.0.1:8080") is None
    assert egress.url_host("file:///etc/passwd") is None
