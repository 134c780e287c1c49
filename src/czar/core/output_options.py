"""The files that programs otherwise allowed (sorting, compiling, formatting) write through their
options or operands: ``sort -o FILE``, ``gcc -o FILE``, ``gofmt -w FILES``, ``uniq IN OUT``. Each
must be in the task's checkout, as for ``cp`` or a redirect.

Options are read leniently (a program's full table is not needed): a word an unknown option takes
reads as an operand, which only makes the check stricter. Interpreters and build tools (python,
make, npm, awk) run the project's own code: what that code writes is the sandbox's to hold.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from czar.core.options import names
from czar.core.shell import Word
from czar.core.verdicts import allow, ask

if TYPE_CHECKING:
    from czar.core.commands import Cwds, Handler, Judge


@dataclass(frozen=True)
class Writes:
    outputs: frozenset[str] = frozenset()  # options whose value is a file or folder it writes
    valued: frozenset[str] = frozenset()  # other options that take the next word
    runs: frozenset[str] = frozenset()  # options that run a program they name
    operands: slice | None = None  # which operands it writes in place, if any
    only_with: frozenset[str] = frozenset()  # ... only when given one of these (gofmt -w)
    not_with: frozenset[str] = frozenset()  # ... never when given one of these (black --check)
    single_dash: bool = False  # gcc's style: -o is a prefix (-ofile), -std=c11 is one option

    @staticmethod
    def of(
        outputs: str = "",
        valued: str = "",
        *,
        runs: str = "",
        operands: slice | None = None,
        only_with: str = "",
        not_with: str = "",
        single_dash: bool = False,
    ) -> Writes:
        return Writes(
            names(outputs), names(valued), names(runs), operands, names(only_with), names(not_with), single_dash
        )


ALL = slice(0, None)
COMPILER = Writes.of(
    "-o --output -MF -dumpdir", runs="-wrapper -B -fplugin -specs --specs -Xlinker -Xassembler", single_dash=True
)
WRITES: dict[str, Writes] = {
    "sort": Writes.of(
        "-o --output -T --temporary-directory",
        "-k --key -t --field-separator -S --buffer-size --parallel --batch-size --files0-from",
        runs="--compress-program",
    ),
    "uniq": Writes.of(valued="-f --skip-fields -s --skip-chars -w --check-chars", operands=slice(1, None)),
    "xxd": Writes.of(  # (xxd reads no clusters: -ps is one option)
        valued="-c -cols -g -groupsize -l -len -o -offset -s -seek -n -name -R",
        operands=slice(1, None),
        single_dash=True,
    ),
    "iconv": Writes.of("-o --output", "-f --from-code -t --to-code"),
    "tree": Writes.of("-o", "-L -P -I --charset --filelimit --timefmt -H -T --sort", operands=ALL, only_with="-R"),
    "less": Writes.of("-o -O --log-file --LOG-FILE", "-b -h -j -k -p -P -t -T -x -y -z -# --tag --pattern"),
    **dict.fromkeys(("gcc", "g++", "cc", "c++", "clang", "clang++"), COMPILER),
    "ld": Writes.of("-o --output -Map", single_dash=True),
    "go": Writes.of("-o -coverprofile -cpuprofile -memprofile -trace", runs="-exec -toolexec", single_dash=True),
    "patch": Writes.of(
        "-o --output -r --reject-file -B --prefix -Y --basename-prefix -d --directory",
        "-p --strip -i --input -F --fuzz -D --ifdef -V --version-control -z --suffix",
        operands=slice(0, 1),
    ),
    "gofmt": Writes.of("-cpuprofile", "-r", operands=ALL, only_with="-w", single_dash=True),
    "rustfmt": Writes.of(
        valued="--edition --config-path --emit --config --color --style-edition",
        operands=ALL,
        not_with="--check --emit=stdout",
    ),
    "black": Writes.of(
        valued="-l --line-length -t --target-version --include --exclude --extend-exclude --force-exclude "
        "--stdin-filename -W --workers --config --required-version --python-cell-magics -c --code",
        operands=ALL,
        not_with="--check --diff -c --code",
    ),
    "isort": Writes.of(
        valued="--profile -l --line-length --settings-path --sp --skip -s --skip-glob --sg --src -p --project",
        operands=ALL,
        not_with="--check-only --check -c --diff --df --stdout -d",
    ),
    "ruff format": Writes.of(
        "--cache-dir", "--config --target-version --line-length", operands=ALL, not_with="--check --diff"
    ),
    "ruff check": Writes.of(
        "-o --output-file --cache-dir",
        "--config --target-version --line-length --select --ignore --extend-select --output-format",
        operands=ALL,
        only_with="--fix --fix-only --unsafe-fixes --add-noqa",
    ),
    "pytest": Writes.of(
        "--basetemp --junitxml --junit-xml --result-log --report-log --log-file --debug",
        "-k -m -p -c --rootdir --maxfail -n -o --override-ini",
    ),
}


@dataclass
class Read:
    """What a command's words say it writes."""

    seen: set[str]
    outputs: list[Word]
    operands: list[Word]
    runs: list[str]
    unknown: list[Word]  # words only run time can tell: an option that writes, maybe
    values: dict[str, list[Word]]  # every option's values, by its full name


