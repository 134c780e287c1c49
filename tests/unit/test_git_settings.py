"""Settings czar's git and the agents' git take over the person's configuration files: their
commits are not signed with the person's key."""

from __future__ import annotations

from czar.vcs.git import UNSIGNED, overriding


def test_git_settings_that_win_come_after_those_the_environment_carries() -> None:
    env = overriding({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.x", "GIT_CONFIG_VALUE_0": "y"}, UNSIGNED)
    assert env["GIT_CONFIG_COUNT"] == "3" and env["GIT_CONFIG_KEY_0"] == "core.x"
    assert (env["GIT_CONFIG_KEY_1"], env["GIT_CONFIG_VALUE_1"]) == ("commit.gpgsign", "false")
    assert overriding({"GIT_CONFIG_COUNT": "nonsense"}, {"a.b": "c"})["GIT_CONFIG_COUNT"] == "1"
