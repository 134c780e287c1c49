"""The sample project of ``czar demo``: a small Python package, ``textstats``, and a plan to build it.

``write_sample(root)`` creates ``root/repo`` (a git repository on ``main`` with one commit: the
package skeleton and a pytest suite) and ``root/czar.toml`` (ten tasks, at most four of them ready
at once, six deep). Every task body is real prose a person or an AI could follow, followed by a
``czar-sim`` script with which the simulated agent does exactly that. Each task owns its own
module and test file, so merges never conflict. One task, ``readability``, first commits a subtle
bug: its verification fails, czar sends the failure back, and the script's ``on feedback``
section fixes it, which shows the retry loop.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

from czar.errors import CzarError, GitError
from czar.runtime import proc

# Commits of the sample carry their own identity, so the demo works without any git config.
DEMO_IDENTITY = ("-c", "user.name=czar-demo", "-c", "user.email=demo@czar.localhost", "-c", "commit.gpgsign=false")
SLEEP = "0.2"  # seconds each simulated agent pauses, so the demo is watchable


def _src(text: str) -> str:
    """A source text written flush left below its opening quotes, without the first newline."""
    return text.removeprefix("\n")


# -- the repository's first commit ----------------------------------------------------------

SKELETON: dict[str, str] = {
    "pyproject.toml": _src("""
[project]
name = "textstats"
version = "0.1.0"
description = "Word counts, frequent words and readability scores for plain text."
requires-python = ">=3.11"

[tool.pytest.ini_options]
testpaths = ["tests"]
"""),
    ".gitignore": _src("""
__pycache__/
.pytest_cache/
*.pyc
*.egg-info/
.venv/
"""),
    "README.md": _src("""
# textstats

Word counts, frequent words and readability scores for plain text.

This is the sample project of `czar demo`: the package starts empty, and the tasks in the plan
next to this repository build it module by module, each with its own tests.

Run the tests with `python -m pytest -q`.
"""),
    "src/textstats/__init__.py": _src('''
"""textstats: word counts, frequent words and readability scores for plain text.

Import the module you need, for example ``from textstats.report import build_report``.
"""

__version__ = "0.1.0"
'''),
    "tests/conftest.py": _src('''
"""Put ``src/`` on the import path, so the tests run without installing the package."""

import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parent.parent / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)
'''),
    "tests/test_smoke.py": _src("""
import textstats


def test_package_imports():
    assert textstats.__version__ == "0.1.0"
"""),
}

# -- the tasks' files -----------------------------------------------------------------------

TOKENIZE = _src(r'''
"""Split text into words."""

import re

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def tokenize(text: str) -> list[str]:
    """The words of ``text`` in order: runs of letters and digits, keeping apostrophes inside words."""
    return _WORD.findall(text)
''')

TEST_TOKENIZE = _src(r"""
from textstats.tokenize import tokenize


def test_punctuation_separates_words():
    assert tokenize("Hello, world! How are you?") == ["Hello", "world", "How", "are", "you"]


def test_apostrophes_inside_words_are_kept():
    assert tokenize("Don't stop: it's 9 o'clock.") == ["Don't", "stop", "it's", "9", "o'clock"]


def test_text_without_words():
    assert tokenize("  ... -- !? ") == []
""")

NORMALIZE = _src(r'''
"""Normalise words, so that different spellings of one word are counted together."""

import unicodedata
from collections.abc import Iterable


def normalize(word: str) -> str:
    """``word`` case-folded, without accents and without a possessive ``'s``."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return plain.removesuffix("'s")


def normalize_all(words: Iterable[str]) -> list[str]:
    """Every word normalised, in order; words that end up empty are dropped."""
    return [n for n in (normalize(w) for w in words) if n]
