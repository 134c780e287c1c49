"""What the worker host makes of an agent's output: bounded lines, activity coalesced in a flood,
and when a model counts as unreachable."""

from __future__ import annotations

from collections import Counter

from hypothesis import example, given
from hypothesis import strategies as st

from czar.host.output import BUDGET, Flow, ModelWatch, Note, split_lines


def test_lines_are_split_and_the_unterminated_rest_kept() -> None:
    assert split_lines(b"one\ntwo\nthr") == ([b"one", b"two"], b"thr")
    assert split_lines(b"") == ([], b"")


def test_an_endless_line_is_held_to_its_cap_however_much_comes() -> None:
    rest = b""
    for _ in range(50):  # 50 chunks of 1000 bytes, no line end
        lines, rest = split_lines(rest + b"x" * 1000, cap=4096)
        assert lines == [] and len(rest) <= 4096
    lines, rest = split_lines(rest + b"yyy\nnext\n", cap=4096)
    assert lines == [b"x" * 4096, b"next"] and rest == b""


def offer_all(flow: Flow, texts: list[str], at: float = 0.0) -> list[Note]:
    out: list[Note] = []
    repeats, last = 0, None
    for text in texts:
        repeats = repeats + 1 if text == last else 0
        last = text
        out += flow.offer(text, repeats, at)
    return out


def test_quiet_output_is_written_line_by_line() -> None:
    flow = Flow()
    texts = [f"step {i}" for i in range(BUDGET)]
    assert offer_all(flow, texts) == [Note(t) for t in texts]
    assert flow.flush() == []


def test_a_flood_of_different_lines_becomes_a_few_events_that_count_them() -> None:
    flow = Flow()
    notes = offer_all(flow, [f"line {i}" for i in range(100_000)])
    notes += flow.flush()
    assert len(notes) == BUDGET + 1
    assert sum(n.lines for n in notes) == 100_000
    assert notes[-1] == Note("99990 lines of output, the last: line 99999", 99_990, 0, mixed=True)


def test_the_same_line_again_and_again_is_one_event_per_window_with_its_repeats() -> None:
    flow = Flow(window=1.0)
    notes: list[Note] = []
    for second in range(5):
        notes += offer_all(flow, ["reading the same file"] * 1000, at=float(second))
    notes += flow.flush()
    # The first line at once; then what each second held, its repeats still counted in a row.
    assert notes[0] == Note("reading the same file", 1, 0)
    assert len(notes) <= 1 + 5 + 5
    assert sum(n.lines for n in notes) == 5000
    assert all(n.text == "reading the same file" and not n.mixed for n in notes)
    assert notes[-1].repeats == 999  # offer_all restarts its count each second; the flow keeps the last


def test_what_was_held_comes_out_when_its_window_is_over() -> None:
    flow = Flow(window=1.0, budget=1)
    assert flow.offer("a", 0, 0.0) == [Note("a")]
    assert flow.offer("b", 0, 0.1) == []
    assert flow.due(0.5) == []
    assert flow.due(1.0) == [Note("b")]
    assert flow.offer("c", 0, 1.1) == [Note("c")]  # a new window: written at once


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.floats(0, 0.2)), max_size=300))
# Found by Hypothesis in a full run: nine events in one second, which met two of the flow's windows
# (the property read "2 * budget + 2 in any second").
@example(
    [("a", 0.125)] * 5
    + [("a", 0.1875)] * 6
    + [("a", 0.125)] * 2
    + [("b", 0.0), ("a", 0.0), ("a", 0.125), ("a", 0.125), ("b", 0.0), ("a", 0.0), ("a", 0.0), ("b", 0.0)]
)
def test_events_per_window_are_bounded_and_every_line_is_counted(steps: list[tuple[str, float]]) -> None:
    flow = Flow(window=1.0, budget=3)
    now, notes_at, per_window = 0.0, [], Counter[float]()
    for text, gap in steps:
        now += gap
        notes = flow.offer(text, 0, now)
        notes_at += [(now, n) for n in notes]
        per_window[flow.started] += len(notes)  # the window each was written in (one may open it)
    last = flow.flush()  # the agent's exit: what was held, however the window stands
    notes_at += [(now, n) for n in last]
    assert sum(n.lines for _, n in notes_at) == len(steps)
    assert len(last) <= 1 and all(count <= 2 * 3 + 1 for count in per_window.values())  # 2 * budget + 1
    # So in any second, which meets at most two of the flow's windows (each starts a second or
    # more after the one before), and the exit.
    for start in sorted({t for t, _ in notes_at}):
        assert len([n for t, n in notes_at if start <= t < start + 1]) <= 2 * (2 * 3 + 1) + 1


def test_a_refused_key_makes_the_model_unreachable_at_once() -> None:
    watch = ModelWatch()
    assert watch.failed("401 authentication_failed from the model's API (retry 1 of 10)", "auth")
    assert (
        watch.summary() == "401 authentication_failed from the model's API (retry 1 of 10) (1 failed request in a row)"
    )


def test_no_connection_counts_at_the_second_failure_and_a_failing_server_at_the_third() -> None:
    watch = ModelWatch()
    assert not watch.failed("cannot connect", "connection")
    assert watch.failed("cannot connect", "connection")
    other = ModelWatch()
    assert not other.failed("500", "server") and not other.failed("500", "server")
    assert other.failed("500", "server")
    assert other.failed("500", "server")  # and again while the streak lasts


def test_a_failure_the_agent_gives_up_on_counts_at_once() -> None:
    assert ModelWatch().failed("API Error: 500", "server", retry=False)


def test_an_answer_ends_the_streak_and_says_whether_the_model_was_down() -> None:
    watch = ModelWatch()
    watch.failed("500", "server")
    assert watch.answered() is False  # one failure, never called unreachable
    assert not watch.failed("500", "server")  # the streak starts again
    watch.failed("401", "auth")
    assert watch.answered() is True
    assert watch.strikes == 0 and not watch.down


def test_an_exit_after_failed_requests_is_the_model_not_a_crash() -> None:
    watch = ModelWatch()
    assert not watch.exited(1)  # no failed request: a crash of its own
    watch.failed("500", "server")
    assert not watch.exited(0)
    assert not watch.exited(-9)  # killed while it tried: a crash, started again at once
    assert not watch.exited(137)  # the same, said by its sandbox (bwrap: 128 + 9)
    watch.started()  # started again: the last start's failures say nothing of this one
    assert not watch.exited(1)
    watch.failed("500", "server")
    assert watch.exited(1)
    watch.started()  # down: the streak goes on until the model answers
    assert watch.down and watch.exited(1)
