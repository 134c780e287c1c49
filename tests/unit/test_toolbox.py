"""czar's agent tools are declared once (``czar.core.toolbox``): the MCP server, the ``czar``
commands, the relay, the allowed-tool lists and the prompt all follow that declaration."""

from __future__ import annotations

import anyio
import typer
from typer.main import get_command

from czar.agent_tools import relay
from czar.agent_tools.mcp_tools import _server
from czar.agents.claude import ALLOWED
from czar.core.prompt import PromptInput, ReviewInput, render, render_review
from czar.core.toolbox import NAMES, TOOLS
from czar.interfaces.cli import agent
from czar.model.answers import CZAR_TOOLS

# What a surface adds of its own: Claude Code's permission prompt tool (MCP), the czar calls
# behind a hook (relay), and how a command prints (--json).
MCP_ONLY = {"permission"}
RELAY_ONLY = {"on_hook", "decide_permission"}
PRINTING = {"as_json"}
# `czar report` with no text is a person's: the run's report, from a plan, into a folder (so its
# text, which an agent must give, is optional on the command line; the tool still requires it).
PERSON_ONLY = {"report": ({"plan", "out"}, " With no text, for a person: write the run's report.", {"text"})}


def test_the_mcp_server_offers_each_tool_with_its_description_and_arguments() -> None:
    offered = {t.name: t for t in anyio.run(_server(None).list_tools)}  # type: ignore[arg-type]
    assert set(offered) == set(NAMES) | MCP_ONLY
    for tool in TOOLS:
        schema = offered[tool.name].input_schema
        assert offered[tool.name].description == tool.summary
        assert list(schema.get("properties", {})) == [a.name for a in tool.args], tool.name
        assert set(schema.get("required", [])) == {a.name for a in tool.args if a.required}, tool.name


def test_each_command_takes_the_tools_arguments_with_their_help() -> None:
    app = typer.Typer()
    agent.register(app)
    commands = get_command(app).commands  # type: ignore[attr-defined]
    for tool in TOOLS:
        command = commands[tool.name]
        extra, said, optional = PERSON_ONLY.get(tool.name, (set(), "", set()))
        assert command.help == tool.summary + said
        params = {p.name: p for p in command.params if p.name not in PRINTING | extra}
        assert list(params) == [a.name for a in tool.args], tool.name
        for arg in tool.args:
            param = params[arg.name]
            assert param.help == arg.help  # type: ignore[attr-defined]
            assert param.required == (arg.required and arg.name not in optional), arg.name
            assert (param.opts == [f"--{arg.name}"]) == arg.option, arg.name


def test_the_relay_carries_every_tool_and_the_lists_name_them_all() -> None:
    assert set(relay.CALLS) == set(NAMES) | RELAY_ONLY
    assert {f"mcp__czar__{name}" for name in NAMES} <= set(ALLOWED)
    assert set(CZAR_TOOLS) == set(NAMES)


def test_the_prompt_tells_of_each_tool_it_hints_at_in_the_agents_own_way() -> None:
    base = PromptInput("p", "w1", "t1", "T", "body", "czar/t1", "czar/integration", (), (), (), [])
    for tools, mentions in (("mcp", "`{name}`"), ("cli", "czar {name}")):
        text = render(PromptInput(**{**base.__dict__, "tools": tools}))
        for tool in TOOLS:
            if tool.hints and tool.role == "author":
                assert mentions.format(name=tool.name) in text, (tools, tool.name)
            elif tool.role == "reviewer":
                assert mentions.format(name=tool.name) not in text, (tools, tool.name)
        assert "t1" in text.split("## Working with czar")[1]


def test_a_reviewer_is_told_of_its_own_tools_only_and_of_the_commit_it_reads() -> None:
    commit = "a" * 40
    for tools, mentions in (("mcp", "`{name}`"), ("cli", "czar {name}")):
        given = ReviewInput("p", "r1", "t1", "T", "do t1", commit, "b" * 40, ["x.py (+1 -0)"], "did it", 1, tools=tools)
        text = render_review(given)
        for tool in TOOLS:
            told = mentions.format(name=tool.name) in text.split("## Your review")[1]
            assert told == (tool.role == "reviewer" and bool(tool.hints)), (tools, tool.name)
        assert f"Commit: {commit}" in text and "untrusted" in text and "do t1" in text
