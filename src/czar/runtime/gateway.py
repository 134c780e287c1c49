"""The outside end of a sandbox's network: Unix sockets in a folder bound into the sandbox.

``<port>.sock`` for each forwarded loopback port connects to that port on this machine (czar's
tools for the agent, a model server in tests); ``proxy.sock`` is an HTTPS proxy that tunnels to
the hosts ``czar.core.egress`` permits and refuses the rest with a message saying why, which the
agent's program shows and ``on_denied`` reports. Threads of the process that runs the sandbox
serve it (a worker host for its agent, the supervisor for checks); ``stop`` ends them.

What comes in is the agent's: connections are capped, a request must come whole within a
deadline, and nothing it sends can make the gateway's process run out of threads or files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator

from czar.core import egress
from czar.runtime.netns import splice, unix_address
from czar.runtime.sandbox import Network

PROXY = "proxy.sock"
HEAD_LIMIT = 16384  # a CONNECT request's head; anything longer is not a proxy client
CONNECT_TIMEOUT = 10.0  # to connect out, and for the whole of a request's head to come in
MAX_CONNECTIONS = 64  # at once, per gateway: a few are what an agent's program keeps open
DENIED_KEPT = 100  # refusals remembered (and reported) per gateway; the rest are only counted

Denied = Callable[[str, str], None]  # (host, why)
Handler = Callable[[socket.socket, int], None]


class Gateway:
    """Serves the doors of ``network`` (its ``gate`` folder, its ``ports``, its ``hosts``)."""

    def __init__(self, network: Network, on_denied: Denied | None = None) -> None:
        if network.gate is None:
            raise ValueError("a gateway needs the folder of its sockets")
        folder = self.folder = network.gate
        self.ports = network.ports
        self.hosts = network.hosts
        self.denied: list[tuple[str, str]] = []  # (host, why), in order, the first DENIED_KEPT
        self.refusals = 0  # every refusal, counted
        self._on_denied = on_denied
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._stopped = False
        self._listeners: list[socket.socket] = []
        shutil.rmtree(folder, ignore_errors=True)  # a previous run's sockets
        folder.mkdir(parents=True, mode=0o700)
        self._fd = os.open(folder, os.O_PATH | os.O_DIRECTORY)
        made = os.fstat(self._fd)
        self._made = (made.st_dev, made.st_ino)
        try:
            for port in self.ports:
                self._listen(f"{port}.sock", self._forward, port)
            self._listen(PROXY, self._proxy, 0)
        except OSError:
            self.stop()
            raise

    def _listen(self, name: str, handle: Handler, arg: int) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listeners.append(s)
        s.bind(unix_address(self._fd, name))
        s.listen(64)
        threading.Thread(target=self._accept, args=(s, handle, arg), name=f"czar-gateway-{name}", daemon=True).start()

    def _accept(self, listener: socket.socket, handle: Handler, arg: int) -> None:
        while not self._stopped:
            try:
                conn, _ = listener.accept()
            except OSError:
                if self._stopped:
                    return
                time.sleep(0.1)  # out of files for a moment (EMFILE): the listener stays
                continue
            if not self._slots.acquire(blocking=False):
                conn.close()  # too many at once: this one is refused, the others go on
                continue
            try:
                self._track(conn)
                threading.Thread(target=self._guarded, args=(handle, conn, arg), daemon=True).start()
            except (OSError, RuntimeError):
                self._untrack(conn)
                conn.close()
                self._slots.release()

    def _guarded(self, handle: Handler, conn: socket.socket, arg: int) -> None:
        try:
            handle(conn, arg)
        except Exception:  # whatever the agent sent: its connection ends, the gateway goes on
            pass
        finally:
            conn.close()
            self._untrack(conn)
            self._slots.release()

    def _forward(self, conn: socket.socket, port: int) -> None:
        out = _dial_loopback(port)
        if out is None:
            return
        self._carry(conn, out)

    def _carry(self, conn: socket.socket, out: socket.socket) -> None:
        try:
            self._track(out)
        except OSError:
            return
        try:
            splice(conn, out)
        finally:
            out.close()
            self._untrack(out)

    def _proxy(self, conn: socket.socket, _unused: int) -> None:
        head = _read_head(conn)
        if head is None:
            return
        request, rest = head
        method, _, target = request.partition(" ")
        target = target.rpartition(" ")[0] or target
        if method.upper() != "CONNECT":
            _refuse(conn, "405 Method Not Allowed", "czar's proxy only tunnels (CONNECT): use https")
            return
        host, port = _host_port(target)
        if host is None:
            _refuse(conn, "400 Bad Request", "not a host and port")
            return
        out, why = self._connect(host, port)
        if out is None:
            _refuse(conn, "403 Forbidden", f"czar's sandbox does not let the agent reach {host}: {why}")
            self._refused(host, why)
            return
        conn.settimeout(None)
        try:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                out.sendall(rest)
        except OSError:
            out.close()
            return
        self._carry(conn, out)

    def _refused(self, host: str, why: str) -> None:
        with self._lock:
            self.refusals += 1
            if len(self.denied) >= DENIED_KEPT:
                return  # counted, not reported again: an agent trying names in a loop floods nothing
            self.denied.append((host, why))
        if self._on_denied is not None:
            self._on_denied(host, why)

    def _connect(self, host: str, port: int) -> tuple[socket.socket | None, str]:
        """A connection to ``host``'s ``port`` if the rule permits it, else None and why not."""
        if host in egress.LOOPBACK_NAMES or host.startswith("127."):
            # Clients that send everything to their proxy (NO_PROXY unread) reach the forwarded ports.
            if port not in self.ports:
                return None, "a port of this machine that is not forwarded"
            out = _dial_loopback(port)
            return (out, "") if out is not None else (None, "nothing listens there")
        if not egress.permits(host, self.hosts):
            return None, "not an allowed host (add it to [sandbox] allow_hosts)"
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            return None, f"cannot resolve it ({getattr(exc, 'strerror', None) or exc})"
        last = "no address"
        named = egress.names_exactly(host, self.hosts)
        for family, kind, proto, _, address in found:
            if why := egress.refused_address(str(address[0]), named=named):
                last = f"it resolves to {address[0]}, {why}"
                continue
            s = socket.socket(family, kind, proto)
            try:
                s.settimeout(CONNECT_TIMEOUT)
                s.connect(address)
                # One of this machine's own addresses (a service bound to all of them).
                if s.getsockname()[0] == s.getpeername()[0]:
                    s.close()
                    last = f"it resolves to {address[0]}, this machine"
                    continue
            except OSError as exc:
                s.close()
                last = f"cannot connect ({exc.strerror or exc})"
                continue
            s.settimeout(None)
            return s, ""
        return None, last

    def _track(self, s: socket.socket) -> None:
        with self._lock:
            if self._stopped:
                s.close()
                raise OSError("the gateway is stopped")
            self._open.add(s)

    def _untrack(self, s: socket.socket) -> None:
        with self._lock:
            self._open.discard(s)

    def connections(self) -> int:
        with self._lock:
            return len(self._open)

    def stop(self) -> None:
        """Stop listening, cut every connection and remove the folder."""
        with self._lock:
            self._stopped = True
            live, self._open = list(self._open), set()
        for s in [*self._listeners, *live]:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        with contextlib.suppress(OSError):
            os.close(self._fd)
        # Its own folder only: a gateway stopped in the background must not remove the folder of
        # one made since under the same name.
        with contextlib.suppress(OSError):
            now = self.folder.lstat()
            if (now.st_dev, now.st_ino) == self._made:
                shutil.rmtree(self.folder, ignore_errors=True)


