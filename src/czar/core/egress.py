"""Where a sandboxed agent may connect: the rule czar's gateway keeps at the sandbox's edge.

Inside its sandbox an agent has a network of its own with nothing in it (no route out, no
loopback services of the machine, no cloud metadata). Two doors are opened: the loopback ports
its own configuration names (czar's tools, a model server on this machine) appear at the same
port inside, and an HTTPS proxy connects to the hosts its model API needs and those the plan adds.
The proxy only tunnels (``CONNECT``), so what is allowed is a host name, checked before it is
resolved, and the address it resolves to, checked after (a public name that resolves to this
machine or the metadata service is refused all the same).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def permits(host: str, patterns: Iterable[str]) -> bool:
    """Whether ``host`` is one the patterns name: an exact name, or ``*.example.com`` for any
    name under it (not ``example.com`` itself), or ``*`` for any host at all."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower().rstrip(".")
        if pattern == "*" or pattern == host:
            return True
        if pattern.startswith("*.") and fnmatchcase(host, pattern) and host.endswith(pattern[1:]):
            return True
    return False


# The clouds' metadata services (credentials of the machine) that are not link-local addresses.
METADATA = frozenset({ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")})


def refused_address(address: str, *, named: bool = False) -> str | None:
    """Why the proxy does not connect to ``address``, or None. Never this machine's loopback (its
    services are reached only through the ports forwarded by name), link-local addresses and the
    clouds' metadata services; a private network's addresses only for a host ``named`` exactly
    (a model server on your network), never through ``*`` or ``*.example.com``."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "this machine"
    if ip.is_link_local or ip in METADATA:
        return "the cloud's metadata service"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "not a host"
    if not ip.is_global and not named:
        return "a private network's address (name the host itself in [sandbox] allow_hosts)"
    return None


def names_exactly(host: str, patterns: Iterable[str]) -> bool:
    """Whether one of the patterns is ``host`` itself (not a wildcard that covers it)."""
    host = host.lower().rstrip(".")
    return any(pattern.lower().rstrip(".") == host for pattern in patterns)


def is_host(text: str) -> bool:
    """A host name (letters, digits, ``-``, ``_`` and dots, at most 253 characters) or an address."""
    if not text or len(text) > 253:
        return False
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    labels = text.rstrip(".").split(".")
    return all(
        0 < len(label) <= 63 and all(c.isascii() and (c.isalnum() or c in "-_") for c in label) for label in labels
    )


def loopback_port(url: str) -> int | None:
    """The port of ``url`` when it names this machine's loopback (``http://127.0.0.1:8080/v1``)."""
    try:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https", "ws", "wss") or parts.hostname is None:
            return None
        if parts.hostname.lower() not in LOOPBACK_NAMES and not parts.hostname.startswith("127."):
            return None
        return parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    except ValueError:
        return None


def url_host(url: str) -> str | None:
    """The host name of ``url`` when it is elsewhere than this machine (a model API's base URL)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or loopback_port(url) is not None:
        return None
    return parts.hostname.lower()


def forwarded_ports(values: Iterable[str]) -> tuple[int, ...]:
    """The loopback ports named by URLs among ``values`` (an agent's environment, its endpoints)."""
    ports = {port for value in values if (port := loopback_port(value)) is not None}
    return tuple(sorted(ports))
