"""The scripted model server: speaks the Anthropic Messages API and the OpenAI Responses API,
streaming, and answers each request with the next turn of the ``czar-model`` script found in the
conversation. For tests, and for rehearsing a plan with real agent CLIs without spending tokens.

Every request is logged (one JSON line: the API, the task, the turn played, the tools offered,
and the last thing the agent said) so that tests can check what each agent sent.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from czar.model.answers import Answer, Call, Fail, Say, answer, as_text
from czar.model.script import ModelScriptError, Turn, commit_of, extract, parse, task_id

# A call the model makes while it waits for tools the agent has not loaded yet (an MCP server
# still starting): it does not count as one of the script's answers.
FILLER = "czar-model: waiting for the agent's tools"
FILLERS = 20  # the most filler calls for one turn before the model gives up on a tool
CWD = re.compile(r"(?:Primary working directory|Working directory): (\S+)")
MODEL = "claude-sonnet-4-5"


@dataclass(frozen=True)
class Request:
    api: str  # "anthropic", "openai" (Responses), "chat" (Chat Completions) or "gemini"
    texts: list[str]  # every user text of the conversation, oldest first
    answered: int  # answers of the model already in the conversation
    offered: list[str]  # tool names
    cwd: str | None
    size: int  # of the request body, for the usage it reports
    namespaces: dict[str, tuple[str, str]] = field(default_factory=dict)  # flat name -> (namespace, name)
    fillers: int = 0  # filler calls already in the conversation
    side: str | None = None  # the answer to a side request of the agent's own (a commit message)
    retrying: int = 0  # tries of the next answer's call the agent could not make
    on_text: bool = False  # an agent that offers no tools and acts on the text (Aider): answered as text


# A tool call the agent could not make (its permission check or czar's tools unreachable: a
# sandbox's network or czar's tools server killed; refused, as made by a process of the agent's
# that czar had replaced, then resumed), as each agent words it: the error of a call of
# czar's tools, or of Claude Code's own (``<tool_use_error>``), never a command's output. A model
# tries such a call again rather than go on past it; the script does, ``RETRIES`` times at most.
UNREACHED = re.compile(
    r"Unable to connect|ECONNREFUSED|ECONNRESET|fetch failed|Transport channel closed|Not connected"
    r"|[Cc]onnection (?:refused|reset|closed)|socket connection was closed|socket hang up|other side closed"
    r"|error sending request"
    r"|agent process of worker \S+ was replaced"  # (czar's: the call came from a process since replaced)
)
RETRIES = 2
RETRY_WAIT = 1.0  # seconds before each try again: a model's turn takes that long, a server starts again


def _counted(failed: Sequence[bool]) -> tuple[int, int]:
    """Of the model's answers in a conversation (each: a call the agent could not make, or not),
    how many count as turns of the script (one that could not be made is asked again), and how
    many tries of the next one failed so."""
    count = streak = 0
    for unreached in failed:
        if unreached and streak < RETRIES:
            streak += 1
            continue
        count, streak = count + 1, 0
    return count, streak


def _unreached(tool: str, said: str, own: str | None = None) -> bool:
    """The error ``said`` of a call of ``tool`` says the agent could not make it (``own``: how
    the agent marks an error of its own making, whatever the tool)."""
    return ("czar" in tool or (own is not None and own in said)) and bool(UNREACHED.search(said))


def _said(content: object) -> str:
    """The text of a tool's result (a string, or a list of parts)."""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


# What Claude Code writes into its session as the model's when the model said nothing: its note of
# a request that failed, and its answer to its own "Continue from where you left off." when it
# resumes a session cut short in the middle of a turn. Sent back on resume; no answer of the model.
CLAUDES_OWN = re.compile(r"API Error\b|No response requested\.$")


def _claudes_own(content: object) -> bool:
    """An assistant message of Claude Code's own making (``CLAUDES_OWN``), not the model's."""
    if isinstance(content, str):
        return bool(CLAUDES_OWN.match(content))
    parts = content if isinstance(content, list) else []
    texts = [p.get("text", "") for p in parts if isinstance(p, dict) and p.get("type") == "text"]
    return bool(texts) and len(texts) == len(parts) and all(CLAUDES_OWN.match(t) for t in texts)