''')

TEST_NORMALIZE = _src(r"""
from textstats.normalize import normalize, normalize_all


def test_case_is_folded():
    assert normalize("HeLLo") == "hello"


def test_accents_are_removed():
    assert normalize("Caf\u00e9") == "cafe"


def test_possessive_is_dropped():
    assert normalize("Cat's") == "cat"


def test_normalize_all_drops_empty_words():
    assert normalize_all(["The", "", "DOG's"]) == ["the", "dog"]
""")

STOPWORDS = _src(r'''
"""Common English words that carry little meaning on their own."""

from collections.abc import Iterable

STOPWORDS = frozenset(
    """
    a an and are as at be but by for from had has have he her his i if in is it its
    not of on or she so than that the their them then they this to was we were what
    when which who will with you your
    """.split()
)


def is_stopword(word: str) -> bool:
    """True if ``word`` is a stop word, whatever its case."""
    return word.casefold() in STOPWORDS


def remove_stopwords(words: Iterable[str]) -> list[str]:
    """The words that are not stop words, in order."""
    return [w for w in words if not is_stopword(w)]
''')

TEST_STOPWORDS = _src(r"""
from textstats.stopwords import STOPWORDS, is_stopword, remove_stopwords


def test_common_words_are_stopwords_in_any_case():
    assert is_stopword("the")
    assert is_stopword("The")
    assert not is_stopword("cat")


def test_remove_stopwords_keeps_the_order():
    assert remove_stopwords(["The", "cat", "sat", "on", "the", "mat"]) == ["cat", "sat", "mat"]


def test_the_list_is_lower_case():
    assert STOPWORDS
    assert all(w == w.lower() for w in STOPWORDS)
""")

SENTENCES = _src(r'''
"""Split text into sentences."""

import re

_BREAK = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``: a sentence ends at '.', '!' or '?' followed by white space, or at the end."""
    return [s.strip() for s in _BREAK.split(text.strip()) if s.strip()]
''')

TEST_SENTENCES = _src(r"""
from textstats.sentences import split_sentences


def test_splits_after_end_punctuation():
    assert split_sentences("It rained. Did it stop? Yes!") == ["It rained.", "Did it stop?", "Yes!"]


def test_the_last_sentence_needs_no_full_stop():
    assert split_sentences("One.   Two without a stop") == ["One.", "Two without a stop"]


def test_a_dot_inside_a_number_does_not_split():
    assert split_sentences("Version 1.5 is out.") == ["Version 1.5 is out."]


def test_empty_text_has_no_sentences():
    assert split_sentences(" \n ") == []
""")

COUNTS = _src(r'''
"""Count how often each word occurs."""

from collections import Counter

from textstats.normalize import normalize_all
from textstats.tokenize import tokenize


def word_counts(text: str) -> Counter[str]:
    """How often each normalised word occurs in ``text``."""
    return Counter(normalize_all(tokenize(text)))
''')

TEST_COUNTS = _src(r"""
from collections import Counter

from textstats.counts import word_counts


def test_words_are_counted_after_normalising():
    assert word_counts("The cat saw the Cat's toy.") == Counter({"the": 2, "cat": 2, "saw": 1, "toy": 1})


def test_empty_text_has_no_counts():
    assert word_counts("") == Counter()
""")

TOP_WORDS = _src(r'''
"""The most frequent meaningful words of a text."""

from textstats.counts import word_counts
from textstats.stopwords import is_stopword


def top_words(text: str, n: int = 5) -> list[tuple[str, int]]:
    """The ``n`` most frequent words that are not stop words: most frequent first, ties alphabetical."""
    if n <= 0:
        return []
    counts = word_counts(text)
    ranked = sorted(((w, c) for w, c in counts.items() if not is_stopword(w)), key=lambda wc: (-wc[1], wc[0]))
    return ranked[:n]
''')

TEST_TOP_WORDS = _src(r"""
from textstats.top_words import top_words


def test_stop_words_are_left_out():
    assert top_words("the cat and the dog and the cat", 2) == [("cat", 2), ("dog", 1)]