def read(args: Sequence[Word], w: Writes) -> Read:
    out = Read(set(), [], [], [], [], {})
    k = 0
    while k < len(args):
        word = args[k]
        text = word.value
        k += 1
        if text is None:
            out.unknown.append(word)
            out.operands.append(word)
            continue
        if not text.startswith("-") or text == "-":
            out.operands.append(word)
            continue
        if text == "--":
            out.operands.extend(args[k:])
            out.unknown.extend(a for a in args[k:] if a.value is None)
            break
        known = w.outputs | w.valued | w.runs | w.only_with | w.not_with
        if w.single_dash and text.startswith("--") and text[1:].partition("=")[0] in known:
            text = text[1:]  # Go's flags take --o as -o
        name, eq, value = text.partition("=")
        name = _full(name, w)
        out.seen.update({text, name})
        if w.single_dash:
            ran = next((r for r in w.runs if text.startswith(r)), None)
            if ran:
                out.runs.append(ran)
                continue
        elif name in w.runs:
            out.runs.append(name)
        if name in w.outputs or name in w.valued:
            if not eq and k < len(args):
                given, k = args[k], k + 1
            else:
                given = Word(value, word.source)
            out.values.setdefault(name, []).append(given)
            if name in w.outputs:
                out.outputs.append(given)
            continue
        if text.startswith("--"):
            continue
        if w.single_dash:  # -ofile, -MFfile: the value attached
            prefix = next((o for o in w.outputs if not o.startswith("--") and text.startswith(o)), None)
            if prefix:
                out.outputs.append(Word(text[len(prefix) :], word.source))
            continue
        for m, letter in enumerate(text[1:], start=1):  # a getopt cluster: -uo FILE, -ofile
            option = "-" + letter
            out.seen.add(option)
            if option in w.outputs or option in w.valued:
                attached: Word | None = Word(text[m + 1 :], word.source) if text[m + 1 :] else None
                if attached is None and k < len(args):
                    attached, k = args[k], k + 1
                if option in w.outputs and attached is not None:
                    out.outputs.append(attached)
                break
    return out


def _hidden_output(option: str) -> bool:
    """A compiler's options from a file (``@opts``), or an output given to the linker."""
    return option.startswith("@") or (
        option.startswith("-Wl,") and any(o in option for o in (",-o", ",--out", ",-Map"))
    )


def _full(name: str, w: Writes) -> str:
    """A long option as its program reads it: ``--outp`` is ``--output`` (getopt takes a unique
    prefix). A prefix of several is taken for the one that matters most: runs, then writes."""
    if not name.startswith("--") or len(name) < 3:
        return name
    for group in (w.runs, w.outputs, w.only_with, w.valued):
        if name in group:
            return name
        found = sorted(o for o in group if o.startswith(name))
        if found:
            return found[0]
    return name


