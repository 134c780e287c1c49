"""The sandbox's network, with the real bubblewrap: a network of its own, where only the doors
czar's gateway opens lead out (forwarded loopback ports, a proxy that lets named hosts through)."""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from czar.runtime import ancestry, sandbox
from czar.runtime.gateway import Gateway
from helpers import retry_until

pytestmark = pytest.mark.skipif(sandbox.available() is not None, reason=f"no sandbox here: {sandbox.available()}")

# Run inside the sandbox: connect to each address given, print one word per try.
PROBE = """
import socket, sys
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
        print("open")
    except OSError:
        print("closed")
"""


@contextlib.contextmanager
def _web(host: str = "127.0.0.1") -> Iterator[int]:
    """An HTTP server on this machine, as a service of the user's (a dev server, say)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(http.server.ThreadingHTTPServer):
        address_family = family

    class Quiet(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"secret of the machine\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = Server((host, 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _confine(tmp_path: Path, network: sandbox.Network) -> sandbox.Confinement:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return sandbox.Confinement(writable=(work,), chdir=work, tmp=None, network=network)


def _run(confine: sandbox.Confinement, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(sandbox.wrap(argv, confine), capture_output=True, text=True, timeout=60, check=False)


def _probe(confine: sandbox.Confinement, *targets: str) -> list[str]:
    result = _run(confine, [sys.executable, "-c", PROBE, *targets])
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def _connect_through(confine: sandbox.Confinement, proxy_port: int, target: str) -> str:
    """The proxy's answer to ``CONNECT target``, asked from inside the sandbox."""
    ask = (
        "import socket, sys\n"
        f"s = socket.create_connection(('127.0.0.1', {proxy_port}), timeout=20)\n"
        f"s.sendall(b'CONNECT {target} HTTP/1.1\\r\\nHost: {target}\\r\\n\\r\\n')\n"
        "answer = b''\n"
        "while chunk := s.recv(4096):\n"
        "    answer += chunk\n"
        "    if answer.startswith(b'HTTP/1.1 200') and answer.endswith(b'\\r\\n\\r\\n'):\n"
        "        s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n"
        "sys.stdout.write(answer.decode('latin-1'))\n"
    )
    result = _run(confine, [sys.executable, "-c", ask])
    assert result.returncode == 0, result.stderr
    return result.stdout


