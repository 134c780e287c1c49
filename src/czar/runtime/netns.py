"""The inside end of a sandbox's network: run as ``python -I -S netns.py FOLDER PORT=NAME ... -- ARGV``.

A sandbox has a network of its own with only a loopback in it. This listens there on each
``PORT`` (127.0.0.1 and ::1) and carries every connection to the Unix socket ``NAME`` in
``FOLDER``, where czar's gateway (``czar.runtime.gateway``) takes it on outside; then it becomes
``ARGV``. The listener lives on as a process of its own in the sandbox and ends with it.

Run by path, without ``site``: the standard library only, so it starts in milliseconds inside
a sandbox that may not see czar's packages.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import sys
import threading

CHUNK = 65536
BACKLOG = 64


def unix_address(folder_fd: int, name: str) -> str:
    """A path to ``name`` in the folder open as ``folder_fd``, short enough for a socket's
    address (108 bytes) however deep the folder is."""
    return f"/proc/self/fd/{folder_fd}/{name}"


def splice(a: socket.socket, b: socket.socket) -> None:
    """Carry bytes both ways between ``a`` and ``b`` until both sides are done, then close both."""

    def carry(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(CHUNK):
                dst.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    other = threading.Thread(target=carry, args=(b, a), daemon=True)
    other.start()
    carry(a, b)
    other.join()
    a.close()
    b.close()


def _listen(port: int) -> list[socket.socket]:
    found = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((host, port))
            s.listen(BACKLOG)
        except OSError:
            s.close()
            if family == socket.AF_INET:
                raise  # the sandbox's own loopback: a failure here is a failure to start
            continue  # no IPv6 in this namespace
        found.append(s)
    return found


def _serve(listener: socket.socket, folder_fd: int, name: str) -> None:
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_forward, args=(conn, folder_fd, name), daemon=True).start()


def _forward(conn: socket.socket, folder_fd: int, name: str) -> None:
    out = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        out.connect(unix_address(folder_fd, name))
    except OSError:
        conn.close()
        out.close()
        return
    splice(conn, out)


def main(args: list[str]) -> int:
    if "--" not in args or len(args) < 3:
        print("usage: netns.py FOLDER PORT=NAME ... -- ARGV", file=sys.stderr)
        return 2
    split = args.index("--")
    folder, maps, argv = args[0], args[1:split], args[split + 1 :]
    folder_fd = os.open(folder, os.O_PATH | os.O_DIRECTORY)
    served = []
    for item in maps:
        port, _, name = item.partition("=")
        try:
            served += [(listener, name) for listener in _listen(int(port))]
        except OSError as exc:
            why = "below 1024, which a sandbox cannot listen on" if exc.errno == errno.EACCES else exc.strerror
            print(f"czar: cannot open port {port} in the sandbox ({why}); use another port", file=sys.stderr)
            return 126
    # The listener becomes a process of its own (a grandchild, so nobody waits for it but the
    # sandbox's first process); the program keeps this process's place and its terminal.
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        threads = [threading.Thread(target=_serve, args=(s, folder_fd, n), daemon=True) for s, n in served]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        os._exit(0)
    os.waitpid(child, 0)
    for listener, _ in served:
        listener.close()
    os.close(folder_fd)
    # As a shell leaves them for the programs it starts: Python ignores these, and an ignored
    # SIGPIPE would make `yes | head -1` run forever in the agent's shell.
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"{argv[0]}: {exc.strerror}", file=sys.stderr)
        return 127
    return 0  # never reached: exec does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
