"""Text from agents, made safe to show on a person's terminal.

What an agent says (its reports, questions, summaries, output, the names of the files it makes)
reaches `czar run`'s lines, `czar logs`, `czar status` and the worker's window. An agent is
untrusted: an escape sequence in its words would act on the terminal that shows them (set its
title, write its clipboard with OSC 52, clear it, hide what follows). ``visible`` writes every
control character out instead, as ``cat -v`` does, and keeps the line breaks and tabs; and names
the characters that reorder or hide text (``<U+202E>``).
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, and C1 controls (0x9b alone starts a sequence on some terminals).
_CARET = {c: f"^{chr(c + 64)}" for c in range(0x20) if chr(c) not in "\t\n"}
# Lone surrogates (undecodable bytes of an agent's output) would go out as those raw bytes, or
# fail to encode; the marks that reorder or hide text would make a command read as another one
# where a person decides on it (a permission request).
_NAMED = [*range(0xD800, 0xE000), *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_NAMED += [0x2060, 0xFEFF]
_OUT = str.maketrans(
    {**_CARET, 0x7F: "^?", **{c: f"\\x{c:02x}" for c in range(0x80, 0xA0)}, **{c: f"<U+{c:04X}>" for c in _NAMED}}
)


# Any character ``_OUT`` writes out: most text has none, and is given back as it is, at once.
_ANY = re.compile("[" + "".join(re.escape(chr(c)) for c in _OUT) + "]")


def visible(text: str) -> str:
    """``text`` with its control characters written out (``^[`` for escape); tabs and line
    breaks kept."""
    return text.translate(_OUT) if _ANY.search(text) else text


def on_one_line(text: str) -> str:
    """``text`` on one line, each line break shown as ``↵``: a break in an agent's words would
    start a line of its own that reads as czar's in a log or a run's lines ("12:00:00 task b:
    merging -> merged")."""
    return " ↵ ".join(text.splitlines())


def in_page(value: object) -> object:
    """What a page of czar's shows of ``value`` (Jinja's ``finalize``, for the web page and the
    report): a text through ``visible``, as on a terminal (a mark that reorders text would make a
    permission request read as another command there too); HTML that czar made (``__html__``:
    escaped already) as it is."""
    return visible(value) if isinstance(value, str) and not hasattr(value, "__html__") else value