def _anthropic_request(body: dict[str, Any]) -> Request:
    texts: list[str] = []
    fillers = after_script = 0
    messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
    names = {
        c.get("id"): str(c.get("name", ""))
        for m in messages
        if m.get("role") == "assistant" and isinstance(m.get("content"), list)
        for c in m["content"]
        if isinstance(c, dict) and c.get("type") == "tool_use"
    }
    unreached = {
        c.get("tool_use_id")
        for m in messages
        if m.get("role") == "user" and isinstance(m.get("content"), list)
        for c in m["content"]
        if isinstance(c, dict) and c.get("type") == "tool_result" and c.get("is_error")
        if _unreached(names.get(c.get("tool_use_id"), ""), _said(c.get("content")), own="<tool_use_error>")
    }
    answers: list[bool] = []  # each answer of the model's: a call the agent could not make?
    for m in messages:
        if m.get("role") == "assistant":
            content = m.get("content")
            if FILLER in json.dumps(content):
                fillers += 1
            elif _claudes_own(content):
                continue  # in a resumed session: not one of the script's answers
            else:
                calls = [c.get("id") for c in content or [] if isinstance(c, dict) and c.get("type") == "tool_use"]
                answers.append(bool(calls) and all(c in unreached for c in calls))
                after_script += any("```czar-model" in t for t in texts)
        elif m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts += [c.get("text", "") for c in content if isinstance(c, dict) and c.get("type") == "text"]
    answered, retrying = _counted(answers)
    system = json.dumps(body.get("system", ""))
    cwd = CWD.search(system.replace("\\n", "\n"))
    offered = [t.get("name", "") for t in body.get("tools", [])]
    if not offered and "commit message" in system.lower():  # an agent asking for one (Aider): not the script's
        return Request("anthropic", [], 0, [], None, len(json.dumps(body)), side="the work of the scripted model")
    if not offered and "SEARCH/REPLACE" in system:
        # Aider on Anthropic's API (it asked for edits as SEARCH/REPLACE blocks, and offers no tools):
        # as on Chat Completions, the answers before the script are examples in its prompt.
        return Request("anthropic", texts, after_script, [], None, len(json.dumps(body)), on_text=True)
    where = cwd.group(1) if cwd else None
    size = len(json.dumps(body))
    return Request("anthropic", texts, answered, offered, where, size, fillers=fillers, retrying=retrying)


def _openai_request(body: dict[str, Any]) -> Request:
    texts: list[str] = []
    fillers = 0
    items = body.get("input", [])
    listed = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    # A call with no output was never run: its agent was killed first, and resumes its session
    # with it; as a model would, the script asks for it again rather than go on past it.
    outputs = [i for i in listed if str(i.get("type", "")).endswith("_output")]
    ran = {i.get("call_id") for i in outputs}
    called = {
        i.get("call_id"): f"{i.get('namespace') or ''}{i.get('name', '')}"
        for i in listed
        if i.get("type") == "function_call"
    }
    unreached = {
        i.get("call_id") for i in outputs if _unreached(called.get(i.get("call_id"), ""), _said(i.get("output")))
    }
    answers: list[bool] = []
    for item in listed:
        kind, role = item.get("type"), item.get("role")
        if kind == "function_call" and FILLER in str(item.get("arguments")):
            fillers += 1
        elif kind == "function_call" and item.get("call_id") not in ran and item is not listed[-1]:
            continue
        elif kind == "function_call" or (kind == "message" and role == "assistant"):
            answers.append(kind == "function_call" and item.get("call_id") in unreached)
        elif kind == "message" and role == "user":
            texts += [c.get("text", "") for c in item.get("content", []) if isinstance(c, dict)]
    answered, retrying = _counted(answers)
    if isinstance(items, str):
        texts.append(items)
    cwd = re.search(r"<cwd>([^<]+)</cwd>", "\n".join(texts))
    # Codex offers an MCP server's tools inside one "namespace" tool; a call names both.
    offered: list[str] = []
    namespaces: dict[str, tuple[str, str]] = {}
    for tool in body.get("tools", []):
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == "namespace":
            space = str(tool.get("name", ""))
            for inner in tool.get("tools", []):
                flat = f"{space.rstrip('_')}__{inner.get('name', '')}"
                namespaces[flat] = (space, str(inner.get("name", "")))
                offered.append(flat)
        else:
            offered.append(str(tool.get("name", "")))
    cwd_text = cwd.group(1) if cwd else None
    size = len(json.dumps(body))
    return Request("openai", texts, answered, offered, cwd_text, size, namespaces, fillers, retrying=retrying)


