"""The tools server's door for the worker hosts (``host_service.host_app``): a call that may wait
for a person waits on its worker's own threads, never on those every host's calls share."""

from __future__ import annotations

import json
import threading
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest

from czar.agent_tools import host_service

KEY = "k" * 64


def test_permissions_waiting_for_people_hold_up_no_other_call(monkeypatch: pytest.MonkeyPatch) -> None:
    people = threading.Event()  # the people, who have not answered yet

    def answer_of(_store: Any, _worker: str, _wrap: Any, body: bytes) -> dict[str, Any]:
        if json.loads(body)["call"] == "tool.decide_permission":
            people.wait(10)
            return {"ok": True, "result": ["allow", "allowed by a person"]}
        return {"ok": True, "result": 7}

    monkeypatch.setattr(host_service, "answer_of", answer_of)
    app = host_service.host_app(None, KEY, lambda _w: None, None)  # type: ignore[arg-type]

    async def call(client: httpx.AsyncClient, worker: str, name: str) -> Any:
        body = {"call": name, "launch": 1, "args": {}}
        answer = await client.post(f"/host/{worker}", json=body, headers={"Authorization": f"Bearer {KEY}"})
        return answer.json()["result"]

    async def main() -> Any:
        # Few shared threads, as forty are few beside a hundred workers' waiting permissions.
        anyio.to_thread.current_default_thread_limiter().total_tokens = 2
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url="http://tools")
        async with client, anyio.create_task_group() as group:
            for worker in ("w1", "w2", "w3"):
                group.start_soon(call, client, worker, "tool.decide_permission")
            await anyio.sleep(0.2)
            with anyio.fail_after(3):
                other = await call(client, "w4", "commands")  # a host's ordinary call
            people.set()
        return other

    assert anyio.run(main) == 7
