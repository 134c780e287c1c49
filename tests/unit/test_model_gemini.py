"""The scripted model's Gemini API: what it reads from a request and the chunk it answers."""

from __future__ import annotations

from czar.model.answers import Call, Say, czar_tool
from czar.model.server import FILLER, _gemini_request, gemini_chunk

BODY = {
    "contents": [
        {
            "role": "user",
            "parts": [
                {"text": "<session_context>\n- **Workspace Directories:**\n  - /w/t1\n</session_context>"},
                {"text": "Task id: t1\n\n```czar-model\nend Done.\n```"},
            ],
        },
        {"role": "model", "parts": [{"functionCall": {"name": "mcp_czar_report", "args": {"text": "go"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "mcp_czar_report", "response": {"output": "ok"}}}]},
        {"role": "model", "parts": [{"functionCall": {"name": "run_shell_command", "args": {"command": FILLER}}}]},
    ],
    "tools": [
        {"functionDeclarations": [{"name": "write_file"}, {"name": "run_shell_command"}, {"name": "mcp_czar_done"}]}
    ],
}


def test_a_request_says_what_was_answered_and_what_is_offered() -> None:
    req = _gemini_request(BODY)
    assert req.api == "gemini"
    assert req.answered == 1 and req.fillers == 1  # a filler call does not count as an answer
    assert req.offered == ["write_file", "run_shell_command", "mcp_czar_done"]
    assert req.cwd == "/w/t1"
    assert any("Task id: t1" in t for t in req.texts)


def test_czars_tools_are_found_under_geminis_names() -> None:
    assert czar_tool(["mcp_czar_report", "mcp_czar_done"], "done") == "mcp_czar_done"
    assert czar_tool(["mcp_other_done"], "done") is None


def test_an_answer_is_one_candidate_with_its_usage() -> None:
    chunk = gemini_chunk(Call("write_file", {"file_path": "a.py", "content": "x"}), 100)
    part = chunk["candidates"][0]["content"]["parts"][0]
    assert part == {"functionCall": {"name": "write_file", "args": {"file_path": "a.py", "content": "x"}}}
    assert chunk["usageMetadata"]["promptTokenCount"] == 100 and chunk["usageMetadata"]["candidatesTokenCount"] > 0
    said = gemini_chunk(Say("Done."), 10)["candidates"][0]
    assert said["content"]["parts"] == [{"text": "Done."}] and said["finishReason"] == "STOP"