def _chat_request(body: dict[str, Any]) -> Request:
    texts: list[str] = []
    answered = 0
    seen_script = False  # answers before the script are examples in the agent's prompt (Aider's)
    for m in body.get("messages", []):
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        text = (
            content
            if isinstance(content, str)
            else " ".join(str(c.get("text", "")) for c in content or [] if isinstance(c, dict))
        )
        if m.get("role") == "assistant":
            answered += seen_script
        elif m.get("role") == "user":
            texts.append(text)
            seen_script = seen_script or "```czar-model" in text
    offered = [str(t.get("function", {}).get("name", "")) for t in body.get("tools", []) if isinstance(t, dict)]
    system = " ".join(str(m.get("content")) for m in body.get("messages", []) if m.get("role") == "system")
    if "commit message" in system.lower():  # an agent asking for a commit message (Aider): not the script's
        return Request("chat", [], 0, offered, None, len(json.dumps(body)), side="the work of the scripted model")
    return Request("chat", texts, answered, offered, None, len(json.dumps(body)), on_text=not offered)


def _gemini_request(body: dict[str, Any]) -> Request:
    texts: list[str] = []
    fillers = 0
    answers: list[bool] = []
    last_answer = False  # the model content just before was one of the script's answers
    for content in body.get("contents", []):
        if not isinstance(content, dict):
            continue
        parts = [p for p in content.get("parts", []) if isinstance(p, dict)]
        if content.get("role") == "model":
            filler = FILLER in json.dumps(parts)
            answer = not filler and any("functionCall" in p or p.get("text") for p in parts)
            fillers += filler
            if answer:
                answers.append(False)
            last_answer = answer
        else:
            texts += [str(p["text"]) for p in parts if "text" in p]
            # The results of the model's last calls: each names no call, but follows it.
            results = [p["functionResponse"] for p in parts if isinstance(p.get("functionResponse"), dict)]
            errors = [(str(r.get("name", "")), str((r.get("response") or {}).get("error", ""))) for r in results]
            if last_answer and results and all(_unreached(name, error) for name, error in errors):
                answers[-1] = True
            last_answer = False
    answered, retrying = _counted(answers)
    offered = [
        str(d.get("name", ""))
        for tool in body.get("tools", [])
        if isinstance(tool, dict)
        for d in tool.get("functionDeclarations", [])
        if isinstance(d, dict)
    ]
    cwd = re.search(r"Workspace Directories:\**\n\s*- (\S+)", "\n".join(texts))
    where, size = (cwd.group(1) if cwd else None), len(json.dumps(body))
    return Request("gemini", texts, answered, offered, where, size, fillers=fillers, retrying=retrying)


def plan_turns(req: Request) -> tuple[list[tuple[float, Turn]], str | None, str | None]:
    """The script's answers (each with the wait before it), the task id, and any problem."""
    for text in req.texts:
        source = extract(text)
        if source is not None:
            try:
                turns = parse(source)
            except ModelScriptError as exc:
                return [], task_id(text), f"script: {exc}"
            out, wait = [], 0.0
            for t in turns:
                if t.verb == "wait":
                    wait += float(t.text)
                else:
                    out.append((wait, t))
                    wait = 0.0
            return out, task_id(text), None
    return [], None, "no czar-model block in the conversation"