def test_ties_are_alphabetical():
    assert top_words("pear apple fig apple pear", 3) == [("apple", 2), ("pear", 2), ("fig", 1)]


def test_asking_for_none():
    assert top_words("cat cat", 0) == []
""")

_READABILITY = r'''
"""Readability: syllables, sentence length and the Flesch reading ease."""

import re

from textstats.sentences import split_sentences
from textstats.tokenize import tokenize

_VOWELS = re.compile(r"[aeiouy]+")


def count_syllables(word: str) -> int:
    """An estimate of the syllables of an English word: its groups of vowels, less a silent final e."""
    w = word.lower()
    count = len(_VOWELS.findall(w))
    if count > 1 and w.endswith("e") and not w.endswith("le"):
        count -= 1  # "make", "stone"; but "table" keeps its e
    return max(count, 1)


def words_per_sentence(text: str) -> float:
    """The average number of words per sentence; 0.0 for a text without sentences."""
    sentences = split_sentences(text)
    if not sentences:
        return 0.0
    return len(tokenize(text)) {divide} len(sentences)


def flesch_reading_ease(text: str) -> float:
    """The Flesch reading ease: higher is easier, 60 to 70 is plain English; 0.0 for a text without words."""
    words = tokenize(text)
    if not words:
        return 0.0
    syllables = sum(count_syllables(w) for w in words)
    return 206.835 - 1.015 * words_per_sentence(text) - 84.6 * syllables / len(words)
'''
# The first attempt truncates the average (a subtle bug its own test catches); the fix divides.
READABILITY_BUGGY = _src(_READABILITY.replace("{divide}", "//"))
READABILITY = _src(_READABILITY.replace("{divide}", "/"))

TEST_READABILITY = _src(r"""
import pytest

from textstats.readability import count_syllables, flesch_reading_ease, words_per_sentence


@pytest.mark.parametrize(("word", "expected"), [("cat", 1), ("table", 2), ("make", 1), ("readability", 5)])
def test_count_syllables(word, expected):
    assert count_syllables(word) == expected


def test_words_per_sentence_is_an_average():
    assert words_per_sentence("One two three. Four five.") == 2.5


def test_flesch_reading_ease():
    assert flesch_reading_ease("The cat sat.") == pytest.approx(119.19)


def test_empty_text_scores_zero():
    assert words_per_sentence("") == 0.0
    assert flesch_reading_ease("") == 0.0
""")

REPORT = _src(r'''
"""A summary of a text's statistics, and its text form."""

from dataclasses import dataclass

from textstats.readability import flesch_reading_ease, words_per_sentence
from textstats.sentences import split_sentences
from textstats.tokenize import tokenize
from textstats.top_words import top_words


@dataclass(frozen=True)
class Report:
    words: int
    sentences: int
    words_per_sentence: float
    reading_ease: float
    top_words: tuple[tuple[str, int], ...]


def build_report(text: str, top: int = 5) -> Report:
    """The statistics of ``text``, with its ``top`` most frequent words; scores rounded to one decimal."""
    return Report(
        words=len(tokenize(text)),
        sentences=len(split_sentences(text)),
        words_per_sentence=round(words_per_sentence(text), 1),
        reading_ease=round(flesch_reading_ease(text), 1),
        top_words=tuple(top_words(text, top)),
    )


def format_report(report: Report) -> str:
    """The report as lines of ``name: value``."""
    top = ", ".join(f"{word} ({count})" for word, count in report.top_words) or "-"
    return "\n".join(
        [
            f"words: {report.words}",
            f"sentences: {report.sentences}",
            f"words per sentence: {report.words_per_sentence:.1f}",
            f"reading ease: {report.reading_ease:.1f}",
            f"top words: {top}",
        ]
    )
