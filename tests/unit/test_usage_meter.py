"""The usage meter: what each report of an agent's usage adds to its attempt, each API message
counted once, whatever order and repetition the reports come in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from czar.core.usage import KEYS, Meter, Usage, reported

amounts = st.integers(0, 10_000).map(float)


def usage(tokens: float, cost: float = 0.0) -> Usage:
    return {**dict.fromkeys(KEYS, 0.0), "input_tokens": tokens, "output_tokens": tokens / 2, "cost_usd": cost}


def total(deltas: list[Usage]) -> Usage:
    return {k: sum(d[k] for d in deltas) for k in KEYS}


@given(st.lists(st.tuples(st.sampled_from("abc"), amounts), max_size=30))
def test_a_message_counts_once_at_the_most_it_reported(reports: list[tuple[str, float]]) -> None:
    meter = Meter()
    deltas = [meter.add({"provisional": True, "message_id": m}, usage(n)) for m, n in reports]
    most: dict[str, float] = {}
    for m, n in reports:
        most[m] = max(most.get(m, 0.0), n)
    assert total(deltas)["input_tokens"] == sum(most.values())
    assert all(v >= 0 for d in deltas for v in d.values())  # a report never takes usage back


@given(st.lists(amounts, max_size=10), amounts)
def test_a_running_total_settles_what_the_messages_counted(messages: list[float], extra: float) -> None:
    meter = Meter()
    deltas = [meter.add({"provisional": True, "message_id": str(i)}, usage(n)) for i, n in enumerate(messages)]
    running = sum(messages) + extra  # the process's total: at least what its messages said
    deltas.append(meter.add({"cumulative": True}, usage(running)))
    assert total(deltas)["input_tokens"] == running


@given(st.lists(amounts, min_size=1, max_size=5), st.lists(amounts, min_size=1, max_size=5))
def test_running_totals_over_two_turns_count_each_turn_once(first: list[float], second: list[float]) -> None:
    meter = Meter()
    deltas = [meter.add({"cumulative": True}, usage(n)) for n in _growing(first)]
    after = _growing(second, start=max(_growing(first)))
    deltas += [meter.add({"cumulative": True}, usage(n)) for n in after]
    assert total(deltas)["input_tokens"] == max(after)


@given(st.lists(st.lists(amounts, max_size=4), min_size=1, max_size=4), st.lists(amounts, min_size=4, max_size=4))
def test_turns_of_messages_each_settled_by_the_running_total(turns: list[list[float]], extras: list[float]) -> None:
    meter, deltas, running, n = Meter(), [], 0.0, 0
    for messages, extra in zip(turns, extras, strict=False):
        for amount in messages:
            n += 1
            deltas.append(meter.add({"provisional": True, "message_id": str(n)}, usage(amount)))
        running += sum(messages) + extra
        deltas.append(meter.add({"cumulative": True}, usage(running)))
        assert total(deltas)["input_tokens"] == running  # after each turn, exactly the total so far


@given(st.lists(amounts, max_size=10), amounts)
def test_a_turn_total_replaces_what_its_messages_counted(messages: list[float], turn: float) -> None:
    meter = Meter()
    deltas = [meter.add({"provisional": True, "message_id": str(i)}, usage(n)) for i, n in enumerate(messages)]
    deltas.append(meter.add({"turn": True}, usage(turn)))
    assert total(deltas)["input_tokens"] == turn


def test_a_new_process_starts_its_running_total_from_nothing_but_remembers_messages() -> None:
    meter = Meter()
    meter.add({"cumulative": True}, usage(500))
    meter.add({"provisional": True, "message_id": "m"}, usage(100))
    meter.new_process()
    # The resumed process's total starts again from zero: all of it is new.
    assert meter.add({"cumulative": True}, usage(40))["input_tokens"] == 40
    # Its transcript repeats an earlier message: counted already.
    assert meter.add({"provisional": True, "message_id": "m"}, usage(100))["input_tokens"] == 0


def test_a_process_that_ended_keeps_what_its_messages_counted() -> None:
    meter = Meter()
    meter.add({"provisional": True, "message_id": "m"}, usage(100))
    meter.settle()
    # A turn total after the settlement does not take the settled messages back.
    assert meter.add({"turn": True}, usage(30))["input_tokens"] == 30


def test_plain_usage_is_added_as_it_is() -> None:
    meter = Meter()
    assert meter.add({}, usage(7, 0.5)) == usage(7, 0.5)
    assert meter.add({}, usage(7, 0.5)) == usage(7, 0.5)


def test_usage_without_a_cost_is_priced_by_its_model() -> None:
    priced = reported({"input_tokens": 1_000_000, "output_tokens": 0, "model": "m"}, None, {"input": 3.0})
    assert priced["input_tokens"] == 1_000_000
    assert priced["cost_usd"] == 3.0


def test_a_reported_cost_is_kept() -> None:
    priced = reported({"input_tokens": 10, "cost_usd": 0.25}, "claude-sonnet-4-5", {})
    assert priced["cost_usd"] == 0.25


def _growing(values: list[float], start: float = 0.0) -> list[float]:
    out, now = [], start
    for v in values:
        now += v
        out.append(now)
    return out