class ScriptedModel:
    """The model: decides the answer to one request, and keeps the log."""

    def __init__(self, log: Path | None = None) -> None:
        self.log = log
        self._lock = threading.Lock()

    def decide(self, req: Request) -> tuple[float, Answer, dict[str, Any]]:
        turns, task, problem = plan_turns(req)
        commit = next((c for c in map(commit_of, req.texts) if c), None)
        if req.side is not None:
            reply: Answer = Say(req.side)
            wait, turn_no = 0.0, None
        elif problem is not None:
            reply = Say(f"[scripted model] {problem}")
            wait, turn_no = 0.0, None
        elif req.on_text:
            # An agent with no tools acts on the text: the rest of the script in one answer (and
            # once it was given, whatever it asks again is answered with a close).
            wait, turn_no = (turns[0][0], 0) if turns and not req.answered else (0.0, None)
            reply = Say(as_text([t for _, t in turns], task) if turn_no == 0 else "Done.")
        elif req.answered < len(turns):
            wait, turn = turns[req.answered]
            wait += RETRY_WAIT * req.retrying  # (its call could not be made: a moment, then again)
            reply = answer(turn, req.offered, cwd=req.cwd, task=task, commit=commit)
            turn_no = req.answered
            if isinstance(reply, Say) and reply.text.startswith("[scripted model]") and req.fillers < FILLERS:
                # A tool that is not offered yet may come once the agent's MCP servers are up:
                # pass a moment in its shell, and look again at the next request.
                filler = answer(
                    Turn("run", f"python3 -c 'import time; time.sleep(0.5)' # {FILLER}"),
                    req.offered,
                    cwd=req.cwd,
                    task=task,
                )
                if isinstance(filler, Call):
                    reply = filler
        else:
            wait, turn_no, reply = 0.0, None, Say("Nothing more to do.")
        entry = {
            "time": time.time(),
            "api": req.api,
            "task": task,
            "turn": turn_no,
            "answered": req.answered,
            "answer": _logged(reply),
            "tools": req.offered,
            "last_user_text": req.texts[-1][-2000:] if req.texts else "",
        }
        self._log(entry)
        return wait, reply, entry

    def _log(self, entry: dict[str, Any]) -> None:
        if self.log is None:
            return
        try:
            with self._lock, open(self.log, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")
        except OSError as exc:  # a full disk, say: the requests are still answered, the log stops
            print(f"czar model-server: no more log in {self.log}: {exc.strerror or exc}", file=sys.stderr)
            self.log = None


def _logged(reply: Answer) -> dict[str, Any]:
    if isinstance(reply, Call):
        return {"tool": reply.name, "input": reply.input}
    if isinstance(reply, Fail):
        return {"status": reply.status, "text": reply.message}
    return {"text": reply.text}


class _Refused(Exception):
    """The request was answered with an HTTP error (a ``fail`` of the script)."""


# The error types each API names its refusals with.
_ANTHROPIC_ERRORS = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    529: "overloaded_error",
}
_GEMINI_STATUS = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 503: "UNAVAILABLE"}


