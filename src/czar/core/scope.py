"""Scope globs: which paths a task may change, and whether two tasks' scopes may overlap.

Syntax: ``*`` matches within one path segment, ``**`` any number of segments, ``?`` one
character, ``[abc]`` a class; a pattern ending in ``/`` means everything below that folder.
Paths are relative to the repository root and use ``/``.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

_WILD = re.compile(r"[*?\[]")


class _BadGlob(ValueError):
    """Why a glob cannot be compiled, in words for the plan's author."""


def _class(pattern: str, start: int) -> tuple[str, int]:
    """Compile the character class opening at ``pattern[start]``; return its regex and the index after it.

    Members are taken literally (each escaped), ``a-z`` is a range and a leading ``!`` negates.
    A class never matches ``/``, so like ``*`` and ``?`` it stays within one path segment.
    """
    i = start + 1
    negate = pattern.startswith("!", i)
    i += negate
    members: list[str] = []
    while True:
        if i >= len(pattern):
            raise _BadGlob("has an unclosed '['")
        ch = pattern[i]
        if ch == "]":
            break
        if ch == "[":
            raise _BadGlob("nests '[' inside a character class")
        if ch == "/":
            if not negate:
                raise _BadGlob("has '/' inside a character class; a class matches one character of a name")
            i += 1  # '[!/]' is redundant, not wrong: a class never matches '/' anyway
            continue
        if pattern.startswith("-", i + 1) and i + 2 < len(pattern) and pattern[i + 2] not in "]/[":
            low, high = ch, pattern[i + 2]
            if low > high:
                raise _BadGlob(f"has a reversed range '{low}-{high}'")
            members.append(f"{re.escape(low)}-{re.escape(high)}")
            i += 3
        else:
            members.append(re.escape(ch))
            i += 1
    if i == start + 1 + negate:
        raise _BadGlob(f"has an empty character class '{pattern[start : i + 1]}'")
    body = "".join(members)
    return (f"[^/{body}]" if negate else f"[{body}]"), i + 1


def _compile(pattern: str) -> str:
    """The regex source for ``pattern``; raises ``_BadGlob`` for a pattern that cannot match sensibly."""
    if pattern.endswith("/"):
        pattern += "**"
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            regex, i = _class(pattern, i)
            out.append(regex)
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out) + r"\Z"


# A glob names a few folders and files: an agent's claim of 200,000 characters, or of hundreds
# of wildcards, made each match cost seconds, in a write of the store and in every look of the
# radar; a line break in one printed as a line of the board of its own (found by a probe).
GLOB_LENGTH = 256
GLOB_WILDCARDS = 8


