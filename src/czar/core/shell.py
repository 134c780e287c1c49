"""A shell command line, read the way bash reads it: commands, their words, redirects and flow.

Parsed by tree-sitter's bash grammar into a small model of czar's own, so that the permission
policy judges what would run, not how it was spelled: quotes and escapes are undone, command
substitutions (``$(...)``, backticks), process substitutions and heredocs are found wherever they
are, and ``&&``, ``||``, ``;``, newlines, pipes, subshells, groups, loops and conditionals keep
their meaning. A word whose value only run time can tell (``$X``, ``$(...)``, a brace expansion)
has no value. What the grammar cannot read, or reads differently from bash, raises
``ShellError``: the policy denies it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

_PARSER = Parser(Language(tree_sitter_bash.language()))
MAX_DEPTH = 8  # scripts inside scripts (``bash -c``, backticks, ``eval``), deeper is refused


class ShellError(ValueError):
    """The command line cannot be read with certainty; the message says why."""


class Flow(StrEnum):
    SEQ = "seq"  # parts run one after the other (``;``, newlines, ``{ ...; }``)
    AND = "and"  # the second part runs if the first succeeded (``&&``)
    OR = "or"  # the second part runs if the first failed (``||``)
    SUB = "sub"  # a subshell: a pipe's part, ``( ... )``, ``&``; its folder changes stay inside
    MAYBE = "maybe"  # runs or not (a branch of ``if``/``case``, a function's body)
    LOOP = "loop"  # runs any number of times (``while``, ``for``)


@dataclass(frozen=True)
class Word:
    value: str | None  # what the shell makes of it; None when only run time can tell
    source: str  # as written

    @property
    def text(self) -> str:
        return self.value if self.value is not None else self.source


@dataclass(frozen=True)
class Redirect:
    op: str  # >, >>, <, &>, >&, <>, >|, <<, <<<, ...
    target: Word | None  # None for heredocs, here-strings and descriptor copies

    @property
    def writes(self) -> bool:
        return self.target is not None and self.op in (">", ">>", "&>", "&>>", ">|", "<>", ">&")


@dataclass(frozen=True)
class Command:
    """A simple command: ``NAME=value ... word ... redirects``; the substitutions in it run first."""

    words: tuple[Word, ...] = ()
    assignments: tuple[tuple[str, Word], ...] = ()
    redirects: tuple[Redirect, ...] = ()
    substitutions: tuple[Block | Command, ...] = ()


@dataclass(frozen=True)
class Block:
    flow: Flow
    parts: tuple[Block | Command, ...]
    redirects: tuple[Redirect, ...] = ()
    substitutions: tuple[Block | Command, ...] = field(default=())


Script = Block | Command


def parse(text: str, depth: int = 0) -> Script:
    """The script ``text`` runs; ``ShellError`` if it cannot be read with certainty."""
    if depth > MAX_DEPTH:
        raise ShellError("scripts nested too deep")
    if "\0" in text:
        raise ShellError("a NUL character in the command")
    data = text.encode("utf-8", "surrogatepass")
    tree = _PARSER.parse(data)
    root = tree.root_node
    if root.has_error:
        raise ShellError(f"czar cannot parse it as a shell command ({_first_error(root)})")
    _check_continuations(data, root)
    _check_hidden(root)
    return _Reader(depth).block(Flow.SEQ, root.children)


# A here-document's delimiter as bash reads it: plain, or quoted whole ('E', "E", \E). With
# quotes inside it (E'X', E"") bash removes them and the grammar does not: it would end elsewhere.
_DELIMITER = re.compile(r"""-?\s*([A-Za-z0-9_.-]+|'[^']*'|"[^"]*"|\\[A-Za-z0-9_.-]+)""")


