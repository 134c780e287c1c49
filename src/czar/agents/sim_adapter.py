"""Adapter for the built-in simulated agent."""

from __future__ import annotations

import json
import sys

from czar.agents.base import Capabilities, HookProtocol, Launch, LaunchContext, Signal, SignalKind, base_env, json_line
from czar.core.host_commands import MessageKind


class SimAdapter:
    kind = "sim"
    hooks: HookProtocol | None = None  # it runs no hook of czar's
    capabilities = Capabilities()  # the czar commands, stdin messages, no session of its own

    def launch(self, ctx: LaunchContext) -> Launch:
        # It has no session to resume: a new start gets the task's text again, then the messages.
        return Launch(
            argv=[sys.executable, "-P", "-m", "czar.agents.sim"],  # -P: not a `czar` of the checkout's
            env=base_env(ctx),
            stdin=[self.encode(text, kind) for text, kind in ctx.messages],
        )

    def encode(self, text: str, kind: MessageKind = MessageKind.TASK) -> str:
        return json.dumps({"type": "user", "kind": kind, "text": text}) + "\n"

    def parse(self, line: str) -> list[Signal]:
        msg = json_line(line)
        if msg is None:
            return [Signal(SignalKind.ACTIVITY, text=line.rstrip())] if line.strip() else []
        kind = msg.get("type")
        if kind == "ack":
            return [
                Signal(SignalKind.ACK, task=msg.get("task"), digest=msg.get("sha256"), text=str(msg.get("goal") or ""))
            ]
        if kind == "progress":
            return [Signal(SignalKind.PROGRESS, text=str(msg.get("note", "")), data=msg)]
        if kind == "commit":
            return [Signal(SignalKind.COMMIT, text=str(msg.get("message", "")), data=msg)]
        if kind == "finished":
            head = msg.get("head")
            return [Signal(SignalKind.FINISHED, text=str(msg.get("summary", "")), data={"head": head} if head else {})]
        if kind == "permission":
            return [
                Signal(SignalKind.PERMISSION, text=str(msg.get("target", "")), data={"tool": str(msg.get("tool", ""))})
            ]
        if kind == "rate_limited":
            return [
                Signal(
                    SignalKind.RATE_LIMITED, text=str(msg.get("text", "")), data={"reset_in": msg.get("reset_in", 60)}
                )
            ]
        if kind == "finding":
            data = {"path": str(msg.get("path", "")), "line": msg.get("line"), "severity": str(msg.get("severity", ""))}
            return [Signal(SignalKind.FINDING, text=str(msg.get("failure", "")), data=data)]
        if kind == "verdict":
            data = {"decision": str(msg.get("decision", "")), "commit": str(msg.get("commit", ""))}
            return [Signal(SignalKind.VERDICT, text=str(msg.get("summary", "")), data=data)]
        if kind in ("idle", "error"):
            return [Signal(SignalKind(kind), text=str(msg.get("message") or ""), data=msg)]
        if kind == "step":
            return [Signal(SignalKind.ACTIVITY, text=_describe(msg), data=msg)]
        return []


def _describe(msg: dict[str, object]) -> str:
    action = msg.get("action")
    if action == "run":
        argv = msg.get("argv")
        words = " ".join(str(a) for a in argv) if isinstance(argv, list) else ""
        return f"ran `{words}` -> exit {msg.get('exit')}"
    if action in ("write", "append", "delete"):
        return f"{action} {msg.get('path')}"
    if action == "message":
        return f"got a {msg.get('kind')} message"
    return f"{action}: {msg.get('text') or msg.get('skipped') or msg.get('reply') or ''}".rstrip(": ")