def _outward_address() -> str | None:
    """This machine's address on its network (not loopback), to stand for a host elsewhere."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the route
        except OSError:
            return None
        address = str(s.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_services_on_this_machine_are_out_of_reach_without_a_door(tmp_path: Path) -> None:
    with _web() as port, _web("::1") as port6:
        alone = _confine(tmp_path, sandbox.NO_NETWORK)
        assert _probe(alone, f"127.0.0.1:{port}", f"::1:{port6}") == ["closed", "closed"]
        # As it was before, and as a plan that opts out of the filter still has it.
        shared = _confine(tmp_path, sandbox.HOST_NETWORK)
        assert _probe(shared, f"127.0.0.1:{port}", f"::1:{port6}") == ["open", "open"]


def test_a_forwarded_port_is_reached_at_the_same_port_and_no_other(tmp_path: Path) -> None:
    with _web() as forwarded, _web() as other:
        # A folder deep enough that its sockets' paths pass the 108 bytes a socket address holds.
        folder = tmp_path.joinpath(*["deep-folder-name"] * 8, "net")
        network = sandbox.Network(gate=folder, ports=(forwarded,))
        gate = Gateway(network)
        try:
            confine = _confine(tmp_path, network)
            assert _probe(confine, f"127.0.0.1:{forwarded}", f"127.0.0.1:{other}") == ["open", "closed"]
            fetch = (
                f"import urllib.request; print(urllib.request.urlopen('http://localhost:{forwarded}/').read().decode())"
            )
            result = _run(confine, [sys.executable, "-c", fetch])
            assert result.stdout.strip() == "secret of the machine", result.stderr
        finally:
            gate.stop()
        assert not folder.exists()


def test_the_proxy_refuses_what_is_not_named_and_says_why(tmp_path: Path) -> None:
    with _web() as local:
        network = sandbox.Network(gate=tmp_path / "net", hosts=("*.example.com", "*"))
        gate = Gateway(network)
        confine = _confine(tmp_path, network)
        try:
            # Any host is named ("*"), yet never this machine nor the cloud's metadata service.
            for target in (f"127.0.0.1:{local}", f"localhost:{local}", "169.254.169.254:80", "[::1]:22"):
                answer = _connect_through(confine, network.proxy(), target)
                assert answer.startswith("HTTP/1.1 403"), (target, answer)
                assert "czar's sandbox does not let the agent reach" in answer
            plain = _run(
                confine, [sys.executable, "-c", "import urllib.request as u; u.urlopen('http://example.com/')"]
            )
            assert "405" in plain.stderr
        finally:
            gate.stop()
        hosts = [host for host, _ in gate.denied]
        assert hosts == ["127.0.0.1", "localhost", "169.254.169.254", "::1"]

        named_only = sandbox.Network(gate=tmp_path / "net2", hosts=("pypi.org",))
        gate = Gateway(named_only, on_denied=lambda host, why: None)
        try:
            answer = _connect_through(_confine(tmp_path, named_only), named_only.proxy(), "evil.example.org:443")
        finally:
            gate.stop()
        assert answer.startswith("HTTP/1.1 403")
        assert gate.denied == [("evil.example.org", "not an allowed host (add it to [sandbox] allow_hosts)")]


def test_the_proxy_tunnels_to_a_forwarded_port_and_refuses_this_machine_by_any_address(tmp_path: Path) -> None:
    """A client that sends everything to its proxy (NO_PROXY unread) still reaches czar's tools;
    this machine's own address, named exactly, is refused all the same (a service bound to every
    address of the machine is one of its own)."""
    with _web() as port:
        network = sandbox.Network(gate=tmp_path / "net", ports=(port,), hosts=("*",))
        gate = Gateway(network)
        try:
            answer = _connect_through(_confine(tmp_path, network), network.proxy(), f"127.0.0.1:{port}")
        finally:
            gate.stop()
    assert answer.startswith("HTTP/1.1 200 Connection established"), answer
    assert answer.rstrip().endswith("secret of the machine")
    address = _outward_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    with _web(address) as port:
        network = sandbox.Network(gate=tmp_path / "net2", hosts=(address,))
        gate = Gateway(network)
        try:
            answer = _connect_through(_confine(tmp_path, network), network.proxy(), f"{address}:{port}")
        finally:
            gate.stop()
    assert answer.startswith("HTTP/1.1 403"), answer
    assert gate.denied == [(address, f"it resolves to {address}, this machine")]


def test_abstract_sockets_of_the_machine_are_out_of_reach(tmp_path: Path) -> None:
    """An X server or a session bus listens on abstract sockets, which no folder can hide:
    they belong to the network namespace."""
    name = f"czar-test-{tmp_path.name}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + name)
    listener.listen(1)
    try:
        reach = f"import socket; s = socket.socket(socket.AF_UNIX); s.connect('\\0{name}'); print('open')"
        inside = _run(_confine(tmp_path, sandbox.Network(gate=None)), [sys.executable, "-c", reach])
        assert inside.returncode != 0 and "open" not in inside.stdout
        shared = _run(_confine(tmp_path, sandbox.HOST_NETWORK), [sys.executable, "-c", reach])
        assert shared.stdout.strip() == "open", shared.stderr
    finally:
        listener.close()


def test_the_agent_cannot_replace_the_gateways_doors_and_its_program_keeps_its_exit(tmp_path: Path) -> None:
    network = sandbox.Network(gate=tmp_path / "net")
    gate = Gateway(network)
    try:
        confine = _confine(tmp_path, network)
        swap = _run(confine, ["sh", "-c", f"rm -f {network.gate}/proxy.sock || exit 0; exit 9"])
        assert swap.returncode == 0
        assert (tmp_path / "net" / "proxy.sock").is_socket()
        assert _run(confine, ["sh", "-c", "exit 7"]).returncode == 7
        missing = _run(confine, ["no-such-program-anywhere"])
        assert missing.returncode == 127 and "no-such-program-anywhere" in missing.stderr
    finally:
        gate.stop()


def test_stopping_the_gateway_cuts_what_it_carries(tmp_path: Path) -> None:
    with _web() as port:
        network = sandbox.Network(gate=tmp_path / "net", ports=(port,))
        gate = Gateway(network)
        holder = (
            "import socket, sys, time\n"
            f"s = socket.create_connection(('127.0.0.1', {port}))\n"
            "print('connected', flush=True)\n"
            "print('cut' if s.recv(1) == b'' else 'data', flush=True)\n"
        )
        argv = sandbox.wrap([sys.executable, "-c", holder], _confine(tmp_path, network))
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "connected"
            gate.stop()
            assert proc.stdout.readline().strip() == "cut"
            assert proc.wait(timeout=30) == 0


def test_checks_are_told_what_the_sandbox_refused_them(tmp_path: Path) -> None:
    """A check that needs a host the plan does not allow fails, and the failure the agent reads
    names the host and what to change."""
    from czar.supervisor.checks import describe_failure, run_checks

    network = sandbox.Network(gate=tmp_path / "checks.net", hosts=("pypi.org",))
    fetch = "import urllib.request; urllib.request.urlopen('https://files.example.net/pkg.tar.gz')"
    results = run_checks(
        [f'{sys.executable} -c "{fetch}"'], tmp_path, 60, tmp_path / "log", _confine(tmp_path, network)
    )
    assert not results[0].ok
    failure = describe_failure(results)
    assert (
        "czar: the sandbox refused files.example.net: not an allowed host (add it to [sandbox] allow_hosts)" in failure
    )
    assert not network.gate.exists()  # the gateway lived as long as the checks


def test_checks_without_a_network_say_so_when_they_fail_for_want_of_one(tmp_path: Path) -> None:
    from czar.supervisor.checks import describe_failure, run_checks

    fetch = "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/')"
    confine = _confine(tmp_path, sandbox.NO_NETWORK)
    results = run_checks([f'{sys.executable} -c "{fetch}"'], tmp_path, 60, tmp_path / "log", confine)
    assert "czar: checks run without a network ([sandbox] allow_hosts and ports open one)" in describe_failure(results)
    # A failure of another kind says nothing of the network.
    results = run_checks([f'{sys.executable} -c "raise SystemExit(3)"'], tmp_path, 60, tmp_path / "log", confine)
    assert "network" not in describe_failure(results)


def test_a_gateway_stopped_late_leaves_the_doors_of_the_next_one(tmp_path: Path) -> None:
    """An agent's servers close in the background while its next start opens new ones: the old
    gateway's stop must not take the new one's sockets with it."""
    with _web() as port:
        network = sandbox.Network(gate=tmp_path / "net", ports=(port,))
        old = Gateway(network)
        new = Gateway(network)  # the same folder, made again
        try:
            old.stop()
            assert _probe(_confine(tmp_path, network), f"127.0.0.1:{port}") == ["open"]
        finally:
            new.stop()
        assert not network.gate.exists()


def _client(gate: Gateway) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    assert gate.folder is not None
    s.connect(str(gate.folder / "proxy.sock"))
    return s


def _answer(s: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(OSError):
        while chunk := s.recv(4096):
            data += chunk
    return data


def test_what_an_agent_sends_its_proxy_cannot_exhaust_the_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connections held open, a request sent a byte at a time, a flood of names refused, a host
    that is not a name: each costs the gateway a bounded share, and it goes on serving."""
    from czar.runtime import gateway as gateway_module

    monkeypatch.setattr(gateway_module, "CONNECT_TIMEOUT", 1.0)
    monkeypatch.setattr(gateway_module, "MAX_CONNECTIONS", 8)
    reported: list[str] = []
    gate = Gateway(
        sandbox.Network(gate=tmp_path / "net", hosts=("pypi.org",)), on_denied=lambda h, _: reported.append(h)
    )
    try:
        held = [_client(gate) for _ in range(20)]  # open, saying nothing
        assert retry_until(lambda: gate.connections() == 8, timeout=10, what="the cap")
        for s in held:
            assert _answer(s) == b""  # each ends unanswered: cut at the deadline, or refused at once
            s.close()
        assert retry_until(lambda: gate.connections() == 0, timeout=10, what="all of them closed")
        # A request sent a byte at a time does not extend the deadline.
        slow = _client(gate)
        start = time.monotonic()
        with contextlib.suppress(OSError):
            for byte in b"CONNECT pypi.org:443 HTTP/1.1\r\n":
                slow.sendall(bytes([byte]))
                time.sleep(0.1)
        assert _answer(slow) == b"" and time.monotonic() - start < 8
        slow.close()
        # Names refused in a loop: each refused, the first hundred reported, none after.
        for n in range(150):
            s = _client(gate)
            s.sendall(f"CONNECT a{n}.example.org:443 HTTP/1.1\r\n\r\n".encode())
            assert _answer(s).startswith(b"HTTP/1.1 403")
            s.close()
        assert gate.refusals == 150 and len(gate.denied) == 100 and len(reported) == 100
        for target in ("\x1b[31mred.example.org:443", "a" * 64 + ".org:443", "x.org:99999", "no-port"):
            s = _client(gate)
            s.sendall(f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
            assert _answer(s).startswith(b"HTTP/1.1 400"), target
            s.close()
        assert gate.refusals == 150
    finally:
        gate.stop()


def test_the_agents_program_starts_with_the_signals_a_shell_gives_it(tmp_path: Path) -> None:
    """The forwarder is Python, which ignores SIGPIPE: its program must not inherit that (an
    `echo` loop piped into `head` would never end)."""
    network = sandbox.Network(gate=tmp_path / "net")
    gate = Gateway(network)
    try:
        result = _run(_confine(tmp_path, network), ["sh", "-c", "grep SigIgn /proc/self/status"])
    finally:
        gate.stop()
    ignored = int(result.stdout.split()[1], 16)
    assert not ignored & (1 << (13 - 1)), "SIGPIPE ignored"
    assert not ignored & (1 << (25 - 1)), "SIGXFSZ ignored"


def test_a_port_the_sandbox_cannot_listen_on_is_one_clear_line(tmp_path: Path) -> None:
    network = sandbox.Network(gate=tmp_path / "net", ports=(80,))
    gate = Gateway(network)
    try:
        result = _run(_confine(tmp_path, network), ["true"])
    finally:
        gate.stop()
    assert result.returncode == 126
    assert "cannot open port 80 in the sandbox (below 1024" in result.stderr
    assert "Traceback" not in result.stderr


def test_npm_and_pip_ask_nobody_for_a_newer_version_of_themselves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At each command npm asked its registry for a newer npm (unless it had in the last days,
    which an agent's home of its own never has): a refused host, an alert in every worker of a
    JavaScript project, for nothing the work needs (found running the real agents on one). pip's
    own check is turned off the same way."""
    from czar.supervisor.checks import run_checks

    project = tmp_path / "work"  # where _confine runs them
    (project / "home").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(project / "home"))  # a home npm has never run in
    (project / "package.json").write_text('{"name": "p", "version": "1.0.0", "scripts": {"test": "node -e 0"}}')
    network = sandbox.Network(gate=tmp_path / "checks.net", hosts=("pypi.org",))
    log = tmp_path / "log"
    results = run_checks(
        ["npm test", "sh -c 'echo $PIP_DISABLE_PIP_VERSION_CHECK'"], project, 60, log, _confine(tmp_path, network)
    )
    assert all(r.ok for r in results), log.read_text()
    assert "refused" not in log.read_text() and "registry.npmjs.org" not in log.read_text()
    assert "\n1\n" in log.read_text()


def test_the_listener_that_carries_its_connections_out_is_seen_and_so_is_its_end(tmp_path: Path) -> None:
    """What runs in the sandbox can kill the process that carries its connections out: the
    worker host then knows its agent's failures to connect are no outage of its model."""
    with _web() as port:
        network = sandbox.Network(gate=tmp_path / "gate", ports=(port,))
        gate = Gateway(network)
        child = subprocess.Popen(sandbox.wrap(["sleep", "60"], _confine(tmp_path, network)))
        try:
            retry_until(lambda: sandbox.network_listens(child.pid), timeout=10)
            assert sandbox.network_listens(child.pid) is True  # not merely named on bwrap's command line
            subprocess.run(  # as an agent would, from inside: `pkill -f netns.py`
                sandbox.wrap(["pkill", "-f", "netn[s].py"], _confine(tmp_path, network)), check=False, timeout=30
            )
            assert sandbox.network_listens(child.pid) is True  # another sandbox's kill reaches only its own
            listener = next(
                p
                for p in ancestry.descendants(child.pid)
                if (i := ancestry.process(p)) and i.cmdline[1:4] == sandbox.LISTENER
            )
            os.kill(listener, signal.SIGKILL)
            retry_until(lambda: sandbox.network_listens(child.pid) is False, timeout=10)
            assert child.poll() is None  # the program runs on, without a network
            program = next(
                p for p in ancestry.descendants(child.pid) if (i := ancestry.process(p)) and i.cmdline[:1] == ("sleep",)
            )
            os.kill(program, signal.SIGKILL)
            child.wait(timeout=10)
            assert sandbox.network_listens(child.pid) is None  # its program has ended: nothing to tell
        finally:
            child.kill()
            child.wait()
            gate.stop()
