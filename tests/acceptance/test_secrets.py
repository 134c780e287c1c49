"""Secrets during a real run: the agents' API keys reach them but no command line (``ps`` shows
every one, the tmux server's for the whole run); a worker's token neither, and the store keeps only
its digest, which opens nothing; the store is its owner's alone."""

from __future__ import annotations

import hashlib
import json
import stat
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from czar.agent_tools.host_link import mcp_path
from czar.agent_tools.relay import PATH
from czar.agent_tools.tools_server import address
from czar.paths import ProjectPaths
from czar.store.store import Store
from helpers import czar, make_repo, retry_until, write_plan

KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY")


def _cmdlines() -> dict[int, bytes]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = (entry / "cmdline").read_bytes()
            except OSError:
                continue  # gone meanwhile
    return found


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw.split(b"\0") if b"=" in item)


def _post(url: str, token: str) -> int:
    body = json.dumps({"tool": "board", "args": {}}).encode()
    request = urllib.request.Request(url, data=body, headers={"Authorization": f"Bearer {token}"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_secrets_stay_off_command_lines_and_out_of_the_store(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = {k: f"fake-{k.lower()}-{uuid.uuid4().hex}" for k in KEYS}
    for k, v in keys.items():
        monkeypatch.setenv(k, v)
    make_repo(tmp_path / "repo")
    script = "ask Bash terraform apply\nfinish a done"
    task = f"[[tasks]]\nid = \"a\"\ntitle = \"a\"\nbody = '''\nDo a.\n\n```czar-sim\n{script}\n```\n'''\n"
    plan = write_plan(tmp_path, "secrets", [task], workers=1, project_extra="[health]\npermission_timeout = 600\n")
    czar("up", str(plan), check=True)
    paths = ProjectPaths.for_project("secrets")
    store = Store(paths)
    try:

        def agent() -> tuple[int, int] | None:
            w = next(w for w in store.workers() if w.id == "w1")
            return (w.pid, w.agent_pid) if w.state == "waiting_permission" and w.pid and w.agent_pid else None

        host_pid, agent_pid = retry_until(agent, timeout=60, what="the agent to wait for a permission")
        token = _environ(agent_pid)["CZAR_TOKEN"]
        # The keys reached czar's processes (through tmux), so their absence below means something.
        for k, v in keys.items():
            assert _environ(host_pid).get(k) == v and _environ(agent_pid).get(k) == v

        for pid, cmdline in _cmdlines().items():
            for secret in (*keys.values(), token):
                assert secret.encode() not in cmdline, f"process {pid}: {cmdline!r}"
        assert not list(paths.root.glob(".czar-env-*")), "the file that carried the environment is gone"

        stored = next(w.token for w in store.workers() if w.id == "w1")
        assert stored == hashlib.sha256(token.encode()).hexdigest()

        # The run's tools server turns the stored digest away, and the agent's token too, on the
        # worker host's door (the hosts' calls on the store): only the project's host key opens
        # it. This plan's agents do not speak MCP: none is served (the MCP server's own refusal
        # of a digest: ``test_mcp.py``). So does the live worker host's relay that the agent's
        # `czar` commands call from its sandbox.
        base = address(store)
        assert base is not None
        for secret in (stored, token):
            assert _post(f"{base}/host/w1", secret) == 401
        assert _post(f"{base}{mcp_path('w1', 1)}", token) == 404
        relay = _environ(agent_pid).get("CZAR_ENDPOINT")
        if relay:  # the agent runs in a sandbox
            assert _post(relay + PATH, stored) == 401
            assert _post(relay + PATH, token) == 200

        assert stat.S_IMODE(paths.root.stat().st_mode) == 0o700
        assert stat.S_IMODE(paths.db.stat().st_mode) == 0o600
    finally:
        store.close()
        czar("down", str(plan), check=True)