def _check_hidden(root: Node) -> None:
    """Refuse what bash reads otherwise than the grammar: a backtick the grammar left in a word
    (``${x:-`cmd`}``, a here-document's text), which bash runs; a here-document delimiter with
    quotes inside it; ``>`` or ``<`` in ``[ ]``, which bash takes for a redirect."""
    literal: set[int] = set()  # the bodies of here-documents whose delimiter is quoted: text only
    for n in _walk(root):
        if n.type == "heredoc_redirect":
            start = next((c for c in n.children if c.type == "heredoc_start"), None)
            text = _text(start) if start is not None else ""
            if not _DELIMITER.fullmatch(text):
                raise ShellError(f"czar cannot read the here-document delimiter {text[:40]!r}")
            if any(q in text for q in "'\"\\"):
                literal.update(c.id for c in n.children if c.type == "heredoc_body")
        single = n.type == "test_command" and _text(n).startswith("[") and not _text(n).startswith("[[")
        if single and any(c.type in (">", "<", ">=", "<=") for c in _walk(n)):
            raise ShellError(f"czar cannot read {_text(n)[:40]!r}: in [ ] bash takes > and < for redirects")
    stack = [(root, False)]
    while stack:
        n, quiet = stack.pop()
        quiet = quiet or n.id in literal or n.type in ("raw_string", "comment", "ansi_c_string")
        if n.child_count == 0 and not quiet and n.is_named and _unescaped_backtick(_text(n)):
            raise ShellError(f"czar cannot read the backquote in {_text(n)[:40]!r}")
        stack.extend((c, quiet) for c in n.children)


def _unescaped_backtick(text: str) -> bool:
    escaped = False
    for ch in text:
        if ch == "`" and not escaped:
            return True
        escaped = ch == "\\" and not escaped
    return False


def _first_error(node: Node) -> str:
    for n in _walk(node):
        if n.type == "ERROR" or n.is_missing:
            snippet = _text(n)[:40] or n.type
            return f"near {snippet!r}" if n.type == "ERROR" else f"a missing {n.type!r}"
    return "unbalanced"


def _walk(node: Node) -> Any:
    yield node
    for child in node.children:
        yield from _walk(child)


def _onto_last(s: Script, redirects: tuple[Redirect, ...], subs: tuple[Script, ...]) -> Script:
    """``s`` (a list or a pipeline, as the reader builds them) with ``redirects`` on its last
    command: where bash applies them, after the folder changes before it."""
    if isinstance(s, Command):
        return Command(s.words, s.assignments, s.redirects + redirects, s.substitutions + subs)
    if s.flow in (Flow.AND, Flow.OR):
        return Block(s.flow, (s.parts[0], _onto_last(s.parts[1], redirects, subs)), s.redirects, s.substitutions)
    if s.flow is Flow.SEQ and s.parts and all(isinstance(p, Block) and p.flow is Flow.SUB for p in s.parts):
        last = s.parts[-1]  # a pipeline's command, in a process of its own
        assert isinstance(last, Block)
        moved = Block(Flow.SUB, last.parts, last.redirects + redirects, last.substitutions + subs)
        return Block(Flow.SEQ, (*s.parts[:-1], moved), s.redirects, s.substitutions)
    return Block(s.flow, s.parts, s.redirects + redirects, s.substitutions + subs)


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "surrogatepass")


_QUOTED = frozenset({"raw_string", "string", "heredoc_body", "comment", "ansi_c_string", "translated_string"})


def _check_continuations(data: bytes, root: Node) -> None:
    """bash joins ``a\\<newline>b`` into one word, the grammar makes two: refuse that spelling."""
    spans = [(n.start_byte, n.end_byte) for n in _walk(root) if n.type in _QUOTED]
    for m in re.finditer(rb"\\\n", data):
        start = m.start()
        slashes = len(data[:start]) - len(data[:start].rstrip(b"\\"))
        if slashes % 2:  # an escaped backslash, then a newline
            continue
        if any(a <= start < b for a, b in spans):
            continue
        before = data[start - 1 : start] if start else b" "
        after = data[m.end() : m.end() + 1] or b" "
        if not before.isspace() and not after.isspace():
            raise ShellError("a word continued on the next line (backslash-newline inside a word)")


_WRITE_OPS = frozenset({">", ">>", "&>", "&>>", ">|", "<>", ">&", "<", "<&", ">&-", "<&-"})


