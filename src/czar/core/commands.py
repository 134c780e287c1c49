"""The default verdict on each command a shell script would run.

Wrappers (``env``, ``command``, ``exec``, ``nice``, ``nohup``, ``timeout``, ``stdbuf``, ``time``,
``xargs``, ``sh -c``, ``bash -c``, ``eval``, ``find -exec``) are looked through to the command
they run, folder changes (``cd``) are followed, and what each command writes (its redirects here,
its operands in ``file_commands``) is checked against the task's checkout. Work inside the
checkout (reading, building, testing, editing, committing) is allowed; what leaves it (pushes,
publishing, sending data: ``network_commands``) goes to a person; writes outside the checkout,
running as another user and what czar cannot read are denied. Git has rules of its own
(``git_commands``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from czar.core import file_commands, git_commands, network_commands, output_options, shell
from czar.core import options as opts
from czar.core.options import names
from czar.core.shell import Block, Command, Flow, Redirect, Script, ShellError, Word
from czar.core.verdicts import Context, Verdict, allow, ask, deny, git_files, inside, through_links, writable


class Here(NamedTuple):
    """A folder a command may run in, with the folder before the last ``cd`` (where ``cd -``
    goes back to): None when czar cannot tell (before the script's first ``cd``)."""

    folder: str
    previous: str | None


# Where a command may run: every (folder, previous folder) the flow may lead to, kept in pairs so
# that ``cd -`` goes back soundly past ``&&``, ``||`` and loops; None when czar cannot tell.
Cwds = frozenset[Here] | None


@dataclass(frozen=True)
class CommandVerdict:
    command: str  # the command as czar reads it (program and words), for the plan's rules
    verdict: Verdict


def judge(script: Script, ctx: Context, cwd: str | None = None, text: str = "") -> list[CommandVerdict]:
    """A verdict per command ``script`` (read from ``text``) would run, starting in ``cwd`` (the
    checkout by default)."""
    j = Judge.of_script(ctx, script, text)
    if "CDPATH" in text:  # ``${CDPATH:=/}``: cd would take a folder's name from it
        j.add("CDPATH", ask("CDPATH changes where cd goes"))
    if ARITHMETIC.search(text):
        for name in sorted(WATCHED):
            if re.search(rf"\b{name}\s*([-+*/%&|^]|<<|>>)?=(?!=)", text):
                j.add(name, ask(f"{name} assigned in arithmetic (let, (( ))), which czar does not follow"))
    j.script(script, frozenset({Here(cwd or ctx.worktree, None)}))
    return j.findings


# Programs that read, build, test or edit inside the checkout and reach nothing outside it.
SAFE = names("""
    ls cat head tail wc grep egrep fgrep rg ag fd echo printf pwd true false test [ [[ : diff cmp
    comm sort uniq cut tr awk gawk mawk which whereis type command date basename dirname
    realpath readlink stat file tree du df free uname id whoami hostname printenv sleep seq expr
    bc jq yq column nl od xxd hexdump sha1sum sha256sum sha512sum md5sum cksum paste join fold
    fmt rev tac less more ps pgrep nproc getconf locale iconv base64 envsubst mktemp
    set shopt read exit return shift wait jobs let getopts unalias umask ulimit trap_list
    export declare local readonly typeset unset
    python pytest pip uv poetry pdm hatch tox nox ruff mypy pyright black isort flake8 pylint
    coverage node npm npx yarn pnpm bun deno tsc jest vitest eslint prettier mocha
    make cmake ninja meson cargo rustc rustfmt rustup go gofmt gcc g++ cc c++ clang clang++ ld
    javac java mvn gradle gradlew kotlinc dotnet ruby rake bundle perl php composer
    czar patch
    """)
DESTRUCTIVE = names(
    "sudo su doas pkexec runuser chroot nsenter unshare mkfs dd shutdown reboot halt poweroff "
    "chown chgrp mount umount fdisk parted wipefs mkswap swapon swapoff"
)
SHELLS = frozenset({"sh", "bash", "dash", "ash"})
OTHER_SHELLS = frozenset({"zsh", "ksh", "mksh", "fish", "csh", "tcsh", "pwsh", "busybox"})
OUTWARD = {
    "twine": "uploading packages needs a person",
    "gh": "gh acts on GitHub for a person",
    "glab": "glab acts on GitLab for a person",
    "hub": "hub acts on GitHub for a person",
    "scp": "copying to or from another host needs a person",
    "sftp": "copying to or from another host needs a person",
    "ssh": "running commands on another host needs a person",
    "gem": "gem can publish packages; it needs a person",
    "docker": "docker needs a person (it can push images and reach the host)",
    "podman": "podman needs a person (it can push images)",
}
# Per program, the words that publish (to a registry, a host): the command then needs a person.
PUBLISHING = {
    **dict.fromkeys(
        ("npm", "pnpm", "yarn", "bun"),
        names("publish unpublish deprecate dist-tag owner access adduser login token team org"),
    ),
    "cargo": frozenset({"publish", "login", "owner", "yank"}),
    "uv": frozenset({"publish"}),
    "poetry": frozenset({"publish"}),
    "pdm": frozenset({"publish"}),
    "hatch": frozenset({"publish"}),
    "flit": frozenset({"publish"}),
    "maturin": frozenset({"publish", "upload"}),
    "make": frozenset({"publish", "release", "deploy", "upload", "push"}),
    "dotnet": frozenset({"push"}),
}
DEVICES = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero"})
# Variables that point git at another repository: they must stay in the checkout.
GIT_PLACES = names(
    "GIT_DIR GIT_WORK_TREE GIT_COMMON_DIR GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES"
)
# Variables that make git, ssh or the shell run a program of their choosing, or configure git.
RUNS_PROGRAMS = names(
    "GIT_EXEC_PATH GIT_SSH GIT_SSH_COMMAND GIT_PROXY_COMMAND GIT_ASKPASS SSH_ASKPASS GIT_TEMPLATE_DIR "
    "GIT_EXTERNAL_DIFF LD_PRELOAD LD_AUDIT BASH_ENV ENV PROMPT_COMMAND GIT_CONFIG GIT_CONFIG_GLOBAL "
    "GIT_CONFIG_SYSTEM GIT_CONFIG_PARAMETERS GIT_CONFIG_COUNT CDPATH BASHOPTS SHELLOPTS LESSOPEN LESSCLOSE"
)
# Variables whose value is a command czar can read (a pager, an editor).
COMMAND_VALUED = names("PAGER GIT_PAGER EDITOR VISUAL GIT_EDITOR GIT_SEQUENCE_EDITOR MANPAGER")
# Variables asked about, rarely needed for ordinary work: where git (and most programs) read their
# configuration (a folder the agent filled could hold an alias, a hook path or a filter), ...
ASKED_VARIABLES = {
    "HOME": "changes where git reads its configuration",
    "XDG_CONFIG_HOME": "changes where git reads its configuration",
    "LESS": "gives less options (a log file) czar does not read",
    "GLOBIGNORE": "makes globs match dot files (.git), as dotglob does",
}
# Where mktemp and most programs make their temporary files: judged as a write.
TEMP_FOLDER = "TMPDIR"
WATCHED = GIT_PLACES | RUNS_PROGRAMS | COMMAND_VALUED | set(ASKED_VARIABLES) | {TEMP_FOLDER}
# Arithmetic assigns too (`let HOME=0`, `(( GIT_DIR=0 ))`, `: $((HOME=0))`): a watched name
# assigned there asks.
ARITHMETIC = re.compile(r"\(\(|\blet\b|\[|\s-[A-Za-z]*i")  # ((, let, [[, $[, a[...], declare -i
# git's trace variables that name no destination (they shape what a trace says).
TRACE_SETTINGS = re.compile(r"GIT_TRACE2?_.*(BRIEF|PARAMS|VARS|NESTING|MAX_FILES|DEBUG|REDACT)")
# Builtins that set a variable named among their words, to a value czar cannot see (read x).
SETS_VARIABLES = names("export declare typeset local readonly read printf mapfile readarray getopts")
DECLARES = names("export declare typeset local readonly")  # their words may be assignments
NAME = r"[A-Za-z_][A-Za-z0-9_]*"  # a variable's
# A name with an index that runs a command: `let 'a[$(cmd)]=1'`, `read 'a[$(cmd)]'`, `$((x))` with
# x='a[$(cmd)]' run it, quotes or not.
INDEX_RUNS = re.compile(r"\[[^\]]*(\$\(|`)")

# A descriptor opened for reading on a file: `1<x`, `3<x`, `{fd}<x`, `<>x` (not `<<`, `<(`, `<&`).
OPENS_DESCRIPTOR = re.compile(r"(\d|\})\s*<(?![<(&])|<>")

_PYTHON = re.compile(r"(python|pypy)(\d+(\.\d+)*)?")
_PIP = re.compile(r"pip\d+(\.\d+)*")


def program_name(path: str) -> str:
    name = posixpath.basename(path)
    if _PYTHON.fullmatch(name):
        return "python"
    if _PIP.fullmatch(name):
        return "pip"
    return name


def _words(s: Script) -> Iterator[str]:
    """Every word's value in ``s`` (and the names it assigns), nested ones included."""
    for sub in s.substitutions:
        yield from _words(sub)
    for r in s.redirects:
        if r.target is not None:
            yield r.target.value or ""
    if isinstance(s, Command):
        yield from (w.value or "" for w in s.words)
        for name, value in s.assignments:
            yield name
            yield value.value or ""
    else:
        for part in s.parts:
            yield from _words(part)


def union(a: Cwds, b: Cwds) -> Cwds:
    return None if a is None or b is None else a | b


@dataclass
class Judge:
    ctx: Context
    depth: int = 0
    findings: list[CommandVerdict] = field(default_factory=list)
    previous_known: bool = True  # whether `cd -` may be followed (see ``of_script``)
    # Whether a descriptor may have been opened on a file (`1</x`, `exec 3</x`): writing
    # /dev/stdout or /dev/fd/3 then opens that file again, for writing.
    descriptors_opened: bool = False

    @classmethod
    def of_script(cls, ctx: Context, script: Script, text: str) -> Judge:
        """The judge of ``script``, read from ``text``. `cd -` goes to $OLDPWD, which a cd sets
        from $PWD: a script that names either, in its text or in a word once its quotes are
        undone (``OLDP''WD=x``, in what ``eval`` runs), makes czar's record of the folder before
        the last cd worthless."""
        words = list(_words(script))  # (eval undoes quotes once more: what it runs may name PWD)
        return cls(
            ctx,
            previous_known="PWD" not in text and not any("PWD" in w or w == "eval" for w in words),
            descriptors_opened=bool(OPENS_DESCRIPTOR.search(text)),
        )

    def add(self, command: str, verdict: Verdict) -> None:
        self.findings.append(CommandVerdict(command, verdict))

    @staticmethod
    def chdir(folder: Word, cwds: Cwds) -> Cwds:
        return chdir(folder, cwds)

    # -- flow: which folder each command runs in ----------------------------------------------

    def script(self, s: Script, cwds: Cwds) -> tuple[Cwds, Cwds]:
        """Judge ``s`` run in ``cwds``; the folders after it succeeded, and after it in any case."""
        for sub in s.substitutions:
            self.script(sub, cwds)
        for r in s.redirects:
            self.redirect(r, cwds)
        if isinstance(s, Command):
            return self.command(s, cwds)
        return self.block(s, cwds)

    def block(self, b: Block, cwds: Cwds) -> tuple[Cwds, Cwds]:
        if b.flow is Flow.SUB:
            self.sequence(b.parts, cwds)
            return cwds, cwds
        if b.flow in (Flow.AND, Flow.OR):
            first_ok, first_any = self.script(b.parts[0], cwds)
            second_ok, second_any = self.script(b.parts[1], first_ok if b.flow is Flow.AND else first_any)
            ok = second_ok if b.flow is Flow.AND else union(first_ok, second_ok)
            return ok, union(first_any, second_any)
        if b.flow is Flow.MAYBE:
            _, after = self.sequence(b.parts, cwds)
            both = union(cwds, after)
            return both, both
        if b.flow is Flow.LOOP:
            current = cwds
            for _ in range(3):  # each round may move on; stop when the set of folders is stable
                _, after = self.sequence(b.parts, current)
                grown = union(current, after)
                if grown == current:
                    return current, current
                current = grown
            self.sequence(b.parts, None)
            return None, None
        return self.sequence(b.parts, cwds)

    def sequence(self, parts: Sequence[Script], cwds: Cwds) -> tuple[Cwds, Cwds]:
        ok, after = cwds, cwds
        for part in parts:
            ok, after = self.script(part, after)
        return ok, after

    # -- one command -----------------------------------------------------------------------------

    def command(self, c: Command, cwds: Cwds) -> tuple[Cwds, Cwds]:
        for w in [*c.words, *(value for _, value in c.assignments)]:
            if w.value is not None and INDEX_RUNS.search(w.value):
                # Asked, not denied: a grep pattern may read so too.
                self.add(w.source, ask("an array's index that would run a command as bash reads the name"))
        for name, value in c.assignments:
            self.variable(name, value, cwds)
        if not c.words:
            if c.assignments:
                self.add(" ".join(f"{n}={v.text}" for n, v in c.assignments), allow("setting a variable"))
            return cwds, cwds
        return self.run(list(c.words), cwds)

    def run(self, words: list[Word], cwds: Cwds) -> tuple[Cwds, Cwds]:
        """Judge the command ``words`` run in ``cwds``; returns the folders after it (``cd``)."""
        head = words[0]
        if head.value is None:
            self.add(head.source, deny(f"czar cannot tell which program `{head.source}` runs"))
            return cwds, cwds
        name = program_name(head.value)
        line = " ".join([name, *(w.text for w in words[1:])])
        args = words[1:]
        if name in SETS_VARIABLES:
            self.sets_variables(name, args, cwds, line)
        handler = HANDLERS.get(name)
        if handler is not None:
            result = handler(self, name, args, cwds, line)
            if result is not None:
                return result
            return cwds, cwds
        if name in DESTRUCTIVE or name.startswith("mkfs."):
            self.add(line, deny(f"{name} is never allowed"))
        elif name in OUTWARD:
            self.add(line, ask(OUTWARD[name]))
        elif name in PUBLISHING and any(w.value in PUBLISHING[name] for w in args):
            self.add(line, ask(f"`{line}` may publish; it needs a person"))
        elif name in SAFE:
            self.add(line, allow("building, testing and reading are allowed"))
        elif "/" in head.value and self.in_checkout(head, cwds):
            # Like `python script.py`: what it does inside is the sandbox's business, not the policy's.
            self.add(line, allow("a program of the task's checkout"))
        else:
            self.add(line, ask(f"no rule covers the program {name}"))
        return cwds, cwds

    # -- what a command writes -----------------------------------------------------------------

    def target(self, word: Word, cwds: Cwds, who: str, *, removes: bool = False) -> Verdict | None:
        """None if ``who`` may write ``word`` from ``cwds``, else the verdict that says why not.
        ``removes``: it only removes it (another repository's ``.git`` removed points git nowhere)."""
        path = word.value
        if path is None:
            return ask(f"czar cannot tell where {who} writes ({word.source})")
        descriptor = path in ("/dev/stdout", "/dev/stderr") or re.fullmatch(r"/dev/fd/\d+", path)
        if descriptor and self.descriptors_opened:
            return ask(f"{who} writes {path}, which a descriptor opened on a file in this command leads to")
        if path in DEVICES or descriptor:  # (not /dev/fd/../..: that is /)
            return None
        if path.startswith("~"):
            return deny(f"{who} would write {path}, outside the task's checkout")
        places = self.places(path, cwds)
        if places is None:
            return ask(f"czar cannot tell which folder {who} writes {path} in")
        if through_links(path):
            # `s/../x` is `x` only if `s` is not a link (`ln -s . s`): the lowest it may reach is
            # as many folders up as it has `..` (links in the checkout lead inside it).
            up = [".."] * path.split("/").count("..")
            lowest = [posixpath.join(c.folder, *up) for c in cwds or ()]
            roots = (self.ctx.worktree, *self.ctx.writable)
            if path.startswith("/") or not all(any(inside(p, r) for r in roots) for p in lowest):
                return ask(f"czar cannot tell where {who} writes {path} (a link may take `..` elsewhere)")
        kinds = {git_files(p, self.ctx) for p in places} - {None}
        if "own" in kinds:
            return deny(f"{who} would write {path}, the checkout's own git files (only git writes there)")
        if kinds and not removes:
            return ask(f"{who} would write {path}, a repository's own git files (it can point git anywhere)")
        if not all(writable(p, self.ctx, git=not removes) for p in places):
            return deny(f"{who} would write {path}, outside the task's checkout")
        return None

    def in_checkout(self, word: Word, cwds: Cwds) -> bool:
        """True if the file ``word`` names is in the task's checkout, from every folder in ``cwds``."""
        return self._under(word, cwds, (self.ctx.worktree,))

    def ours(self, word: Word, cwds: Cwds) -> bool:
        """True if the file ``word`` names is in the task's checkout or a folder of its own."""
        return self._under(word, cwds, (self.ctx.worktree, *self.ctx.writable))

    def _under(self, word: Word, cwds: Cwds, roots: Sequence[str]) -> bool:
        places = None if word.value is None or word.value.startswith("~") else self.places(word.value, cwds)
        return places is not None and all(any(inside(p, r) for r in roots) for p in places)

    def is_checkout(self, word: Word, cwds: Cwds) -> bool:
        """True if ``word`` may name the checkout's own folder (``.``, ``../a``)."""
        places = None if word.value is None else self.places(word.value, cwds)
        return any(posixpath.normpath(p) == posixpath.normpath(self.ctx.worktree) for p in places or ())

    @staticmethod
    def places(path: str, cwds: Cwds) -> list[str] | None:
        """Where ``path`` is from each folder of ``cwds``; None when czar cannot tell."""
        if path.startswith("/"):
            return [path]
        return None if cwds is None else [posixpath.join(c.folder, path) for c in cwds]

    def writes(self, line: str, words: Sequence[Word], cwds: Cwds, who: str, *, removes: bool = False) -> bool:
        """Record a verdict if one of ``words`` may not be written (``removes``: removed); False if so."""
        for w in words:
            v = self.target(w, cwds, who, removes=removes)
            if v is not None:
                self.add(line, v)
                return False
        return True

    def redirect(self, r: Redirect, cwds: Cwds) -> None:
        if r.writes and r.target is not None:
            v = self.target(r.target, cwds, f"the redirect `{r.op} {r.target.source}`")
            if v is not None:
                self.add(f"{r.op} {r.target.text}", v)

    def variable(self, name: str, value: Word, cwds: Cwds) -> None:
        line = f"{name}={value.text}"
        if name in GIT_PLACES and value.value is not None and not value.value.startswith("/"):
            # Read by git where git runs, not where it is set: a later cd takes it elsewhere.
            self.add(line, ask(f"{name} is a relative path: czar cannot tell where git will read it from"))
        elif name in GIT_PLACES:
            kind = {"GIT_DIR": "git_dir", "GIT_COMMON_DIR": "git_dir", "GIT_WORK_TREE": "work_tree"}.get(name, "file")
            v = git_commands.place(self, kind, value, cwds, name)
            if v is not None:
                self.add(line, v)
        elif name in RUNS_PROGRAMS or name.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_")):
            self.add(line, deny(f"{name} makes git or the shell run or read what czar cannot check"))
        elif name in COMMAND_VALUED:
            self.nested(line, value, cwds, name)
        elif name in ASKED_VARIABLES:
            self.add(line, ask(f"{name} {ASKED_VARIABLES[name]}; czar cannot check it"))
        elif name == TEMP_FOLDER:
            v = self.target(Word(None if value.value is None else value.value + "/x", value.source), cwds, name)
            if v is not None:
                self.add(line, v)
        elif name.startswith("GIT_TRACE") and not TRACE_SETTINGS.fullmatch(name):
            self.trace(line, value, cwds)

    def trace(self, line: str, value: Word, cwds: Cwds) -> None:
        """``GIT_TRACE=1`` (or true, or a descriptor's number) prints; a full path is a file git writes."""
        text = value.value
        if text is not None and (text.lower() in ("", "true", "false", "yes", "no") or text.isdigit()):
            return
        if text is None or not text.startswith("/"):  # (af_unix:..., a relative path)
            v: Verdict | None = ask(f"czar cannot tell where {line} writes git's trace")
        else:
            v = self.target(value, cwds, line)
        if v is not None:
            self.add(line, v)

    def sets_variables(self, name: str, args: Sequence[Word], cwds: Cwds, line: str) -> None:
        """``read GIT_DIR``, ``export GIT_DIR``: a watched variable set to what czar cannot see;
        ``export GIT_""DIR=x``: an assignment, quoted so that it reads as a word."""
        for k, w in enumerate(args):
            quoted = re.match(rf"""["']?({NAME})=""", w.source)
            if w.value is None:
                if quoted and name in DECLARES:  # `export "PATH=$PATH:x"`: a known name
                    self.variable(quoted.group(1), Word(None, w.source), cwds)
                elif name != "printf" or (k > 0 and args[k - 1].value == "-v"):
                    self.add(line, ask(f"czar cannot tell which variable {name} sets ({w.source})"))
                continue
            var, eq, value = w.value.partition("=")
            if eq and name in DECLARES and not re.fullmatch(NAME, var):
                self.add(line, ask(f"czar cannot tell which variable {name} sets ({w.source})"))  # a glob, say
            elif eq and name in DECLARES:
                self.variable(var, Word(value, value), cwds)
            elif var in WATCHED or var.startswith(("GIT_CONFIG_", "GIT_TRACE")):
                self.variable(var, Word(None, f"<set by {name}>"), cwds)
        if name in ("declare", "typeset", "local") and any(
            w.value and w.value.startswith("-") and "n" in w.value[1:] for w in args
        ):
            self.add(line, ask(f"{name} -n makes a name reference czar cannot follow"))

    def nested(self, line: str, text: Word, cwds: Cwds, who: str) -> tuple[Cwds, Cwds]:
        """Judge a script given as a word (``bash -c``, ``eval``, an editor variable)."""
        if text.value is None:
            self.add(line, deny(f"czar cannot read the script {who} runs ({text.source})"))
            return cwds, cwds
        if self.depth >= shell.MAX_DEPTH:
            self.add(line, deny("scripts nested too deep"))
            return cwds, cwds
        try:
            script = shell.parse(text.value, self.depth + 1)
        except ShellError as exc:
            self.add(line, deny(f"{who}: {exc}"))
            return cwds, cwds
        inner = Judge(self.ctx, self.depth + 1, self.findings, self.previous_known, self.descriptors_opened)
        return inner.script(script, cwds)

    def back(self, cwds: Cwds) -> Cwds:
        """Where ``cd -`` leads from ``cwds``: to the folder before the last cd, which becomes the
        previous one; None when czar cannot tell."""
        if cwds is None or not self.previous_known or any(c.previous is None for c in cwds):
            return None
        return frozenset(Here(c.previous, c.folder) for c in cwds if c.previous is not None)

    def options(self, line: str, name: str, args: Sequence[Word], spec: opts.Spec) -> opts.Parsed | None:
        try:
            return opts.parse(args, spec)
        except opts.UnknownOption as exc:
            self.add(line, ask(f"czar does not know {name}'s option {exc}"))
            return None


Handler = Callable[[Judge, str, list[Word], Cwds, str], "tuple[Cwds, Cwds] | None"]
HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for n in names:
            HANDLERS[n] = fn
        return fn

    return register


# -- folders -----------------------------------------------------------------------------------


@handles("cd", "pushd")
def _cd(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> tuple[Cwds, Cwds]:
    j.add(line, allow("changing folder"))
    operands = [a for a in args if a.value is None or not (a.value.startswith("-") and a.value != "-")]
    if len(operands) != 1 or (name == "pushd" and (operands[0].value or "+").startswith(("+", "-"))):
        return None, None  # home, or a place on pushd's stack: czar cannot tell where
    if name == "pushd" and any(a.value == "-n" for a in args):
        return cwds, cwds  # only the stack changes, not the folder nor $OLDPWD
    moved = j.back(cwds) if name == "cd" and operands[0].value == "-" else chdir(operands[0], cwds)
    return moved, union(cwds, moved)  # a failed cd leaves the folder as it was


def chdir(folder: Word, cwds: Cwds) -> Cwds:
    """Where a change to ``folder`` leads from ``cwds`` (``cd``, ``git -C``, ``env -C``: to them
    ``-`` is a folder's name; ``cd -`` is ``Judge.back``); None when czar cannot tell."""
    path = folder.value
    if path is None or path.startswith("~") or through_links(path):
        return None  # a variable, a home, a `..` after a name that may be a link
    if cwds is None:  # from where czar cannot tell: only a full path leads somewhere known
        return frozenset({Here(posixpath.normpath(path), None)}) if path.startswith("/") else None
    return frozenset(Here(posixpath.normpath(posixpath.join(c.folder, path)), c.folder) for c in cwds)


@handles("popd")
def _popd(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> tuple[Cwds, Cwds]:
    j.add(line, allow("changing folder"))
    return None, None


# -- wrappers: the command they run is what counts ---------------------------------------------

WRAPPERS = {
    "env": opts.Spec.of(
        "-i --ignore-environment -0 --null -v --debug --list-signal-handling --default-signal --ignore-signal "
        "--block-signal",
        "-u --unset -C --chdir -S --split-string",
        permute=False,
    ),
    "command": opts.Spec.of("-p -v -V", permute=False),
    "builtin": opts.Spec.of(permute=False),
    "exec": opts.Spec.of("-c -l", "-a", permute=False),
    "nice": opts.Spec.of("", "-n --adjustment", permute=False, numbers=True),
    "nohup": opts.Spec.of(permute=False),
    "setsid": opts.Spec.of("-c --ctty -f --fork -w --wait", permute=False),
    "timeout": opts.Spec.of(
        "--preserve-status --foreground -v --verbose", "-s --signal -k --kill-after", permute=False
    ),
    "stdbuf": opts.Spec.of("", "-i -o -e --input --output --error", permute=False),
    "time": opts.Spec.of(
        "-p -a --append -v --verbose -q --quiet --portability", "-o --output -f --format", permute=False
    ),
    "xargs": opts.Spec.of(
        "-0 --null -o --open-tty -p --interactive -r --no-run-if-empty -t --verbose -x --exit --show-limits -e -i -l",
        "-a --arg-file -d --delimiter -E -I -L -n --max-args -P --max-procs -s --max-chars --process-slot-var",
        permute=False,
    ),
}


@handles(*WRAPPERS)
def _wrapper(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> tuple[Cwds, Cwds] | None:
    parsed = j.options(line, name, args, WRAPPERS[name])
    if parsed is None:
        return None
    here = cwds  # where the caller is, and stays: the command runs in a process of its own
    inner = list(parsed.rest)
    if name == "env":
        for value in parsed.values("-S", "--split-string"):
            if value.value is None:
                j.add(line, deny(f"czar cannot read env's command {value.source}"))
                return None
            try:
                inner = shell.split(value.value) + inner
            except ShellError as exc:
                j.add(line, deny(f"env -S: {exc}"))
                return None
        while inner and inner[0].value is not None and re.match(f"{NAME}=", inner[0].value):
            var, _, value_text = inner[0].value.partition("=")
            j.variable(var, Word(value_text, value_text), cwds)
            inner = inner[1:]
        for folder in parsed.values("-C", "--chdir"):
            cwds = chdir(folder, cwds)
    if name == "command" and parsed.has("-v", "-V"):
        j.add(line, allow("describing a command"))
        return None
    if name == "time":
        for out in parsed.values("-o", "--output"):
            j.writes(line, [out], cwds, "time")
    if name == "timeout":
        inner = inner[1:]  # the duration
    if name == "xargs":
        inner = inner or [Word("echo", "echo")]
        replace = [w.value for w in parsed.values("-I") if w.value] + (["{}"] if parsed.has("-i") else [])
        if replace:
            inner = [
                Word(None, w.source) if w.value is None or any(r in w.value for r in replace) else w for w in inner
            ]
        else:
            inner = [*inner, Word(None, "<its input>")]  # the words xargs reads are added to the command
    if not inner:
        j.add(line, allow(f"{name} without a command"))
        return None
    ok, after = j.run(inner, cwds)
    if name in ("command", "builtin"):  # the shell's own command (`command cd x` moves the shell)
        return ok, after
    if name == "time":  # bash's keyword (in this shell) or the program (a process of its own)
        return union(here, ok), union(here, after)
    return here, here


@handles(*SHELLS)
def _shell(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> tuple[Cwds, Cwds] | None:
    i, script = 0, None
    while i < len(args):
        text = args[i].value
        if text is None or not text.startswith(("-", "+")) or text in ("-", "--"):
            break
        if text in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            if text in ("--rcfile", "--init-file"):
                j.add(line, ask(f"{name} {text} runs a script file czar cannot read"))
                return None
            i += 2
            continue
        if not text.startswith("--") and "c" in text[1:]:
            script = i + 1
        i += 1
    if script is not None:
        if script >= len(args):
            j.add(line, deny(f"{name} -c without a script"))
            return None
        j.nested(line, args[script], cwds, f"{name} -c")
        return None  # a shell of its own: its cd moves only itself
    if i < len(args) and args[i].value not in ("-", "--"):
        if j.in_checkout(args[i], cwds):
            j.add(line, allow(f"{name} runs a script of the task's checkout"))
        else:
            j.add(line, ask(f"{name} runs a script file from outside the task's checkout"))
    else:
        j.add(line, ask(f"{name} runs a script from its input, which czar cannot read"))
    return None


@handles(*OTHER_SHELLS)
def _other_shell(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> None:
    j.add(line, ask(f"czar reads sh and bash scripts, not {name}'s"))


@handles("eval")
def _eval(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> tuple[Cwds, Cwds] | None:
    if any(a.value is None for a in args):
        j.add(line, deny("czar cannot read what eval runs"))
        return None
    text = " ".join(a.value or "" for a in args)
    return j.nested(line, Word(text, text), cwds, "eval")


@handles("source", ".")
def _source(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> tuple[Cwds, Cwds]:
    if args and j.in_checkout(args[0], cwds):
        j.add(line, allow(f"{name} runs a script of the task's checkout"))
    else:
        j.add(line, ask(f"{name} runs a script file from outside the task's checkout"))
    if args and args[0].value is not None and args[0].value.endswith("bin/activate"):
        return cwds, cwds  # a virtualenv's: it sets PATH and a prompt (the sandbox holds if it is not)
    return None, None  # it runs in this shell: it may have changed its folder (and $OLDPWD)


# Options of the shell's globbing and matching: none changes where cd goes or which shell runs what.
# (Not dotglob: then `*` matches .git, which czar takes only `.`-led globs to reach.)
HARMLESS_SHOPTS = names(
    "globstar nullglob extglob failglob nocaseglob nocasematch globasciiranges progcomp checkwinsize histappend"
)


def _flags(values: Sequence[str | None]) -> str:
    """The letters of the short options among ``values`` (``-qs`` -> ``qs``)."""
    return "".join(v[1:] for v in values if v and v.startswith("-") and not v.startswith("--"))


@handles("shopt")
def _shopt(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> None:
    values = [a.value for a in args]
    flags = _flags(values)
    options = [v for v in values if v is None or not v.startswith("-")]
    changes = "s" in flags or "u" in flags or "o" in flags  # (-u globskipdots: `.?` matches `..`)
    setting = changes or (not flags and options)  # (no flag: it only prints)
    if None in values or (changes and any(o not in HARMLESS_SHOPTS for o in options)):
        j.add(line, ask("a shell option czar does not follow (cdable_vars moves cd, lastpipe a pipeline's end)"))
    else:
        j.add(line, allow("setting the shell's globbing" if setting else "reading the shell's options"))


@handles("set")
def _set(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> None:
    values = [a.value for a in args]
    flags = _flags(values)
    named = {v for v in values if v}
    if None in values or "k" in flags or "a" in flags or named & {"keyword", "allexport"}:
        # -k: NAME=value words anywhere on a command line set its environment (git's GIT_DIR);
        # -a: every variable set from then on is exported.
        j.add(line, ask("set -k or -a makes variables reach programs where czar does not look for them"))
    else:
        j.add(line, allow("setting the shell's options"))


@handles("hash")
def _hash(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> None:
    if any(a.value is None or (a.value.startswith("-") and "p" in a.value) for a in args):
        j.add(line, ask("hash -p makes a name run another program"))
    else:
        j.add(line, allow("the shell's table of programs"))


@handles("alias", "trap", "function")
def _unreadable(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> None:
    j.add(line, ask(f"{name} runs commands czar cannot read in advance"))


@handles("python")
def _python(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> tuple[Cwds, Cwds] | None:
    i = 0
    while i < len(args):
        text = args[i].value or ""
        if text in ("-X", "-W"):
            i += 2
            continue
        if text.startswith("-m"):
            module = text[2:] or (args[i + 1].value if i + 1 < len(args) else "") or ""
            rest = args[i + 1 :] if text[2:] else args[i + 2 :]
            top = module.split(".")[0]
            if top in OUTWARD or top in PUBLISHING or top in HANDLERS:
                j.run([Word(top, top), *rest], cwds)
                return None  # a process of its own: it moves no shell
            break
        if not text.startswith("-") or text.startswith("-c"):
            break
        i += 1
    j.add(line, allow("building, testing and reading are allowed"))
    return None


@handles("git")
def _git(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> None:
    git_commands.judge(j, args, cwds, line)


HANDLERS.update(file_commands.HANDLERS)
HANDLERS.update(network_commands.HANDLERS)
HANDLERS.update(output_options.HANDLERS)
