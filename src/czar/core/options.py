"""A program's options, read as GNU getopt reads them: clusters (``-rf``), attached values
(``-ofile``, ``--out=file``), unique prefixes of long options (``--target-dir`` for
``--target-directory``) and ``--``.

The policy must know which options take a value: otherwise ``stdbuf -o ls git push`` reads as
``ls``. An option a program's table does not know is an error, never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from czar.core.shell import Word


def names(text: str) -> frozenset[str]:
    """The names in a space-separated list (tables of programs and options read better so)."""
    return frozenset(text.split())


class UnknownOption(ValueError):
    """An option the program's table does not know (the message names it)."""


@dataclass(frozen=True)
class Spec:
    flags: frozenset[str] = frozenset()  # options without a value: "-r", "--recursive"
    valued: frozenset[str] = frozenset()  # options with a value: "-t", "--target-directory"
    permute: bool = True  # options may follow operands (GNU); False: the first operand ends them
    numbers: bool = False  # "-10" is an option (nice, head)

    @staticmethod
    def of(flags: str = "", valued: str = "", *, permute: bool = True, numbers: bool = False) -> Spec:
        return Spec(names(flags), names(valued), permute, numbers)


@dataclass
class Parsed:
    options: list[tuple[str, Word | None]] = field(default_factory=list)
    operands: list[Word] = field(default_factory=list)
    rest: list[Word] = field(default_factory=list)  # after the first operand, when options do not permute

    def has(self, *names: str) -> bool:
        return any(name in names for name, _ in self.options)

    def values(self, *names: str) -> list[Word]:
        return [v for name, v in self.options if name in names and v is not None]


def parse(args: Sequence[Word], spec: Spec) -> Parsed:
    """``args`` split into options and operands; ``UnknownOption`` for an option ``spec`` lacks."""
    out = Parsed()
    i = 0
    while i < len(args):
        word = args[i]
        text = word.value
        if spec.numbers and text is not None and text[:1] == "-" and text[1:].isdigit():
            out.options.append((text, None))
            i += 1
            continue
        if text is None or text == "-" or not text.startswith("-"):
            if not spec.permute:
                out.rest = list(args[i:])
                return out
            out.operands.append(word)
            i += 1
            continue
        if text == "--":
            if spec.permute:
                out.operands.extend(args[i + 1 :])
            else:
                out.rest = list(args[i + 1 :])
            return out
        i += 1
        if text.startswith("--"):
            name, eq, value = text.partition("=")
            name = _long(name, spec)
            if eq:
                out.options.append((name, Word(value, value)))
            elif name in spec.valued:
                if i >= len(args):
                    raise UnknownOption(f"{name} needs a value")
                out.options.append((name, args[i]))
                i += 1
            else:
                out.options.append((name, None))
            continue
        for j in range(1, len(text)):
            name = "-" + text[j]
            if name in spec.valued:
                attached = text[j + 1 :]
                if attached:
                    out.options.append((name, Word(attached, attached)))
                elif i < len(args):
                    out.options.append((name, args[i]))
                    i += 1
                else:
                    raise UnknownOption(f"{name} needs a value")
                break
            if name not in spec.flags:
                raise UnknownOption(name)
            out.options.append((name, None))
    return out


def _long(name: str, spec: Spec) -> str:
    known = spec.flags | spec.valued
    if name in known:
        return name
    matches = [k for k in known if k.startswith("--") and k.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    raise UnknownOption(name if not matches else f"{name} (ambiguous)")
