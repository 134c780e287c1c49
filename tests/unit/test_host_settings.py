"""A worker host's settings travel as a JSON file: everything the plan says of the worker comes
back as it was, and a file that is not theirs is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from czar.agents.base import AgentSettings
from czar.agents.host_settings import HostSettings, SandboxSettings
from czar.errors import CzarError


def test_the_settings_come_back_whole() -> None:
    settings = HostSettings(
        "proj",
        "w3",
        "codex",
        AgentSettings(
            command="/opt/codex",
            base_url="http://127.0.0.1:9",
            model="gpt-x",
            home="private",
            args=("--fast",),
            env={"FOO": "1"},
            prices={"input": 1.5, "output": 6.0},
            interactive=True,
        ),
        Path("/src/repo"),
        SandboxSettings(
            enabled=True, writable=("/cache",), network="host", allow_hosts=("pypi.org", "*.npmjs.org"), ports=(5432,)
        ),
    )
    assert HostSettings.loads(settings.dumps()) == settings
    bare = HostSettings("proj", "w1", "sim")
    assert HostSettings.loads(bare.dumps()) == bare and not bare.sandbox.enabled


@pytest.mark.parametrize("text", ["", "[]", '{"project": "p"}', '{"project": "p", "worker": "w", "kind": "k"}'])
def test_what_is_not_a_hosts_settings_is_one_clear_error(text: str) -> None:
    with pytest.raises(CzarError, match="settings cannot be read"):
        HostSettings.loads(text)