def error_body(api: str, fail: Fail) -> dict[str, Any]:
    """An HTTP error's body, as the API ``api`` words it."""
    if api == "anthropic":
        kind = _ANTHROPIC_ERRORS.get(fail.status, "api_error" if fail.status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": fail.message}}
    if api == "gemini":
        status = _GEMINI_STATUS.get(fail.status, "INTERNAL" if fail.status >= 500 else "INVALID_ARGUMENT")
        return {"error": {"code": fail.status, "message": fail.message, "status": status}}
    kind = "server_error" if fail.status >= 500 else "invalid_request_error"
    kind = "invalid_api_key" if fail.status == 401 else kind
    return {"error": {"message": fail.message, "type": kind, "param": None, "code": kind}}


def anthropic_events(reply: Call | Say, input_tokens: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """The server-sent events of one Messages API answer."""
    msg_id = f"msg_{uuid.uuid4().hex[:20]}"
    output_tokens = max(1, len(json.dumps(reply.__dict__)) // 4)
    start: dict[str, Any] = {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1},
    }
    yield "message_start", {"type": "message_start", "message": start}
    if isinstance(reply, Call):
        block = {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}", "name": reply.name, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(reply.input)}
        stop = "tool_use"
    else:
        block, delta, stop = {"type": "text", "text": ""}, {"type": "text_delta", "text": reply.text}, "end_turn"
    yield "content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}
    yield "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    usage = {"output_tokens": output_tokens}
    yield (
        "message_delta",
        {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": usage},
    )
    yield "message_stop", {"type": "message_stop"}


def anthropic_message(reply: Call | Say, input_tokens: int) -> dict[str, Any]:
    """One Messages API answer whole, for a request that asks for no stream (Aider's, through
    litellm, for a commit message: an event stream there failed, and was asked again and again)."""
    events = dict(anthropic_events(reply, input_tokens))
    message: dict[str, Any] = events["message_start"]["message"]
    block = dict(events["content_block_start"]["content_block"])
    if isinstance(reply, Call):
        block["input"] = reply.input
    else:
        block["text"] = reply.text
    message.update(
        content=[block],
        stop_reason=events["message_delta"]["delta"]["stop_reason"],
        usage={"input_tokens": input_tokens, **events["message_delta"]["usage"]},
    )
    return message


def openai_events(
    reply: Call | Say, input_tokens: int, namespaces: dict[str, tuple[str, str]] | None = None
) -> Iterator[dict[str, Any]]:
    """The server-sent events of one Responses API answer."""
    resp_id = f"resp_{uuid.uuid4().hex[:20]}"
    base: dict[str, Any] = {
        "id": resp_id,
        "object": "response",
        "model": "gpt-5",
        "status": "in_progress",
        "output": [],
    }
    yield {"type": "response.created", "response": base}
    item_id = f"item_{uuid.uuid4().hex[:16]}"
    if isinstance(reply, Call):
        args = json.dumps(reply.input)
        item: dict[str, Any] = {
            "type": "function_call",
            "id": item_id,
            "call_id": f"call_{uuid.uuid4().hex[:16]}",
            "name": reply.name,
            "arguments": args,
            "status": "completed",
        }
        if namespaces and reply.name in namespaces:
            item["namespace"], item["name"] = namespaces[reply.name]
        yield {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, "arguments": "", "status": "in_progress"},
        }
        yield {"type": "response.function_call_arguments.delta", "output_index": 0, "item_id": item_id, "delta": args}
        yield {
            "type": "response.function_call_arguments.done",
            "output_index": 0,
            "item_id": item_id,
            "arguments": args,
        }
    else:
        content = [{"type": "output_text", "text": reply.text, "annotations": []}]
        item = {"type": "message", "id": item_id, "role": "assistant", "status": "completed", "content": content}
        yield {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, "content": [], "status": "in_progress"},
        }
        yield {
            "type": "response.output_text.delta",
            "output_index": 0,
            "item_id": item_id,
            "content_index": 0,
            "delta": reply.text,
        }
    yield {"type": "response.output_item.done", "output_index": 0, "item": item}
    output_tokens = max(1, len(json.dumps(item)) // 4)
    usage = {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }
    yield {"type": "response.completed", "response": {**base, "status": "completed", "output": [item], "usage": usage}}


def chat_chunks(text: str, usage: dict[str, int]) -> Iterator[str]:
    """A Chat Completions answer, streamed: the text, then the end with the usage."""
    base = {"id": "chatcmpl-czar", "object": "chat.completion.chunk", "model": "gpt-5"}
    first = {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}}]}
    last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
    yield f"data: {json.dumps(first)}\n\n"
    yield f"data: {json.dumps(last)}\n\n"
    yield "data: [DONE]\n\n"


