"""The worker host's commands and their codec."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from czar.core.host_commands import (
    Answer,
    HostCommand,
    MessageKind,
    Restart,
    StartTask,
    StopAgent,
    Tell,
    Unreadable,
    decode,
    encode,
)

text = st.text(max_size=40)
commands = st.one_of(
    st.builds(StartTask, st.integers(), text, text, text, text, st.integers(0, 9)),
    st.builds(Tell, st.integers(), st.sampled_from(MessageKind), text, st.lists(st.tuples(text, text)).map(tuple)),
    st.builds(Answer, st.integers(), st.booleans(), text),
    st.builds(Restart, st.integers(), text, st.none() | text, st.none() | text),
    st.builds(StopAgent, st.integers()),
)


@given(commands)
def test_a_command_comes_back_as_it_went_through_the_inbox(command: HostCommand) -> None:
    kind, fields = encode(command)
    assert decode(kind, json.loads(json.dumps(fields))) == command


def test_the_rows_kinds_are_those_older_hosts_read() -> None:
    """The inbox's rows keep their shape: a store from before the commands were typed still runs."""
    assert encode(Tell(3, MessageKind.STAND_OFF, "wait")) == (
        "message",
        {"attempt": 3, "kind": "stand-off", "text": "wait", "show": ()},
    )
    assert decode("message", {"attempt": 3, "kind": "stand-off", "text": "wait"}) == Tell(
        3, MessageKind.STAND_OFF, "wait"
    )
    assert decode("restart", {"attempt": 2, "reason": "silent", "text": "an old field"}) == Restart(2, "silent")
    assert decode("stop", {"attempt": 1}) == StopAgent(1)


def test_what_is_no_command_is_unreadable() -> None:
    assert decode("launch", {"attempt": 1}) == Unreadable("launch", "no such command")
    assert decode("stop", {"attempt": "1"}) == Unreadable("stop", "its attempt is not a number")
    assert isinstance(decode("answer", {"attempt": 1}), Unreadable)  # allow and reason missing
    assert isinstance(decode("message", {"attempt": 1, "kind": "gossip", "text": "hi"}), Unreadable)
    assert isinstance(decode("message", {"attempt": 1, "kind": "merged", "text": "hi", "show": [["a"]]}), Unreadable)