''')

TEST_REPORT = _src(r"""
from textstats.readability import flesch_reading_ease
from textstats.report import build_report, format_report

TEXT = "The cat sat. The cat ran away!"


def test_build_report():
    report = build_report(TEXT, top=3)
    assert (report.words, report.sentences, report.words_per_sentence) == (7, 2, 3.5)
    assert report.reading_ease == round(flesch_reading_ease(TEXT), 1)
    assert report.top_words == (("cat", 2), ("away", 1), ("ran", 1))


def test_format_report():
    lines = format_report(build_report(TEXT, top=2)).splitlines()
    assert lines[0] == "words: 7"
    assert lines[2] == "words per sentence: 3.5"
    assert lines[-1] == "top words: cat (2), away (1)"


def test_empty_text():
    assert format_report(build_report("")).splitlines() == [
        "words: 0",
        "sentences: 0",
        "words per sentence: 0.0",
        "reading ease: 0.0",
        "top words: -",
    ]
""")

CLI = _src(r'''
"""The command line: ``python -m textstats FILE`` prints a report on the text in FILE."""

import argparse
import sys

from textstats.report import build_report, format_report


def main(argv: list[str] | None = None) -> int:
    """Run the command with ``argv`` (default: the process's arguments); return the exit code."""
    parser = argparse.ArgumentParser(prog="textstats", description="Print statistics about a text.")
    parser.add_argument("file", help="the text file to read, or - for standard input")
    parser.add_argument("--top", type=int, default=5, help="how many frequent words to list (default: 5)")
    args = parser.parse_args(argv)
    if args.file == "-":
        text = sys.stdin.read()
    else:
        try:
            with open(args.file, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            print(f"textstats: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 2
    print(format_report(build_report(text, top=args.top)))
    return 0
''')

MAIN = _src(r'''
"""``python -m textstats``: run the command line."""

import sys

from textstats.cli import main

sys.exit(main())
''')

TEST_CLI = _src(r"""
import io
import runpy
import sys

import pytest

from textstats.cli import main

TEXT = "The cat sat. The cat ran away!"


def test_reads_a_file(tmp_path, capsys):
    source = tmp_path / "text.txt"
    source.write_text(TEXT, encoding="utf-8")
    assert main([str(source), "--top", "1"]) == 0
    out = capsys.readouterr().out
    assert "words: 7" in out
    assert out.rstrip().endswith("top words: cat (2)")


def test_reads_standard_input(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hello there. Hello again."))
    assert main(["-"]) == 0
    assert "top words: hello (2)" in capsys.readouterr().out


def test_a_missing_file_is_an_error(tmp_path, capsys):
    assert main([str(tmp_path / "missing.txt")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_python_dash_m(tmp_path, monkeypatch, capsys):
    source = tmp_path / "text.txt"
    source.write_text(TEXT, encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["textstats", str(source)])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_module("textstats", run_name="__main__")
    assert stopped.value.code == 0
    assert "sentences: 2" in capsys.readouterr().out
""")

README = _src("""
# textstats

Word counts, frequent words and readability scores for plain text, in plain Python with no
dependencies.

## Usage

    python -m textstats FILE [--top N]

FILE is a text file, or `-` for standard input; `--top N` sets how many frequent words to
list (default 5). From a checkout, put `src` on the import path first:
`PYTHONPATH=src python -m textstats notes.txt`.

## Example

Given a file `example.txt` containing

    Czar runs a team of coding agents. Each agent works on one task in its own branch.
    Czar checks the work of each agent and merges it!

the command `python -m textstats example.txt` prints

    words: 27
    sentences: 3
    words per sentence: 9.0
    reading ease: 97.4
    top words: agent (2), czar (2), each (2), agents (1), branch (1)

## Modules

- `textstats.tokenize`: split text into words.
- `textstats.normalize`: case-fold words and drop accents and possessives.
- `textstats.stopwords`: common words that carry little meaning.
- `textstats.sentences`: split text into sentences.
- `textstats.counts`: how often each word occurs.
- `textstats.top_words`: the most frequent words that are not stop words.
- `textstats.readability`: syllables, words per sentence and the Flesch reading ease.
- `textstats.report`: all of the above in one report.
- `textstats.cli`: the command line.

## Tests

    python -m pytest -q
""")

TEST_DOCS = _src(r'''
"""The README's example must be what the command really prints."""

import re
import textwrap
from pathlib import Path

from textstats.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def example_blocks():
    section = README.read_text(encoding="utf-8").split("## Example", 1)[1].split("\n## ", 1)[0]
    return [textwrap.dedent(block) for block in re.findall(r"(?:^    .*\n)+", section, re.MULTILINE)]


def test_the_example_is_what_the_command_prints(tmp_path, capsys):
    given, expected = example_blocks()
    source = tmp_path / "example.txt"
    source.write_text(given, encoding="utf-8")
    assert main([str(source)]) == 0
    assert capsys.readouterr().out == expected


def test_every_module_is_described():
    text = README.read_text(encoding="utf-8")
    modules = sorted((README.parent / "src" / "textstats").glob("[!_]*.py"))
    assert modules
    for module in modules:
        assert f"`textstats.{module.stem}`" in text, module.stem
''')

# -- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoTask:
    """One task of the sample plan, and what its simulated agent writes."""

    id: str
    title: str
    instructions: str  # the prose part of the body
    depends_on: tuple[str, ...]
    files: tuple[tuple[str, str], ...]  # (path, text) written by the script, in order
    subtasks: tuple[str, str]
    commit: str
    summary: str
    test: str = ""  # the test command the agent runs; default: pytest on its own test file
    fixed: tuple[tuple[str, str], ...] = ()  # if set, ``files`` is buggy and feedback writes these
    fix_note: str = ""

    @property
    def scope(self) -> tuple[str, ...]:
        paths = [p for p, _ in self.files] + [p for p, _ in self.fixed]
        return tuple(dict.fromkeys(paths))

    @property
    def accept(self) -> str:
        if self.test:
            return self.test
        tests = [p for p in self.scope if p.startswith("tests/")]
        return f"python -m pytest -q {tests[0]}"


def _module(name: str) -> str:
    return f"src/textstats/{name}.py"


def _tests(name: str) -> str:
    return f"tests/test_{name}.py"


TASKS: tuple[DemoTask, ...] = (
    DemoTask(
        id="tokenize",
        title="Split text into words",
        instructions=(
            "Create `src/textstats/tokenize.py` with `tokenize(text: str) -> list[str]`, which returns the words "
            "of a text in order. A word is a run of letters or digits; an apostrophe between letters stays inside "
            'the word ("don\'t", "o\'clock"), and any other punctuation or white space separates words. '
            "Add `tests/test_tokenize.py` with pytest tests for punctuation, inner apostrophes and a text "
            "without any words."
        ),
        depends_on=(),
        files=((_module("tokenize"), TOKENIZE), (_tests("tokenize"), TEST_TOKENIZE)),
        subtasks=("tokenize() written", "its tests pass"),
        commit="tokenize: split text into words",
        summary="tokenize() splits text into words and keeps inner apostrophes; 3 tests pass",
    ),
    DemoTask(
        id="normalize",
        title="Normalise words",
        instructions=(
            "Create `src/textstats/normalize.py` with `normalize(word: str) -> str`, which case-folds a word, "
            'removes accents (decompose with NFKD and drop combining marks) and drops a possessive "\'s", and '
            "`normalize_all(words)`, which normalises every word in order and drops words that end up empty. "
            "Add `tests/test_normalize.py` covering case, accents, possessives and empty words."
        ),
        depends_on=(),
        files=((_module("normalize"), NORMALIZE), (_tests("normalize"), TEST_NORMALIZE)),
        subtasks=("normalize() and normalize_all() written", "their tests pass"),
        commit="normalize: case-fold words, drop accents and possessives",
        summary="normalize() and normalize_all() in place; 4 tests pass",
    ),
    DemoTask(
        id="stopwords",
        title="Stop words",
        instructions=(
            "Create `src/textstats/stopwords.py` with `STOPWORDS`, a frozenset of about sixty common lower-case "
            "English words (articles, pronouns, prepositions, forms of 'be' and 'have'), "
            "`is_stopword(word)`, which ignores case, and `remove_stopwords(words)`, which keeps the order of the "
            "remaining words. Add `tests/test_stopwords.py`."
        ),
        depends_on=(),
        files=((_module("stopwords"), STOPWORDS), (_tests("stopwords"), TEST_STOPWORDS)),
        subtasks=("the stop word list and helpers written", "their tests pass"),
        commit="stopwords: common words that carry little meaning",
        summary="STOPWORDS, is_stopword() and remove_stopwords() in place; 3 tests pass",
    ),
    DemoTask(
        id="sentences",
        title="Split text into sentences",
        instructions=(
            "Create `src/textstats/sentences.py` with `split_sentences(text: str) -> list[str]`. A sentence ends "
            "at '.', '!' or '?' followed by white space, or at the end of the text; a dot inside a number such "
            "as 1.5 does not end one. Return the sentences stripped, without empty ones, and add "
            "`tests/test_sentences.py`."
        ),
        depends_on=(),
        files=((_module("sentences"), SENTENCES), (_tests("sentences"), TEST_SENTENCES)),
        subtasks=("split_sentences() written", "its tests pass"),
        commit="sentences: split text into sentences",
        summary="split_sentences() in place; 4 tests pass",
    ),
    DemoTask(
        id="counts",
        title="Count words",
        instructions=(
            "Create `src/textstats/counts.py` with `word_counts(text: str) -> collections.Counter[str]`, which "
            "tokenizes the text with `textstats.tokenize.tokenize`, normalises the words with "
            '`textstats.normalize.normalize_all` and counts them, so that "The" and "the" count as one word. '
            "Add `tests/test_counts.py`."
        ),
        depends_on=("tokenize", "normalize"),
        files=((_module("counts"), COUNTS), (_tests("counts"), TEST_COUNTS)),
        subtasks=("word_counts() written", "its tests pass"),
        commit="counts: count normalised words",
        summary="word_counts() counts normalised words; 2 tests pass",
    ),
    DemoTask(
        id="top_words",
        title="Most frequent words",
        instructions=(
            "Create `src/textstats/top_words.py` with `top_words(text: str, n: int = 5) -> list[tuple[str, int]]`: "
            "the n most frequent words of the text (counted with `textstats.counts.word_counts`) that are not stop "
            "words, most frequent first, with ties in alphabetical order so the result is deterministic; n <= 0 "
            "gives an empty list. Add `tests/test_top_words.py`."
        ),
        depends_on=("counts", "stopwords"),
        files=((_module("top_words"), TOP_WORDS), (_tests("top_words"), TEST_TOP_WORDS)),
        subtasks=("top_words() written", "its tests pass"),
        commit="top_words: the most frequent words that are not stop words",
        summary="top_words() ranks words by frequency, ties alphabetical; 3 tests pass",
    ),
    DemoTask(
        id="readability",
        title="Readability scores",
        instructions=(
            "Create `src/textstats/readability.py` with `count_syllables(word)` (count groups of vowels, "
            "a e i o u y; a final silent e does not count unless the word ends in 'le'; at least 1), "
            "`words_per_sentence(text)` (the average as a float; 0.0 without sentences) and "
            "`flesch_reading_ease(text)` = 206.835 - 1.015 * words per sentence - 84.6 * syllables per word "
            "(0.0 without words). Use `textstats.tokenize` and `textstats.sentences`, and add "
            "`tests/test_readability.py`."
        ),
        depends_on=("sentences", "tokenize"),
        files=((_module("readability"), READABILITY_BUGGY), (_tests("readability"), TEST_READABILITY)),
        fixed=((_module("readability"), READABILITY),),
        fix_note="words_per_sentence truncated the average with //; divide with / instead",
        subtasks=("the readability functions written", "their tests pass"),
        commit="readability: syllables, words per sentence, Flesch reading ease",
        summary="readability functions in place",
    ),
    DemoTask(
        id="report",
        title="Text report",
        instructions=(
            "Create `src/textstats/report.py` with a frozen dataclass `Report` (words, sentences, "
            "words_per_sentence, reading_ease, top_words as a tuple of (word, count) pairs), "
            "`build_report(text, top=5)`, which fills it from the other modules with the scores rounded to one "
            "decimal, and `format_report(report)`, which renders it as lines of 'name: value' ending with "
            "'top words: cat (2), away (1)' (or '-' when there are none). Add `tests/test_report.py`."
        ),
        depends_on=("top_words", "readability"),
        files=((_module("report"), REPORT), (_tests("report"), TEST_REPORT)),
        subtasks=("build_report() and format_report() written", "their tests pass"),
        commit="report: all statistics of a text in one report",
        summary="build_report() and format_report() in place; 3 tests pass",
    ),
    DemoTask(
        id="cli",
        title="Command line",
        instructions=(
            "Create `src/textstats/cli.py` with `main(argv=None) -> int`, an argparse command "
            "`textstats FILE [--top N]` that prints `format_report(build_report(text, top=N))` for the text in "
            "FILE ('-' reads standard input) and returns 0, or prints 'textstats: cannot read ...' to standard "
            "error and returns 2 when the file cannot be read. Add `src/textstats/__main__.py` so that "
            "`python -m textstats` runs it, and `tests/test_cli.py`."
        ),
        depends_on=("report",),
        files=((_module("cli"), CLI), ("src/textstats/__main__.py", MAIN), (_tests("cli"), TEST_CLI)),
        subtasks=("the command written", "its tests pass"),
        commit="cli: python -m textstats FILE",
        summary="python -m textstats FILE prints a report; 4 tests pass",
    ),
    DemoTask(
        id="docs",
        title="Document the package",
        instructions=(
            "Rewrite `README.md` for the finished package: what it does, usage of `python -m textstats FILE "
            "[--top N]`, a worked example and one line per module naming it as `textstats.<module>`. Under "
            "'## Example' put exactly two indented code blocks, the input text and the exact output of the "
            "command for it, and add `tests/test_docs.py`, which checks that the example output is what the "
            "command prints and that every module is described. Then run the whole test suite."
        ),
        depends_on=("cli",),
        files=(("README.md", README), (_tests("docs"), TEST_DOCS)),
        subtasks=("README.md rewritten", "the whole suite passes"),
        commit="docs: README with usage, a tested example and the modules",
        summary="README documents usage, a tested example and every module; the whole suite passes",
        test="python -m pytest -q",
    ),
)


def _marker(text: str) -> str:
    """A heredoc end marker that no line of ``text`` could be mistaken for."""
    lines = {line.strip() for line in text.splitlines()}
    marker, n = "EOF", 0
    while marker in lines:
        n += 1
        marker = f"EOF{n}"
    return marker


def _write(path: str, text: str) -> list[str]:
    end = _marker(text)
    return [f"write {path} <<{end}", *text.rstrip("\n").split("\n"), end]


def script(task: DemoTask) -> str:
    """The czar-sim script with which the simulated agent does ``task``."""
    lines = [f"progress 1 writing {task.scope[0]}"]
    for path, text in task.files:
        lines += _write(path, text)
    lines += [
        f"sleep {SLEEP}",
        "progress 2 running the tests",
        f"run {task.accept}",
        f"commit {task.commit}",
        f"finish {task.summary}",
    ]
    if task.fixed:
        lines += ["on feedback", f"note {task.fix_note}"]
        for path, text in task.fixed:
            lines += _write(path, text)
        lines += [
            f"run {task.accept}",
            f"commit {task.id}: {task.fix_note}",
            f"finish fixed: {task.fix_note}; the tests pass",
        ]
    return "\n".join(lines) + "\n"


def body(task: DemoTask) -> str:
    """The task text: instructions for a person or an AI, then the script for the simulated agent."""
    prose = textwrap.fill(task.instructions, 100, break_long_words=False, break_on_hyphens=False)
    return f"{prose}\n\n```czar-sim\n{script(task)}```\n"


def _toml_str(value: str) -> str:
    """``value`` as a TOML basic string."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_text(value: str) -> str:
    """``value`` as a readable TOML multi-line literal string when it can be one, else a basic string."""
    literal_safe = "'''" not in value and not value.endswith("'") and "\r" not in value
    literal_safe = literal_safe and all(ch in "\t\n" or (ord(ch) >= 0x20 and ord(ch) != 0x7F) for ch in value)
    return f"'''\n{value}'''" if literal_safe else _toml_str(value)


def _toml_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(_toml_str(v) for v in values) + "]"


def plan_text(workers: int = 4) -> str:
    """The sample plan file, as TOML."""
    out = [
        "# The plan of `czar demo`: build the textstats package in repo/, one module per task.",
        "# Each body is instructions a person or an AI could follow, then the script the simulated",
        "# agent (sim) runs. The readability task commits a bug first, to show the retry loop.",
        "",
        "[project]",
        f"name = {_toml_str('czar-demo')}",
        f"repo = {_toml_str('repo')}",
        f"base_branch = {_toml_str('main')}",
        f"accept = {_toml_list(['python -m pytest -q'])}",
        "accept_timeout = 120",
        "max_rounds = 3",
        "",
        "[workers]",
        f"count = {workers}",
        f"agent = {_toml_str('sim')}",
    ]
    for task in TASKS:
        out += [
            "",
            "[[tasks]]",
            f"id = {_toml_str(task.id)}",
            f"title = {_toml_str(task.title)}",
            f"depends_on = {_toml_list(task.depends_on)}",
            f"scope = {_toml_list(task.scope)}",
            f"accept = {_toml_list([task.accept])}",
            f"subtasks = {_toml_list(task.subtasks)}",
            f"body = {_toml_text(body(task))}",
        ]
    return "\n".join(out) + "\n"


# -- writing it -------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> None:
    env = dict(os.environ)
    # A caller's GIT_DIR or GIT_WORK_TREE would point these commands at another repository.
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(var, None)
    env["GIT_TERMINAL_PROMPT"] = "0"
    result = proc.run(["git", "-C", str(repo), *DEMO_IDENTITY, *args], env=env, timeout=60)
    if not result.ok:
        last = (result.output.strip().splitlines() or ["(no output)"])[-1]
        raise GitError(f"git {args[0]} failed in {repo}: {last}", output=result.output)


def write_sample(root: Path, workers: int = 4) -> Path:
    """Create a sample git repository at root/'repo' (branch main, one initial commit) and a plan
    file root/'czar.toml' for it; return the plan's path."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    repo, plan = root / "repo", root / "czar.toml"
    if plan.exists():
        raise CzarError(f"{plan} already exists; build the demo in an empty folder")
    if repo.exists() and (not repo.is_dir() or any(repo.iterdir())):
        raise CzarError(f"{repo} already exists; build the demo in an empty folder")
    init_repo(repo, SKELETON, "textstats: package skeleton and test setup")
    plan.write_text(plan_text(workers), encoding="utf-8")
    return plan


def init_repo(repo: Path, files: dict[str, str], message: str) -> None:
    """A new git repository at ``repo`` on branch main, with ``files`` in its first commit."""
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