class _Reader:
    def __init__(self, depth: int) -> None:
        self.depth = depth

    # -- structure -----------------------------------------------------------------------------

    def block(self, flow: Flow, children: list[Node]) -> Block:
        parts: list[Script] = []
        for child in children:
            if child.type == "&":  # the command before runs in the background, in a subshell
                if parts:
                    parts[-1] = Block(Flow.SUB, (parts[-1],))
                continue
            if not child.is_named or child.type == "comment":
                continue
            parts.append(self.node(child))
        return Block(flow, tuple(parts))

    def node(self, n: Node) -> Script:  # one case per construct of the grammar
        kind = n.type
        named = [c for c in n.children if c.is_named and c.type != "comment"]
        if kind in ("program", "compound_statement", "do_group"):
            if kind == "compound_statement" and n.children and n.children[0].type == "((":
                return Command(substitutions=self.substitutions(n))  # arithmetic: (( ... ))
            return self.block(Flow.SEQ, n.children)
        if kind == "subshell":
            return Block(Flow.SUB, (self.block(Flow.SEQ, n.children),))
        if kind == "list":
            op = next((c.type for c in n.children if c.type in ("&&", "||")), "")
            if len(named) != 2 or not op:
                raise ShellError("czar cannot read a list of commands")
            return Block(Flow.AND if op == "&&" else Flow.OR, (self.node(named[0]), self.node(named[1])))
        if kind == "pipeline":
            return Block(Flow.SEQ, tuple(Block(Flow.SUB, (self.node(c),)) for c in named))
        if kind == "negated_command":  # `! cd x && ...`: what follows runs when the cd failed
            return Block(Flow.MAYBE, (self.block(Flow.SEQ, n.children),))
        if kind == "redirected_statement":
            return self.redirected(n)
        if kind == "command":
            return self.command(n)
        if kind in ("variable_assignment", "variable_assignments"):
            assignments = [n] if kind == "variable_assignment" else named
            subs: list[Script] = []
            pairs = tuple(self.assignment(a, subs) for a in assignments)
            return Command(assignments=pairs, substitutions=tuple(subs))
        if kind in ("declaration_command", "unset_command"):
            return self.declaration(n)
        if kind == "test_command":
            return Command(substitutions=self.substitutions(n))
        if kind in ("if_statement", "elif_clause", "else_clause", "case_item", "function_definition"):
            return self.conditional(n)
        if kind == "case_statement":
            subs_list: list[Script] = []
            value = n.child_by_field_name("value")
            if value is not None:
                self.word(value, subs_list)
            items = tuple(self.node(c) for c in named if c.type == "case_item")
            return Block(Flow.SEQ, (Command(substitutions=tuple(subs_list)), *items))
        if kind in ("while_statement", "for_statement", "c_style_for_statement"):
            return self.loop(n)
        raise ShellError(f"czar cannot read the shell construct {kind!r}")

    def conditional(self, n: Node) -> Block:
        parts: list[Script] = []
        for i, child in enumerate(n.children):
            name = n.field_name_for_child(i)
            if not child.is_named or child.type == "comment" or (n.type == "function_definition" and name == "name"):
                continue
            if n.type == "case_item" and name == "value":
                subs: list[Script] = []
                self.word(child, subs)  # a pattern: only its substitutions run
                parts.append(Command(substitutions=tuple(subs)))
                continue
            parts.append(self.node(child))
        if n.type == "function_definition":  # its body runs where it is called, not here: a person decides
            parts.insert(0, Command((Word("function", "function"),)))
        return Block(Flow.MAYBE, (Block(Flow.SEQ, tuple(parts)),))

    def loop(self, n: Node) -> Block:
        head: list[Script] = []
        body: Script | None = None
        for i, child in enumerate(n.children):
            name = n.field_name_for_child(i)
            if not child.is_named or child.type == "comment":
                continue
            if name == "variable":  # set to each value in turn: what, only run time tells
                head.append(Command(assignments=((_text(child), Word(None, _text(n)[:40])),)))
            elif name == "body":
                body = self.node(child)
            elif n.type == "for_statement":
                subs: list[Script] = []
                self.word(child, subs)  # the values looped over
                head.append(Command(substitutions=tuple(subs)))
            elif n.type == "c_style_for_statement":
                head.append(Command(substitutions=self.substitutions(child)))
            else:  # while's condition
                head.append(self.node(child))
        if body is None:
            raise ShellError(f"czar cannot read the loop {_text(n)[:40]!r}")
        return Block(Flow.SEQ, (*head, Block(Flow.LOOP, (Block(Flow.SEQ, (*head, body)),))))

    def redirected(self, n: Node) -> Script:
        body_node = n.child_by_field_name("body")
        redirects: list[Redirect] = []
        subs: list[Script] = []
        after: list[Script] = []  # commands the grammar hangs on a heredoc (``cat <<E | x``)
        for child in n.children:
            if child == body_node:
                continue
            if child.type in ("file_redirect", "heredoc_redirect", "herestring_redirect"):
                self.redirect(child, redirects, subs, after)
            elif child.is_named:
                raise ShellError(f"czar cannot read the redirection {_text(child)[:40]!r}")
        if body_node is None:
            body: Script = Command()
        else:
            body = self.node(body_node)
        if body_node is not None and body_node.type in ("list", "pipeline"):
            # The grammar hangs `a && b > f` (and `a | b > f`) on the whole list; bash, on `b`.
            moved = _onto_last(body, tuple(redirects), tuple(subs))
            return Block(Flow.SEQ, (moved, Block(Flow.MAYBE, tuple(after)))) if after else moved
        if isinstance(body, Command) and not after:
            return Command(
                body.words,
                body.assignments,
                body.redirects + tuple(redirects),
                body.substitutions + tuple(subs),
            )
        inner = Block(Flow.SEQ, (body,), tuple(redirects), tuple(subs))
        if after:
            return Block(Flow.SEQ, (inner, Block(Flow.MAYBE, tuple(after))))
        return inner

    def redirect(self, n: Node, redirects: list[Redirect], subs: list[Script], after: list[Script]) -> None:
        if n.type == "file_redirect":
            op = next((c.type for c in n.children if not c.is_named), "")
            dest = n.child_by_field_name("destination")
            if op not in _WRITE_OPS:
                raise ShellError(f"czar cannot read the redirection {_text(n)[:40]!r}")
            target = None
            if dest is not None and not (op in (">&", "<&") and dest.type == "number"):
                target = self.word(dest, subs)
            redirects.append(Redirect(op, target))
            return
        if n.type == "herestring_redirect":
            for child in n.children:
                if child.is_named:
                    self.word(child, subs)
            redirects.append(Redirect("<<<", None))
            return
        # a heredoc: its body's substitutions run (unless the delimiter is quoted: then it has none)
        redirects.append(Redirect("<<", None))
        for child in n.children:
            if child.type in ("heredoc_start", "heredoc_end", "<<", "<<-") or not child.is_named:
                continue
            if child.type == "heredoc_body":
                subs.extend(self.substitutions(child))
            elif child.type in ("file_redirect", "herestring_redirect", "heredoc_redirect"):
                self.redirect(child, redirects, subs, after)
            else:
                after.append(self.node(child))

    def command(self, n: Node) -> Command:
        words: list[Word] = []
        assignments: list[tuple[str, Word]] = []
        redirects: list[Redirect] = []
        subs: list[Script] = []
        after: list[Script] = []
        for child in n.children:
            kind = child.type
            if kind == "variable_assignment":
                assignments.append(self.assignment(child, subs))
            elif kind == "command_name":
                inner = [c for c in child.children if c.is_named]
                if len(inner) != 1:
                    raise ShellError(f"czar cannot read the command name {_text(child)[:40]!r}")
                words.append(self.word(inner[0], subs))
            elif kind in ("file_redirect", "heredoc_redirect", "herestring_redirect"):
                self.redirect(child, redirects, subs, after)
            elif kind == "comment":
                continue
            else:
                words.append(self.word(child, subs))
        if after:
            raise ShellError("czar cannot read commands after a heredoc inside a command")
        return Command(tuple(words), tuple(assignments), tuple(redirects), tuple(subs))

    def declaration(self, n: Node) -> Command:
        words: list[Word] = []
        assignments: list[tuple[str, Word]] = []
        subs: list[Script] = []
        end = -1
        assigned = -1  # where the last assignment ends
        for child in n.children:
            if child.type == "variable_assignment":
                assignments.append(self.assignment(child, subs))
                assigned = child.end_byte
            elif child.is_named and child.start_byte == assigned and assignments:
                # More of the assignment's value, read as a piece of its own (``A=(x)"/y"``).
                var, was = assignments.pop()
                assignments.append((var, Word(None, was.source + _text(child))))
            elif child.type == "comment":
                continue
            elif not child.is_named:  # the keyword: export, declare, local, readonly, typeset, unset
                words.append(Word(child.type, child.type))
            else:
                word = Word(_text(child), _text(child)) if child.type == "variable_name" else self.word(child, subs)
                if words and child.start_byte == end:
                    # One word to bash (``OLDP''WD=x``), read as two pieces: a name, then the rest.
                    last = words.pop()
                    value = None if last.value is None or word.value is None else last.value + word.value
                    word = Word(value, last.source + word.source)
                words.append(word)
            end = child.end_byte
        return Command(tuple(words), tuple(assignments), (), tuple(subs))

    def assignment(self, n: Node, subs: list[Script]) -> tuple[str, Word]:
        name = n.child_by_field_name("name")
        value = n.child_by_field_name("value")
        if name is None:
            raise ShellError(f"czar cannot read the assignment {_text(n)[:40]!r}")
        if value is None:
            return _text(name), Word("", "")
        if value.type == "array":
            for child in value.children:
                if child.is_named:
                    self.word(child, subs)
            return _text(name), Word(None, _text(value))
        return _text(name), self.word(value, subs)

    # -- words ---------------------------------------------------------------------------------

    def word(self, n: Node, subs: list[Script]) -> Word:  # one case per kind of word
        kind = n.type
        source = _text(n)
        if kind == "word":
            if _BRACES.search(source):
                return Word(None, source)  # brace expansion: several words, decided at run time
            return Word(_unescape(source), source)
        if kind == "number":
            return Word(source, source)
        if kind == "raw_string":
            return Word(source[1:-1], source)
        if kind == "extglob_pattern":
            return Word(source, source)
        if kind == "string":
            value: str | None = ""
            for child in n.children:
                if child.type == '"':
                    continue
                if child.type == "string_content":
                    value = None if value is None else value + _unescape_quoted(_text(child))
                else:
                    self.dynamic(child, subs)
                    value = None
            return Word(value, source)
        if kind == "concatenation":
            parts = [self.word(c, subs) for c in n.children]
            if any(p.value is None for p in parts) or _BRACES.search(source):
                return Word(None, source)
            return Word("".join(p.value or "" for p in parts), source)
        self.dynamic(n, subs)
        return Word(None, source)

    def dynamic(self, n: Node, subs: list[Script]) -> None:
        """A part of a word only run time can tell; the commands it runs are kept in ``subs``."""
        allowed = (
            "simple_expansion",
            "expansion",
            "command_substitution",
            "process_substitution",
            "arithmetic_expansion",
            "ansi_c_string",
            "translated_string",
            "brace_expression",
        )
        if n.type not in allowed:
            raise ShellError(f"czar cannot read the word {_text(n)[:40]!r} ({n.type})")
        if n.type in ("command_substitution", "process_substitution"):
            subs.append(self.substitution(n))
        else:
            subs.extend(self.substitutions(n))

    def substitutions(self, n: Node) -> tuple[Script, ...]:
        """The command and process substitutions anywhere under ``n``."""
        found: list[Script] = []
        for child in n.children:
            if child.type in ("command_substitution", "process_substitution"):
                found.append(self.substitution(child))
            else:
                found.extend(self.substitutions(child))
        return tuple(found)

    def substitution(self, n: Node) -> Script:
        if n.children and n.children[0].type == "`":
            # Inside backticks bash undoes \\, \` and \$ first, then reads the text again: the
            # grammar does not, so a backtick nested in another is read here.
            inner = _text(n)[1:-1]
            inner = re.sub(r"\\([\\`$])", r"\1", inner)
            return Block(Flow.SUB, (parse(inner, self.depth + 1),))
        body = [c for c in n.children if c.is_named or c.type not in ("$(", "<(", ">(", ")")]
        return Block(Flow.SUB, (self.block(Flow.SEQ, body),))


# (A brace's parts may hold quoted or escaped blanks: `{/a,' '}` is two words.)
_BRACES = re.compile(r"(?<!\$)\{[^{}]*(,|\.\.)[^{}]*\}")


def _unescape(text: str) -> str:
    """An unquoted word's value: a backslash quotes the next character; a line continuation goes."""
    return re.sub(r"\\(.)", r"\1", text.replace("\\\n", ""), flags=re.DOTALL)


def _unescape_quoted(text: str) -> str:
    """Inside double quotes a backslash quotes only ``$ ` " \\`` and a newline."""
    return re.sub(r"\\([$`\"\\\n])", lambda m: "" if m.group(1) == "\n" else m.group(1), text)


def split(text: str) -> list[Word]:
    """The words of ``text`` as a shell splits a simple command (for ``env -S``, ``find -exec``)."""
    script = parse(text)
    if isinstance(script, Block) and len(script.parts) == 1:
        script = script.parts[0]
    if not isinstance(script, Command) or script.assignments or script.redirects or script.substitutions:
        raise ShellError(f"czar cannot read {text[:40]!r} as one command")
    return list(script.words)
