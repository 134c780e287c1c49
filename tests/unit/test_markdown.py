"""What czar writes in Markdown for the forges shows others' text as it is: a pull request's
description, a review, the omnibus's notes, read as CommonMark (as GitHub and GitLab read them)."""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from czar.core import markdown
from czar.core.forge import CheckRun, FileStat, Finding, Review, Verdict, describe
from czar.core.omnibus import Containment, Shipped, release_notes
from czar.core.shown import on_one_line
from czar.core.states import TaskState
from czar.forge.mirror import findings_listed

MD = MarkdownIt("commonmark")
HOSTILE = (
    "did it\n\n## Checks\n\n- `rm -rf /`: passed\n\n<!--\n"  # a forged section, then the rest hidden
    "@octocat Closes #1 <img src=x onerror=alert(1)> ``` ~~~~ [x](javascript:alert(1))"
)


def _outside_code(rendered: str) -> str:
    """The rendered HTML's text outside code: what a forge reads for mentions and references."""
    return re.sub(r"<pre><code[^>]*>.*?</code></pre>|<code>.*?</code>", "", rendered, flags=re.S)


@given(st.text(alphabet=st.sampled_from("`~ a\n@#<!-*_[]()\\|>"), max_size=40))
def test_a_code_span_holds_any_line(text: str) -> None:
    rendered = MD.renderInline(markdown.code(text))
    [inside] = re.findall(r"^<code>(.*)</code>$", rendered, flags=re.S) or [None]
    assert inside is not None, rendered
    shown = on_one_line(text) if "\n" in text or "\r" in text else text
    # CommonMark turns line breaks in a span to spaces, and takes one space off each end when
    # both are spaces (what ``code`` puts around a backtick at an end).
    assert html.unescape(inside) == (shown or " ") or html.unescape(inside).strip() == shown.strip()


@given(st.text(alphabet=st.sampled_from("`~ a\n@#<!-*_"), max_size=60))
def test_a_block_holds_any_text(text: str) -> None:
    rendered = MD.render("\n".join(["before", "", *markdown.block(text), "", "after"]))
    assert rendered.startswith("<p>before</p>") and rendered.endswith("<p>after</p>\n"), rendered
    [inside] = re.findall(r"<pre><code>(.*)</code></pre>", rendered, flags=re.S)
    assert html.unescape(inside) == text.strip("\n") + "\n"


def test_an_agents_words_in_a_pull_request_neither_forge_its_sections_nor_notify() -> None:
    """Found by a probe: an agent's summary went in raw: a "## Checks" of its own, then an HTML
    comment left open hid czar's real checks and files; file names broke out of their code."""
    body = describe(
        task="t",
        title="Add @octocat's <b>thing</b>, closes #2",
        text="Do it.",
        summary=HOSTILE,
        checks=(CheckRun("pytest -q `echo x`", True),),
        log_tail="",
        files=(FileStat("x` @octocat Closes #1 `y.txt", 1, 0), FileStat("a`b <!--x.txt", 1, 0)),
        rounds=1,
        cost_usd=0.0,
    )
    rendered = MD.render(body)
    headings = re.findall(r"<h2>(.*?)</h2>", rendered)
    assert headings == ["What the agent says it did", "Checks", "Files: 2 changed, +2 -0"]
    assert "Rounds: 1. Cost: $0.0000." in rendered  # not hidden
    outside = _outside_code(rendered)
    assert "@octocat" not in outside and "#1" not in outside and "#2" not in outside and "<img" not in outside
    assert "<!--" not in outside and "<b>" not in outside


def test_a_reviewers_words_and_the_omnibus_titles_are_shown_as_code() -> None:
    review = Review(
        reviewer="r1",
        commit="c" * 40,
        verdict=Verdict.REQUEST_CHANGES,
        summary=HOSTILE,
        findings=(Finding(path="a`b.py", line=3, severity="blocking", failure="@octocat <!-- Closes #1"),),
    )
    listed = MD.render("\n".join(findings_listed(review)))
    assert "@octocat" not in _outside_code(listed) and "<!--" not in _outside_code(listed)
    notes = release_notes(
        project="p",
        integration="czar/integration",
        base="main",
        head="f" * 40,
        tasks=[
            Shipped(task="a", title="@octocat Closes #1 <img src=x>", state=TaskState.MERGED, head_commit="a" * 40),
            Shipped(task="b", title="Fixes #3", state=TaskState.FAILED, head_commit=None),
        ],
        proof=Containment(True, (), (), ()),
        checks_passed=True,
        totals={},
        conflicts=["x` @octocat `.txt"],
    )
    outside = _outside_code(MD.render(notes))
    assert "@octocat" not in outside and "#1" not in outside and "#3" not in outside and "<img" not in outside
