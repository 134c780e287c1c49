"""The outside end of a sandbox's network: Unix sockets in a folder bound into the sandbox.

``<port>.sock`` for each forwarded loopback port connects to that port on this machine (czar's
tools for the agent, a model server in tests); ``proxy.sock`` is an HTTPS proxy that tunnels to
the hosts ``czar.core.egress`` permits and refuses the rest with a message saying why, which the
agent's program shows and ``on_denied`` reports. Threads of the process that runs the sandbox
serve it (a worker host for its agent, the supervisor for checks); ``stop`` ends them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator

from czar.core import egress
from czar.runtime.netns import splice, unix_address
from czar.runtime.sandbox import Network

PROXY = "proxy.sock"
HEAD_LIMIT = 16384  # a CONNECT request's head; anything longer is not a proxy client
CONNECT_TIMEOUT = 10.0

Denied = Callable[[str, str], None]  # (host, why)


class Gateway:
    """Serves the doors of ``network`` (its ``gate`` folder, its ``ports``, its ``hosts``)."""

    def __init__(self, network: Network, on_denied: Denied | None = None) -> None:
        if network.gate is None:
            raise ValueError("a gateway needs the folder of its sockets")
        folder = self.folder = network.gate
        self.ports = network.ports
        self.hosts = network.hosts
        self.denied: list[tuple[str, str]] = []  # (host, why), in order
        self._on_denied = on_denied
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._stopped = False
        shutil.rmtree(folder, ignore_errors=True)  # a previous run's sockets
        folder.mkdir(parents=True, mode=0o700)
        self._fd = os.open(folder, os.O_PATH | os.O_DIRECTORY)
        self._made = os.fstat(self._fd).st_ino
        self._listeners = [self._listen(f"{port}.sock", self._forward, port) for port in self.ports]
        self._listeners.append(self._listen(PROXY, self._proxy, 0))

    def _listen(self, name: str, handle: Callable[[socket.socket, int], None], arg: int) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(unix_address(self._fd, name))
        s.listen(64)
        threading.Thread(target=self._accept, args=(s, handle, arg), name=f"czar-gateway-{name}", daemon=True).start()
        return s

    def _accept(self, listener: socket.socket, handle: Callable[[socket.socket, int], None], arg: int) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # stopped
            self._track(conn)
            threading.Thread(target=self._guarded, args=(handle, conn, arg), daemon=True).start()

    def _guarded(self, handle: Callable[[socket.socket, int], None], conn: socket.socket, arg: int) -> None:
        try:
            handle(conn, arg)
        except OSError:
            conn.close()
        finally:
            self._untrack(conn)

    def _forward(self, conn: socket.socket, port: int) -> None:
        try:
            out = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT)
        except OSError:
            conn.close()
            return
        out.settimeout(None)
        self._track(out)
        try:
            splice(conn, out)
        finally:
            self._untrack(out)

    def _proxy(self, conn: socket.socket, _unused: int) -> None:
        conn.settimeout(CONNECT_TIMEOUT)
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.recv(4096)
            if not data or len(head) > HEAD_LIMIT:
                conn.close()
                return
            head += data
        head, _, rest = head.partition(b"\r\n\r\n")
        method, _, target = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
        target = target.rpartition(" ")[0] or target
        if method.upper() != "CONNECT":
            self._refuse(conn, "405 Method Not Allowed", "czar's proxy only tunnels (CONNECT): use https")
            return
        host, port = _host_port(target)
        if host is None:
            self._refuse(conn, "400 Bad Request", f"not a host and port: {target[:200]}")
            return
        out, why = self._connect(host, port)
        if out is None:
            self._refuse(conn, "403 Forbidden", f"czar's sandbox does not let the agent reach {host}: {why}")
            with self._lock:
                self.denied.append((host, why))
            if self._on_denied is not None:
                self._on_denied(host, why)
            return
        conn.settimeout(None)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if rest:
            out.sendall(rest)
        self._track(out)
        try:
            splice(conn, out)
        finally:
            self._untrack(out)

    def _connect(self, host: str, port: int) -> tuple[socket.socket | None, str]:
        """A connection to ``host``'s ``port`` if the rule permits it, else None and why not."""
        if host in egress.LOOPBACK_NAMES or host.startswith("127."):
            # Clients that send everything to their proxy (NO_PROXY unread) reach the forwarded ports.
            if port not in self.ports:
                return None, "a port of this machine that is not forwarded"
            return socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT), ""
        if not egress.permits(host, self.hosts):
            return None, "not an allowed host (add it to [sandbox] allow_hosts)"
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            return None, f"cannot resolve it ({exc.strerror or exc})"
        last = "no address"
        for family, kind, proto, _, address in found:
            if why := egress.refused_address(str(address[0])):
                last = f"it resolves to {address[0]}, {why}"
                continue
            s = socket.socket(family, kind, proto)
            try:
                s.settimeout(CONNECT_TIMEOUT)
                s.connect(address)
            except OSError as exc:
                s.close()
                last = f"cannot connect ({exc.strerror or exc})"
                continue
            s.settimeout(None)
            return s, ""
        return None, last

    @staticmethod
    def _refuse(conn: socket.socket, status: str, text: str) -> None:
        body = (text + "\n").encode()
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            conn.sendall(head.encode() + body)
        conn.close()

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
            if self.folder.lstat().st_ino == self._made:
                shutil.rmtree(self.folder, ignore_errors=True)


def _host_port(target: str) -> tuple[str | None, int]:
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host or not 0 < int(port) < 65536:
        return None, 0
    host = host.strip("[]").lower()
    if not host or any(c.isspace() or c in "/@" for c in host):
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