def glob_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a valid scope glob, or None if it is."""
    if not pattern.strip():
        return "is empty"
    if len(pattern) > GLOB_LENGTH:
        return f"is longer than {GLOB_LENGTH} characters"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in pattern):
        return "holds a control character (a line break, a tab)"
    if len(_WILD.findall(pattern.replace("**", "*"))) > GLOB_WILDCARDS:
        return f"has more than {GLOB_WILDCARDS} wildcards"
    if pattern.startswith("/"):
        return "is absolute; scope paths are relative to the repository root"
    if ".." in pattern.split("/"):
        return "leaves the repository with '..'"
    if "\\" in pattern:
        return "uses '\\'; write paths with '/'"
    if re.search(r"[^/]\*\*|\*\*[^/]", pattern):
        return "uses '**' inside a name; '**' must be a whole path segment"
    try:
        _compile(pattern)
    except _BadGlob as exc:
        return str(exc)
    return None


@lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(_compile(pattern))


def matches(pattern: str, path: str) -> bool:
    """True if repository path ``path`` falls under ``pattern``.

    An agent names both (``czar claim``, the files it makes): a pattern of many wildcards, such as
    ``*a*a*a*a*a*a*a*a*b``, against a long name took a backtracking regex hours (found by a probe:
    the supervisor froze). Those are matched state by state, in time linear in the path."""
    if _tame(pattern):
        return _regex(pattern).match(path) is not None
    return _walk(_steps(pattern), path)


@lru_cache(maxsize=4096)
def _tame(pattern: str) -> bool:
    """Whether the regex of ``pattern`` backtracks little whatever the path: one ``**`` at most,
    and two ``*`` at most in the whole pattern (so at worst the square of the path's length:
    backtracking multiplies across names, ``*a*/*a*/*a*/...`` as much as within one)."""
    segments = pattern.split("/")
    stars = sum(seg.count("*") for seg in segments if seg != "**")
    return sum(seg == "**" for seg in segments) <= 1 and stars <= 2


# A step of a pattern: a character ("c" and it), one of a name ("?", or "[" and a class's regex),
# a run within a name ("*"), any run ("**"), or any run that ends with a "/" or none ("**/").
_Step = tuple[str, str]


@lru_cache(maxsize=256)
def _steps(pattern: str) -> tuple[_Step, ...]:
    if pattern.endswith("/"):
        pattern += "**"
    out: list[_Step] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append(("**/", ""))
            i += 3
        elif pattern.startswith("**", i):
            out.append(("**", ""))
            i += 2
        elif pattern[i] in "*?":
            out.append((pattern[i], ""))
            i += 1
        elif pattern[i] == "[":
            regex, i = _class(pattern, i)
            out.append(("[", regex))
        else:
            out.append(("c", pattern[i]))
            i += 1
    return tuple(out)


_Places = frozenset[tuple[int, bool]]
# Each pattern's moves, learnt as they are made (a lazy DFA): a move from the same places on the
# same character is a look-up the next time, not a walk over the places.
_moves: dict[tuple[_Step, ...], dict[tuple[_Places, str], _Places]] = {}
MOVES_KEPT = 100_000
PATTERNS_KEPT = 1_000


def _walk(steps: tuple[_Step, ...], path: str) -> bool:
    """``path`` matched by the steps as an automaton: every place the match may be at once, moved
    a character at a time. A place is (step, inside): inside a ``**/`` that has taken characters,
    it may end only at a "/"."""
    if len(_moves) > PATTERNS_KEPT:
        _moves.clear()  # (patterns come and go with claims: those of now are learnt again)
    moves = _moves.setdefault(steps, {})
    if len(moves) > MOVES_KEPT:
        moves.clear()
    places: _Places = frozenset(_closed(steps, {(0, False)}))
    for ch in path:
        known = moves.get((places, ch))
        if known is None:
            known = moves[(places, ch)] = frozenset(_closed(steps, _moved(steps, places, ch)))
        if not known:
            return False
        places = known
    return (len(steps), False) in places


def _moved(steps: tuple[_Step, ...], places: _Places, ch: str) -> set[tuple[int, bool]]:
    end = len(steps)
    moved: set[tuple[int, bool]] = set()
    for i, _inside in places:
        if i == end:
            continue
        kind, arg = steps[i]
        if kind == "c":
            if ch == arg:
                moved.add((i + 1, False))
        elif kind in ("?", "["):
            if ch != "/" and (kind == "?" or re.fullmatch(arg, ch) is not None):
                moved.add((i + 1, False))
        elif kind == "*":
            if ch != "/":
                moved.add((i, False))
        elif kind == "**":
            moved.add((i, False))
        else:  # "**/"
            moved.add((i, True))
            if ch == "/":
                moved.add((i + 1, False))
    return moved


def _closed(steps: tuple[_Step, ...], places: set[tuple[int, bool]]) -> set[tuple[int, bool]]:
    """``places`` with those a run of none reaches from them."""
    end = len(steps)
    todo, seen = list(places), set(places)
    while todo:
        i, inside = todo.pop()
        if i < end and not inside and steps[i][0] in ("*", "**", "**/") and (i + 1, False) not in seen:
            seen.add((i + 1, False))
            todo.append((i + 1, False))
    return seen


def in_scope(scope: tuple[str, ...], path: str) -> bool:
    """True if ``path`` is allowed by any pattern of ``scope``; an empty scope allows everything."""
    return not scope or any(matches(p, path) for p in scope)


def _literal_prefix(pattern: str) -> str:
    m = _WILD.search(pattern)
    return pattern if m is None else pattern[: m.start()]


def patterns_overlap(a: str, b: str) -> bool:
    """Whether some path could match both patterns. Errs towards True when unsure."""
    wild_a, wild_b = _WILD.search(a) is not None, _WILD.search(b) is not None
    if not wild_a and not a.endswith("/") and not wild_b and not b.endswith("/"):
        return a == b
    if not wild_a and not a.endswith("/"):
        return matches(b, a)
    if not wild_b and not b.endswith("/"):
        return matches(a, b)
    pa, pb = _literal_prefix(a), _literal_prefix(b)
    return pa.startswith(pb) or pb.startswith(pa)


def scopes_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether two tasks' scopes may touch the same path.

    A task without a scope claims nothing, so it never holds another task back; declaring
    scopes is how a plan asks for that protection.
    """
    if not a or not b:
        return False
    return any(patterns_overlap(x, y) for x in a for y in b)


NEW_FILE = "czar-new-file"  # a name no rule of anyone's is likely to mean
# What a character class is filled in with: the first of these it takes.
_FILLERS = "".join(dict.fromkeys("xa_0Z9.-" + string.ascii_letters + string.digits))


def probe(pattern: str) -> str:
    """A path a new file of the scope ``pattern`` could have, to ask git whether it would ignore
    it: the pattern with each wildcard filled in (``*`` as ``NEW_FILE``, ``?`` as a letter, a
    class as one of its members, a ``**`` folder as none), a new file in it for a folder."""
    segments = pattern.rstrip("/").split("/")
    parts = [_filled(segment) for segment in segments if segment != "**"]
    if pattern.endswith("/") or segments[-1] == "**" or not parts:
        parts.append(NEW_FILE)
    return "/".join(parts)


def _filled(segment: str) -> str:
    out, i = "", 0
    while i < len(segment):
        ch = segment[i]
        if ch == "*":
            while i < len(segment) and segment[i] == "*":
                i += 1
            out += NEW_FILE
            continue
        if ch == "[":
            try:
                regex, i = _class(segment, i)
            except _BadGlob:  # refused when the plan was read; taken literally here
                out += ch
                i += 1
                continue
            out += next((c for c in _FILLERS if re.fullmatch(regex, c)), "x")
            continue
        out += "x" if ch == "?" else ch
        i += 1
    return out