def _writes(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> None:
    key = name
    if name == "ruff":
        sub, k = None, 0
        settings = [args[m + 1].value for m, a in enumerate(args[:-1]) if a.value == "--config"]
        settings += [a.text.partition("=")[2] for a in args if a.text.startswith("--config=")]
        if any(c is None or "=" in c for c in settings):
            j.add(line, ask("ruff with settings czar does not read (--config KEY=VALUE)"))
            return
        while k < len(args):  # the subcommand: the first word that is not an option's
            text = args[k].value
            if text in ("--config", "--cache-dir") or text is None:
                k += 2
                continue
            if not text.startswith("-"):
                sub = text
                break
            k += 1
        if sub not in ("format", "check"):
            j.add(line, allow("building, testing and reading are allowed"))
            return
        key, args = f"ruff {sub}", args[:k] + args[k + 1 :]
    if name == "go" and args and args[0].value == "run":  # the words after the package are the program's
        package = next((k for k, a in enumerate(args[1:], start=1) if not (a.value or "-").startswith("-")), None)
        args = args if package is None else args[: package + 1]
    w = WRITES[key]
    found = read(args, w)
    if found.runs:
        j.add(line, ask(f"{name} {found.runs[0]} runs a program czar cannot check"))
        return
    if found.unknown and (w.outputs or w.runs):
        j.add(line, ask(f"czar cannot tell what {name} is told to do ({found.unknown[0].source})"))
        return
    if w is COMPILER and any(_hidden_output(a.value or "") for a in args):
        j.add(line, ask(f"{name} is given options czar does not read (a file of them, or the linker's -o)"))
        return
    written = list(found.outputs)
    for setting in found.values.get("-o", []) + found.values.get("--override-ini", []) if name == "pytest" else []:
        key_, _, path = (setting.value or "").partition("=")
        if setting.value is None or key_.strip() == "cache_dir":
            written.append(Word(None if setting.value is None else path, setting.source))
    in_place = w.operands is not None and not (found.seen & w.not_with)
    if w.operands is not None and in_place and (not w.only_with or found.seen & w.only_with):
        written += found.operands[w.operands] or ([Word(".", ".")] if w.only_with == {"-R"} else [])
    if j.writes(line, written, cwds, name):
        j.add(line, allow("building, testing and reading are allowed"))


# The temporary folder as scripts name it ("$TMPDIR", "${TMPDIR:-/tmp}"), and a template under it:
# $TMPDIR is judged where it is set, so either is the task's temp folder.
TMPDIR_WORD = re.compile(r'"?\$\{?TMPDIR(:-/tmp)?\}?"?')
IN_TMPDIR = re.compile(r'"?\$\{?TMPDIR(:-/tmp)?\}?/[^/$`"\\]*"?')


def _mktemp(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> None:
    found = read(args, Writes.of("-p", "--suffix"))
    in_tmp = [f for f in found.outputs if f.value is None and TMPDIR_WORD.fullmatch(f.source)]
    found.outputs = [f for f in found.outputs if f not in in_tmp]
    folders = found.outputs + [
        Word(a.text.partition("=")[2], a.source)
        for a in args
        if "=" in a.text and len(a.text.partition("=")[0]) >= 4 and "--tmpdir".startswith(a.text.partition("=")[0])
    ]
    templates = [t for t in found.operands if not (t.value is None and IN_TMPDIR.fullmatch(t.source))]
    if not folders and (in_tmp or "-t" in found.seen or "--tmpdir" in found.seen or not found.operands):
        # in $TMPDIR, czar's temp folder for the task (a TMPDIR set elsewhere is judged where it is set)
        if any(t.value is None or "/" in t.value for t in templates):
            j.add(line, ask("mktemp's template names a folder of its own under $TMPDIR"))
        else:
            j.add(line, allow("a temporary file"))
        return
    written = templates  # a template without -p names a file from here
    if folders:
        written = [
            Word(None if f.value is None or t.value is None else posixpath.join(f.value, t.value), f.source)
            for f in folders
            for t in found.operands or [Word("tmp.X", "tmp.X")]
        ]
    if j.writes(line, written, cwds, name):
        j.add(line, allow("a temporary file"))


HANDLERS: dict[str, Handler] = {
    **dict.fromkeys({key.split()[0] for key in WRITES}, _writes),
    "mktemp": _mktemp,
}
