"""What a sed script does besides editing text: the files its ``w`` commands (and ``s///w``) write,
and whether it runs commands (``e``, ``s///e``) or reads files (``r``, ``R``). Read as GNU sed
reads it; what czar cannot read is an error (``SedError``), never a guess.

The commands ``sed --sandbox`` refuses are exactly those this module finds (a test holds it to
GNU sed itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class SedError(ValueError):
    """A script czar cannot read."""


@dataclass
class Effects:
    writes: list[str] = field(default_factory=list)  # files w, W and s///w write
    runs: bool = False  # e, s///e: the shell runs a command
    reads: list[str] = field(default_factory=list)  # files r and R read

    @property
    def any(self) -> bool:
        return bool(self.writes or self.runs or self.reads)


PLAIN = frozenset("=dDgGhHnNpPxzF}")  # commands without an argument
NUMBERED = frozenset("qQlL")  # with an optional number


def effects(script: str) -> Effects:
    """The effects of one ``-e`` script (each ``-e`` is read alone: a line of text after ``a\\``
    ends with its ``-e``)."""
    out = Effects()
    reader = _Reader(script)
    while True:
        reader.skip(" \t\n;")
        if reader.done():
            return out
        if reader.peek() == "#":
            reader.until("\n")
            continue
        reader.address()
        reader.skip(" \t")
        if reader.peek() == ",":
            reader.take()
            reader.skip(" \t")
            reader.address(second=True)
        reader.skip(" \t")
        while reader.peek() == "!":
            reader.take()
            reader.skip(" \t")
        command = reader.take()
        if command in PLAIN or command == "{":
            continue
        if command in NUMBERED:
            reader.skip(" \t")
            reader.digits()
        elif command in "aic":
            reader.text()
        elif command in ":btTv":
            reader.label()
        elif command in "rRwW":
            name = reader.filename()
            (out.writes if command in "wW" else out.reads).append(name)
        elif command == "e":
            reader.until("\n")
            out.runs = True
        elif command == "s":
            reader.substitution(out)
        elif command == "y":
            delimiter = reader.take()
            reader.part(delimiter, brackets=False)
            reader.part(delimiter, brackets=False)
        else:
            raise SedError(f"czar does not know sed's command {command!r}")


class _Reader:
    def __init__(self, text: str) -> None:
        self.text_ = text
        self.i = 0

    def done(self) -> bool:
        return self.i >= len(self.text_)

    def peek(self) -> str:
        return self.text_[self.i] if self.i < len(self.text_) else ""

    def take(self) -> str:
        if self.done():
            raise SedError("a sed script that ends early")
        self.i += 1
        return self.text_[self.i - 1]

    def skip(self, chars: str) -> None:
        while self.peek() and self.peek() in chars:
            self.i += 1

    def until(self, ends: str) -> str:
        start = self.i
        while self.peek() and self.peek() not in ends:
            self.i += 1
        return self.text_[start : self.i]

    def digits(self) -> None:
        while self.peek().isdigit():
            self.i += 1

    def address(self, *, second: bool = False) -> None:
        c = self.peek()
        if c.isdigit():
            self.digits()
            if self.peek() == "~":
                self.take()
                self.digits()
        elif c == "$":
            self.take()
        elif c in ("+", "~") and second:
            self.take()
            self.digits()
        elif c in ("/", "\\"):
            self.take()
            delimiter = self.take() if c == "\\" else "/"
            self.part(delimiter, brackets=True)
            while self.peek() in ("I", "M"):
                self.take()

    def part(self, delimiter: str, *, brackets: bool) -> None:
        """Up to the unescaped ``delimiter`` (a regular expression's brackets hide it: ``[/]``)."""
        while True:
            c = self.take()
            if c == "\\":
                self.take()
            elif c == delimiter:
                return
            elif c == "[" and brackets:
                self.bracket()

    def bracket(self) -> None:
        if self.peek() == "^":
            self.take()
        if self.peek() == "]":
            self.take()
        while True:
            c = self.take()
            if c == "[" and self.peek() in (":", ".", "="):
                end = self.take() + "]"
                while not self.text_.startswith(end, self.i):
                    self.take()
                self.i += 2
            elif c == "]":
                return

    def substitution(self, out: Effects) -> None:
        delimiter = self.take()
        if delimiter in ("\n", "\\"):
            raise SedError("a sed s command with an odd delimiter")
        self.part(delimiter, brackets=True)
        self.part(delimiter, brackets=False)
        while True:
            c = self.peek()
            if c == "w":
                self.take()
                out.writes.append(self.filename())
                return
            if c == "e":
                out.runs = True
            elif not c or not (c in "gpiImM" or c.isdigit()):
                return
            self.take()

    def text(self) -> None:
        """``a text``, ``a\\`` and lines: to the end of a line not ended by a backslash."""
        while not self.done():
            c = self.take()
            if c == "\\":
                if not self.done():
                    self.take()
            elif c == "\n":
                return

    def label(self) -> None:
        """A label (of ``:``, ``b``, ``t``, ``T``) or ``v``'s version: a word, ended by a blank
        as by ``;`` (``:a w FILE`` labels ``a``, then writes FILE)."""
        self.skip(" \t")
        self.until(" \t\n;")

    def filename(self) -> str:
        self.skip(" \t")
        return self.until("\n")
