"""The scripted model's Chat Completions API, and its Messages API, for an agent that offers no
tools and acts on the text (Aider): what it reads from a request, and the script rendered as one
answer."""

from __future__ import annotations

import json

from czar.core.pricing import cost_usd
from czar.model.answers import Say, as_text
from czar.model.script import parse
from czar.model.server import _anthropic_request, _chat_request, anthropic_message, chat_chunks

SCRIPT = (
    "report writing a.py\nwrite a.py <<END\nx = 1\nEND\nrun python3 a.py\n"
    "checkpoint 1 a written\ndone a is in\nend Done."
)


def test_example_answers_before_the_script_are_not_counted() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Act as an expert software developer."},
            {"role": "user", "content": "Change get_factorial() to use math.factorial"},  # an example
            {"role": "assistant", "content": "mathweb/flask/app.py ..."},
            {"role": "user", "content": f"Task id: t1\n\n```czar-model\n{SCRIPT}\n```"},
        ]
    }
    req = _chat_request(body)
    assert req.api == "chat" and req.answered == 0 and req.offered == []
    body["messages"].append({"role": "assistant", "content": "..."})
    assert _chat_request(body).answered == 1


def test_a_request_for_a_commit_message_is_not_the_scripts() -> None:
    body = {
        "messages": [
            {
                "role": "system",
                "content": "You are an expert software engineer that generates concise Git commit messages",
            },
            {"role": "user", "content": f"Task id: t1\n```czar-model\n{SCRIPT}\n```\ndiff --git a/a.py b/a.py"},
        ]
    }
    req = _chat_request(body)
    assert req.texts == [] and req.side


def test_aider_on_anthropics_api_is_read_as_on_chat_completions() -> None:
    # Aider takes Anthropic's model when ANTHROPIC_API_KEY is set; its system prompt asks for edits
    # as SEARCH/REPLACE blocks, and it offers no tools.
    system = [{"type": "text", "text": "Act as an expert software developer. Use SEARCH/REPLACE blocks."}]
    messages = [
        {"role": "user", "content": "Change get_factorial() to use math.factorial"},  # an example
        {"role": "assistant", "content": "mathweb/flask/app.py ..."},
        {"role": "user", "content": f"Task id: t1\n\n```czar-model\n{SCRIPT}\n```"},
    ]
    req = _anthropic_request({"system": system, "messages": messages})
    assert req.on_text and req.answered == 0 and req.offered == []
    commit = [{"type": "text", "text": "You generate concise Git commit messages."}]
    assert _anthropic_request({"system": commit, "messages": messages}).side
    # Claude Code offers tools: read as before, every answer counted.
    claude = _anthropic_request({"system": system, "messages": messages, "tools": [{"name": "Bash"}]})
    assert not claude.on_text and claude.answered == 1
    # Asked with no stream (litellm's commit message), the answer comes whole.
    whole = anthropic_message(Say("hello"), 10)
    assert whole["content"] == [{"type": "text", "text": "hello"}] and whole["stop_reason"] == "end_turn"
    assert whole["usage"]["input_tokens"] == 10 and whole["type"] == "message"


def test_the_rest_of_a_script_is_one_text_of_edits_and_commands() -> None:
    text = as_text(parse(SCRIPT), "t1")
    assert "```bash\nczar report --task t1 'writing a.py'\n```" in text
    assert "a.py\n```\n<<<<<<< SEARCH\n=======\nx = 1\n>>>>>>> REPLACE\n```" in text  # a new file
    assert "```bash\npython3 a.py\n```" in text
    assert "czar report --checkpoint 1 'a written'" in text
    assert "```bash\nczar done 'a is in'\n```" in text
    assert text.endswith("Done.")
    assert text.index("czar report --task") < text.index("czar done")


def test_a_streamed_answer_ends_with_its_usage() -> None:
    chunks = list(chat_chunks("hello", {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}))
    assert chunks[-1] == "data: [DONE]\n\n"
    first, last = (json.loads(c.removeprefix("data: ")) for c in chunks[:2])
    assert first["choices"][0]["delta"]["content"] == "hello"
    assert last["choices"][0]["finish_reason"] == "stop" and last["usage"]["completion_tokens"] == 2


def test_a_providers_prefix_names_the_same_model() -> None:
    assert cost_usd("openai/gpt-5", 1_000_000, 0) == cost_usd("gpt-5", 1_000_000, 0) > 0