def _dial_loopback(port: int) -> socket.socket | None:
    """A connection to ``port`` on this machine's loopback, IPv4 or IPv6 (a server on ``[::1]``)."""
    for host in ("127.0.0.1", "::1"):
        try:
            out = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
        except OSError:
            continue
        out.settimeout(None)
        return out
    return None


def _read_head(conn: socket.socket) -> tuple[str, bytes] | None:
    """The request line of what ``conn`` sends, and what came after its head; None if it does not
    come whole, within its size and ``CONNECT_TIMEOUT`` (a byte at a time does not extend it)."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    head = b""
    while b"\r\n\r\n" not in head:
        left = deadline - time.monotonic()
        if left <= 0 or len(head) > HEAD_LIMIT:
            return None
        conn.settimeout(left)
        data = conn.recv(4096)
        if not data:
            return None
        head += data
    head, _, rest = head.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0].decode("latin-1"), rest


def _refuse(conn: socket.socket, status: str, text: str) -> None:
    body = (text + "\n").encode()
    head = f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with contextlib.suppress(OSError):
        conn.sendall(head.encode() + body)


def _host_port(target: str) -> tuple[str | None, int]:
    """The host (a name or an address, lower case) and port of a CONNECT target, if it is one."""
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        return None, 0
    host = host.lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not egress.is_host(host):
        return None, 0
    return host, int(port)


@contextlib.contextmanager
def serving(network: Network | None) -> Iterator[Gateway | None]:
    """A gateway for ``network`` while the block runs; None if it has no doors to serve."""
    if network is None or network.shared or network.gate is None:
        yield None
        return
    gate = Gateway(network)
    try:
        yield gate
    finally:
        gate.stop()