def gemini_chunk(reply: Call | Say, input_tokens: int) -> dict[str, Any]:
    """The one server-sent chunk of a ``streamGenerateContent`` answer."""
    part: dict[str, Any] = (
        {"functionCall": {"name": reply.name, "args": reply.input}} if isinstance(reply, Call) else {"text": reply.text}
    )
    output_tokens = max(1, len(json.dumps(part)) // 4)
    return {
        "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {
            "promptTokenCount": input_tokens,
            "candidatesTokenCount": output_tokens,
            "totalTokenCount": input_tokens + output_tokens,
        },
        "modelVersion": "gemini-2.5-pro",
    }


class _Handler(http.server.BaseHTTPRequestHandler):
    model: ScriptedModel
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        with contextlib.suppress(_Refused):
            self._post()

    def _post(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(size) or b"{}")
        except json.JSONDecodeError:
            self._json(400, {"error": {"type": "invalid_request_error", "message": "the body is not JSON"}})
            return
        path = self.path.split("?", 1)[0]
        if path.endswith("/messages/count_tokens"):
            self._json(200, {"input_tokens": len(json.dumps(body)) // 4})
        elif path.endswith("/messages"):
            req = _anthropic_request(body)
            reply = self._answer(req)
            if not body.get("stream"):
                self._json(200, anthropic_message(reply, req.size // 4))
                return
            self._stream(
                (
                    f"event: {name}\ndata: {json.dumps(data)}\n\n"
                    for name, data in anthropic_events(reply, req.size // 4)
                )
            )
        elif path.endswith("/responses"):
            req = _openai_request(body)
            reply = self._answer(req)
            self._stream(
                f"event: {d['type']}\ndata: {json.dumps(d)}\n\n"
                for d in openai_events(reply, req.size // 4, req.namespaces)
            )
        elif path.endswith(":streamGenerateContent"):
            req = _gemini_request(body)
            reply = self._answer(req)
            self._stream(iter([f"data: {json.dumps(gemini_chunk(reply, req.size // 4))}\n\n"]))
        elif path.endswith("/chat/completions"):
            req = _chat_request(body)
            reply = self._answer(req)
            text = reply.text if isinstance(reply, Say) else json.dumps(reply.input)
            usage = {"prompt_tokens": req.size // 4, "completion_tokens": max(1, len(text) // 4)}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            if body.get("stream"):
                self._stream(chat_chunks(text, usage))
            else:
                message = {"role": "assistant", "content": text}
                choice = {"index": 0, "message": message, "finish_reason": "stop"}
                self._json(
                    200,
                    {
                        "id": "chatcmpl-czar",
                        "object": "chat.completion",
                        "model": "gpt-5",
                        "choices": [choice],
                        "usage": usage,
                    },
                )
        elif path.endswith(":countTokens"):
            self._json(200, {"totalTokens": len(json.dumps(body)) // 4})
        else:
            # Side calls an agent makes to choose a model or the next speaker: not the script's.
            self._json(404, {"error": {"type": "not_found_error", "message": f"no {path} here"}})

    def _answer(self, req: Request) -> Call | Say:
        """The model's answer to ``req``, once its script's wait before it has passed; a ``fail``
        of the script answers with its HTTP error instead (and raises ``_Refused``)."""
        wait, reply, _ = self.model.decide(req)
        time.sleep(wait)
        if isinstance(reply, Fail):
            self._json(reply.status, error_body(req.api, reply))
            raise _Refused
        return reply

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0].endswith("/models"):
            self._json(200, {"data": [{"id": MODEL, "type": "model"}, {"id": "gpt-5", "object": "model"}]})
        else:
            self._json(404, {"error": {"type": "not_found_error", "message": f"no {self.path} here"}})

    def _json(self, status: int, data: dict[str, Any]) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _stream(self, chunks: Iterator[str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(chunk.encode())
            self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the scripted model keeps its own log


def serve(port: int = 0, log: Path | None = None, host: str = "127.0.0.1") -> http.server.ThreadingHTTPServer:
    """A running server (on a thread); ``server.server_address[1]`` is its port."""
    handler = type("Handler", (_Handler,), {"model": ScriptedModel(log)})
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="scripted-model", daemon=True).start()
    return server
