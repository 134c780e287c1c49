"""The default verdict on a git command, however it is spelled.

Git's global options are read first (``-C``, ``-c key=value``, ``--git-dir``, ``--work-tree``,
``--exec-path``, ``--config-env``): git must work in the task's checkout and must not be told to
run programs or send work elsewhere. Then the subcommand: reading and local work (status, diff,
log, add, commit, merge, rebase, reset, stash, ...) is allowed; moving a protected branch (the
base branch, the integration branch) is denied however it is asked for (push, fetch into it,
branch -f, checkout -B, update-ref); pushing anything else, changing remotes, the repository's
configuration or other branches goes to a person; an unknown subcommand (an alias) too.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from czar.core.options import names
from czar.core.shell import Word
from czar.core.verdicts import Verdict, allow, ask, deny, git_files, inside, writable

if TYPE_CHECKING:
    from collections.abc import Callable

    from czar.core.commands import Cwds, Judge

    Handler = Callable[[Judge, str, list[Word], Cwds, str], None]

GLOBAL_FLAGS = names(
    "-p --paginate -P --no-pager --no-replace-objects --bare --literal-pathspecs --glob-pathspecs "
    "--noglob-pathspecs --icase-pathspecs --no-optional-locks --no-lazy-fetch --no-advice -v --version "
    "-h --help --html-path --man-path --info-path"
)
GLOBAL_VALUED = names("--namespace --super-prefix --attr-source --list-cmds")

READING = names(
    "status diff log show rev-parse ls-files ls-tree cat-file blame annotate grep describe shortlog rev-list "
    "for-each-ref show-ref merge-base name-rev whatchanged diff-tree diff-files diff-index var version help "
    "check-ignore check-attr check-ref-format count-objects show-branch range-diff cherry verify-commit "
    "verify-tag fsck get-tar-commit-id column request-pull ls-remote"
)
LOCAL_WORK = names(
    "add commit restore merge cherry-pick revert reset mv rm stash apply am clean rerere sparse-checkout "
    "commit-tree hash-object mktree read-tree write-tree update-index merge-file checkout-index format-patch "
    "archive mergetool difftool notes"
)
OUTWARD = names(
    "send-pack http-push send-email imap-send svn p4 cvsexportcommit cvsimport cvsserver daemon instaweb "
    "upload-pack receive-pack upload-archive shell http-fetch remote-ext remote-fd credential credential-store "
    "credential-cache lfs bundle submodule"
)
REPOSITORY_WIDE = names("gc prune repack prune-packed maintenance filter-branch filter-repo replace fast-import")

# Configuration that makes git run a program it names (parsed and judged when given on the command
# line), and configuration that runs programs czar cannot read or sends work elsewhere (denied).
CONFIG_COMMAND = re.compile(r"core\.(editor|pager)|sequence\.editor|pager\.[^.]+")
CONFIG_DENIED = re.compile(
    r"(alias|include|includeif|remote|url|credential|filter|protocol|uploadpack|receive|http|ssh|sendemail"
    r"|submodule|lfs|gpg|difftool|mergetool|instaweb|web|browser|man|safe|trace2)\..*"
    r"|core\.(hookspath|fsmonitor|sshcommand|gitproxy|askpass|worktree|alternaterefscommand|attributesfile)"
    r"|diff\.external|diff\..*\.(command|textconv)|merge\..*\.driver|interactive\.difffilter|init\.templatedir"
    r"|branch\..*\.(remote|pushremote)|remote\.pushdefault"
)
RUNS_PROGRAMS = ("--upload-pack", "--receive-pack", "--exec", "--template", "--strip-program")


def judge(j: Judge, args: Sequence[Word], cwds: Cwds, line: str) -> None:
    """Record the verdicts on ``git args`` run in ``cwds``."""
    i = 0
    while i < len(args):
        word = args[i].value
        if word is None:
            j.add(line, deny(f"czar cannot tell what git does with {args[i].source}"))
            return
        if not word.startswith("-"):
            break
        name, eq, value_text = word.partition("=")
        i += 1
        if name in ("-C", "-c", "--git-dir", "--work-tree", "--config-env", *GLOBAL_VALUED) and not eq:
            if i >= len(args):
                j.add(line, deny(f"git {name} without a value"))
                return
            value = args[i]
            i += 1
        else:
            value = Word(value_text, value_text) if eq else Word("", "")
        if name == "-C":
            cwds = j.chdir(value, cwds)
        elif name == "-c":
            if not config_setting(j, line, value, cwds):
                return
        elif name == "--config-env":
            key = (value.value or "").partition("=")[0]
            if value.value is None or CONFIG_DENIED.fullmatch(key.lower()) or CONFIG_COMMAND.fullmatch(key.lower()):
                j.add(line, deny(f"git --config-env {value.source} sets configuration czar cannot check"))
                return
        elif name in ("--git-dir", "--work-tree"):
            v = place(j, name.removeprefix("--").replace("-", "_"), value, cwds, f"git {name}={value.text}")
            if v is not None:
                j.add(line, v)
                return
        elif name == "--exec-path":
            if eq:
                j.add(line, deny("git --exec-path=... runs git's programs from another folder"))
                return
        elif name not in GLOBAL_FLAGS and name not in GLOBAL_VALUED:
            j.add(line, ask(f"czar does not know git's option {name}"))
            return
    sub = args[i].value if i < len(args) else None
    rest = list(args[i + 1 :])
    if sub not in ("clone", "init", "help", "version", None):
        if cwds is None:
            j.add(line, ask("czar cannot tell which repository git works on"))
            return
        outside = sorted(c.folder for c in cwds if not writable(c.folder, j.ctx))
        if outside:
            j.add(line, deny(f"git would work in {outside[0]}, outside the task's checkout"))
            return
    if sub is None:
        j.add(line, allow("git without a command"))
        return
    for w in rest:
        text = w.value or ""
        if text.startswith(RUNS_PROGRAMS) or text.startswith(("ext::", "fd::")):
            j.add(line, deny(f"git {sub} {text.split('=')[0]} runs a program czar cannot check"))
            return
    handler = SUBCOMMANDS.get(sub)
    if handler is not None:
        handler(j, sub, rest, cwds, line)
    elif sub in READING or sub in LOCAL_WORK:
        if j.writes(line, _outputs(sub, rest), cwds, f"git {sub}"):
            j.add(line, allow(f"git {sub} in the task's checkout is allowed"))
    elif sub in OUTWARD:
        j.add(line, ask(f"git {sub} reaches other hosts or credentials; it needs a person"))
    elif sub in REPOSITORY_WIDE:
        j.add(line, ask(f"git {sub} changes the whole repository (shared with your checkout); it needs a person"))
    else:
        j.add(line, ask(f"no rule covers git {sub} (an alias, or a command czar does not know)"))


def _outputs(sub: str, rest: Sequence[Word]) -> list[Word]:
    """The files and folders ``git sub rest`` writes besides the repository: ``--output``,
    ``--output-directory`` (however abbreviated: git takes a unique prefix), ``-o``; the folder
    ``checkout-index --prefix`` writes under; the file ``merge-file`` merges into."""
    found: list[Word] = []
    for k, w in enumerate(rest):
        text = w.value or ""
        following = rest[k + 1] if k + 1 < len(rest) else None
        name, eq, value = text.partition("=")
        if sub == "checkout-index" and len(name) >= 3 and "--prefix".startswith(name):
            # A prefix of each file's path: only a folder's (`a/`) is read; `.` + `git/hooks/x` is .git's.
            prefix = Word(value, w.source) if eq else following
            if prefix is not None:
                whole = prefix.value is not None and prefix.value.endswith("/")
                found.append(Word(prefix.value + "x" if whole and prefix.value else None, prefix.source))
        elif len(name) >= 3 and "--output-directory".startswith(name):
            if eq:
                found.append(Word(value, w.source))
            elif following is not None:
                found.append(following)
        elif sub in ("format-patch", "archive") and _short(text, "o"):  # (elsewhere -o is --others, --only)
            attached = text[text.index("o") + 1 :]  # -ko DIR, -oDIR
            found.append(Word(attached, w.source) if attached else following or Word("", w.source))
    if sub == "merge-file":
        names, operands = _split(rest, "-L --marker-size --diff-algorithm")
        if operands and not {"-p", "--stdout"} & set(names):
            found.append(operands[0])
    return found


def _short(text: str, letter: str) -> bool:
    """Whether ``text`` is a cluster of short options that holds ``letter`` (``-yx``)."""
    return text.startswith("-") and not text.startswith("--") and letter in text[1:]


def place(j: Judge, kind: str, value: Word, cwds: Cwds, who: str) -> Verdict | None:
    """None if git may be pointed at ``value`` as its ``kind`` of place (``git_dir``, ``work_tree``,
    or a file git writes: ``GIT_INDEX_FILE``), else the verdict that says why not. Another
    repository in the checkout (``sub/.git``, one the agent made) asks: git would work there, on
    whatever it points to."""
    path = value.value
    if path is None:
        return ask(f"czar cannot tell where {who} points git")
    places = j.places(path, cwds)
    if places is None:
        return ask(f"czar cannot tell which folder {who} is read from")
    worktree = posixpath.normpath(j.ctx.worktree)
    if not all(inside(p, worktree) or any(inside(p, w) for w in j.ctx.writable) for p in places):
        return deny(f"{who} points git outside the task's checkout")
    if kind == "git_dir":
        if all(posixpath.normpath(p) == worktree + "/.git" for p in places):
            return None
        return ask(f"{who} points git at another repository than the task's checkout")
    if kind == "work_tree":
        if any(git_files(p, j.ctx) for p in places):  # --work-tree=.git: git's files written as work
            return deny(f"{who} makes git's own files a work tree")
        return None
    if all(git_files(p, j.ctx) == "own" for p in places):  # GIT_INDEX_FILE=.git/index.tmp: git's own
        return None
    return j.target(value, cwds, who)


def config_setting(j: Judge, line: str, setting: Word, cwds: Cwds) -> bool:
    """Judge ``-c key=value``; False (with a verdict recorded) if it is not allowed."""
    if setting.value is None:
        j.add(line, deny(f"czar cannot read the git setting {setting.source}"))
        return False
    key, _, value = setting.value.partition("=")
    key = key.lower()
    if CONFIG_DENIED.fullmatch(key):
        j.add(line, deny(f"git -c {key} runs programs or sends work where czar cannot check"))
        return False
    if CONFIG_COMMAND.fullmatch(key) and value:
        j.nested(line, Word(value, value), cwds, f"git's {key}")
    return True


def _split(rest: Sequence[Word], valued: str) -> tuple[list[str], list[Word]]:
    """A subcommand's options (names, values dropped) and operands; options listed in ``valued``
    take the next word when not given as ``--name=value``."""
    takes = names(valued)
    found: list[str] = []
    operands: list[Word] = []
    k = 0
    while k < len(rest):
        text = rest[k].value
        k += 1
        if text is None or not text.startswith("-") or text == "-":
            operands.append(rest[k - 1])
            continue
        if text == "--":
            operands.extend(rest[k:])
            break
        name = text.partition("=")[0]
        if text.startswith("--"):
            found.append(name)
            if name in takes and "=" not in text:
                k += 1
            continue
        for m, letter in enumerate(text[1:], start=1):
            found.append("-" + letter)
            if "-" + letter in takes:
                if m == len(text) - 1:
                    k += 1
                break
    return found, operands


def _branch(ref: str) -> str:
    ref = ref.lstrip("+")
    for prefix in ("refs/heads/", "heads/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def _protected(j: Judge, ref: str) -> str | None:
    """The protected branch ``ref`` names or matches (a glob), if any."""
    name = _branch(ref)
    for b in sorted(j.ctx.protected):
        if name == b or ("*" in name and fnmatchcase(b, name)):
            return b
    return None


def _push(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
    dynamic = [w.source for w in rest if w.value is None]
    if dynamic:
        j.add(line, deny(f"czar cannot tell what git push sends where ({dynamic[0]})"))
        return
    names, operands = _split(rest, "--repo -o --push-option --recurse-submodules --signed")
    if set(names) & {"--all", "--mirror", "--prune", "--branches", "--tags"}:
        j.add(line, deny("pushing every branch (--all, --mirror, --prune, --tags) is never allowed"))
        return
    refspecs = operands[1:]
    if not refspecs:
        j.add(line, deny("pushing without naming a branch pushes what git's configuration says; name it"))
        return
    for spec in refspecs:
        src, colon, dst = (spec.value or "").lstrip("+").partition(":")
        target = dst if colon else src
        if not target:
            j.add(line, deny(f"the refspec {spec.value} pushes matching branches; name the branch"))
            return
        hit = _protected(j, target)
        if hit:
            j.add(line, deny(f"pushing to {hit} is never allowed"))
            return
    j.add(line, ask("pushing needs a person"))


def _fetch(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
    names, operands = _split(
        rest,
        "--depth --deepen --shallow-since --shallow-exclude --refmap -j --jobs --submodule-prefix -o --server-option "
        "--negotiation-tip --filter -s --strategy -X --strategy-option",
    )
    if sub == "fetch" and ("--update-head-ok" in names or "-u" in names):
        j.add(line, deny("git fetch --update-head-ok can move a checked-out branch"))
        return
    refspecs = [] if {"--all", "--multiple"} & set(names) else operands[1:]
    for spec in refspecs:
        if spec.value is None:
            j.add(line, deny(f"czar cannot tell which branch git {sub} writes ({spec.source})"))
            return
        _, colon, dst = spec.value.lstrip("+").partition(":")
        if not colon or not dst:
            continue
        hit = _protected(j, dst)
        if hit:
            j.add(line, deny(f"git {sub} into {hit} would move it; that is never allowed"))
            return
        if not dst.startswith(("refs/remotes/", "refs/tags/")) and _branch(dst) != j.ctx.branch:
            j.add(line, ask(f"git {sub} into the branch {_branch(dst)} needs a person"))
            return
    j.add(line, allow(f"git {sub} brings work in"))


def _branch_command(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
    names, operands = _split(
        rest,
        "-u --set-upstream-to --contains --no-contains --merged --no-merged --points-at --sort --format",
    )
    mutating = {"-d", "-D", "--delete", "-f", "--force", "-m", "-M", "--move", "-c", "-C", "--copy", "-u"}
    mutating |= {"--set-upstream-to", "--unset-upstream", "--edit-description"}
    listing = {"-l", "--list", "-a", "--all", "-r", "--remotes", "--show-current", "--contains", "--merged"}
    renaming = {"-d", "-D", "--delete", "-m", "-M", "--move", "-c", "-C", "--copy"}
    # With -f (and -u) only the first operand is a branch; the second is where it goes.
    named = operands if set(names) & renaming else operands[:1]
    for w in named:
        hit = _protected(j, w.value) if w.value else None
        if hit and (set(names) & mutating):
            j.add(line, deny(f"git branch would move or delete {hit}; that is never allowed"))
            return
    if not set(names) & mutating:
        j.add(line, allow("listing or creating branches is allowed" if operands or names else "listing branches"))
        return
    if set(names) & listing and not operands:
        j.add(line, allow("listing branches"))
        return
    if named and all(w.value == j.ctx.branch and j.ctx.branch for w in named):
        j.add(line, allow("the task's own branch"))
        return
    deleting = set(names) <= {"-d", "-D", "--delete", "-f", "--force"} and set(names) & {"-d", "-D", "--delete"}
    if deleting and named and all(_scratch(w.value) for w in named):
        # A branch of the agent's own making in its clone (a scratch branch): czar takes only the
        # task's branch from there (found by a probe: its deletion waited for a person).
        j.add(line, allow("deleting a branch of its own in its checkout"))
        return
    j.add(line, ask("deleting, moving or forcing a branch other than the task's needs a person"))


def _scratch(name: str | None) -> bool:
    """A branch name that is none of czar's (``czar/...``) and no pattern (a protected branch is
    refused before this)."""
    return bool(name) and not _branch(name or "").startswith("czar/") and not set("*?[\\") & set(name or "")


def _checkout(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
    if any(w.value == "--ignore-other-worktrees" for w in rest):
        j.add(line, deny(f"git {sub} --ignore-other-worktrees takes a branch another checkout holds"))
        return
    for k, w in enumerate(rest):
        text = w.value or ""
        forced = None
        if text in ("-B", "-C", "--force-create") and k + 1 < len(rest):
            forced = rest[k + 1].value
        elif text.startswith("--force-create="):
            forced = text.partition("=")[2]
        elif re.fullmatch(r"-[BC].+", text):
            forced = text[2:]
        hit = _protected(j, forced) if forced else None
        if hit:
            j.add(line, deny(f"git {sub} {text} would reset {hit}; that is never allowed"))
            return
    j.add(line, allow(f"git {sub} in the task's checkout is allowed"))


def _remote(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
    _, operands = _split(rest, "")
    action = operands[0].value if operands else None
    if action in (None, "show", "get-url"):
        j.add(line, allow("reading the remotes"))
    else:
        j.add(line, ask("changing the repository's remotes needs a person"))


def _config(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
    names, operands = _split(rest, "-f --file --blob --type --default --comment -t")
    reads = {"--get", "--get-all", "--get-regexp", "--get-urlmatch", "-l", "--list", "--get-color", "--get-colorbool"}
    writes = {"--unset", "--unset-all", "--replace-all", "--add", "--rename-section", "--remove-section", "-e"}
    writes |= {"--edit"}
    action = operands[0].value if operands else None
    if action in ("get", "list"):
        writing = False
    elif action in ("set", "unset", "rename-section", "remove-section", "edit"):
        writing, operands = True, operands[1:]
    else:
        writing = bool(set(names) & writes) or (not set(names) & reads and len(operands) >= 2)
    if not writing:
        j.add(line, allow("reading git's configuration"))
        return
    if set(names) & {"--global", "--system", "-f", "--file"}:
        j.add(line, deny("writing the user's or the machine's git configuration is never allowed"))
        return
    key = operands[0].value if operands else ""
    if key is None:
        j.add(line, deny("czar cannot tell which git setting this writes"))
        return
    if CONFIG_DENIED.fullmatch(key.lower()) or CONFIG_COMMAND.fullmatch(key.lower()):
        j.add(line, deny(f"git config {key} runs programs or sends work where czar cannot check"))
        return
    j.add(line, ask("changing the repository's configuration (shared with your checkout) needs a person"))


def _refs(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
    _, operands = _split(rest, "-m")
    for w in operands:
        hit = _protected(j, w.value) if w.value else None
        if hit:
            j.add(line, deny(f"git {sub} would move {hit}; that is never allowed"))
            return
    if sub == "symbolic-ref" and len(operands) < 2 and not any(w.value in ("-d", "--delete") for w in rest):
        j.add(line, allow("reading a symbolic ref"))
        return
    j.add(line, ask(f"git {sub} moves refs directly; it needs a person"))


def _listing_or_ask(reading: frozenset[str]) -> Handler:
    def handler(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
        _, operands = _split(rest, "")
        action = operands[0].value if operands else None
        if action is None or action in reading:
            j.add(line, allow(f"git {sub} (reading)"))
        else:
            j.add(line, ask(f"git {sub} {action or ''} changes what is shared with your checkout; it needs a person"))

    return handler


def _tag(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
    names, _ = _split(rest, "-m --message -F --file -u --local-user --sort --format --contains --points-at")
    if set(names) & {"-d", "--delete", "-f", "--force"}:
        j.add(line, ask("deleting or moving a tag needs a person"))
    else:
        j.add(line, allow("listing or creating tags"))


def _rebase(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
    for k, w in enumerate(rest):
        text = w.value or ""
        command = None
        if text in ("-x", "--exec") and k + 1 < len(rest):
            command = rest[k + 1]
        elif text.startswith("--exec="):
            command = Word(text.partition("=")[2], w.source)
        elif text.startswith("-x") and len(text) > 2:
            command = Word(text[2:], w.source)
        if command is not None:
            j.nested(line, command, cwds, "git rebase --exec")
    j.add(line, allow("git rebase in the task's checkout is allowed"))


def _bisect(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
    if rest and rest[0].value == "run":
        if len(rest) > 1:
            j.run(rest[1:], cwds)
        return
    j.add(line, allow("git bisect in the task's checkout is allowed"))


def _grep(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
    if any((w.value or "").startswith(("-O", "--open-files-in-pager")) for w in rest):
        j.add(line, ask("git grep --open-files-in-pager runs a program; it needs a person"))
    else:
        j.add(line, allow("git grep is allowed"))


def _new_repository(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
    names, operands = _split(
        rest,
        "-o --origin -b --branch -u --upload-pack --reference --reference-if-able --separate-git-dir --depth "
        "--shallow-since --shallow-exclude --filter -j --jobs --bundle-uri --server-option -c --config "
        "--object-format --ref-format --initial-branch --shared",
    )
    for k, w in enumerate(rest):
        if w.value in ("-c", "--config") and k + 1 < len(rest):
            if not config_setting(j, line, rest[k + 1], cwds):
                return
        elif (w.value or "").startswith("--config=") and not config_setting(
            j, line, Word(w.text.partition("=")[2], w.source), cwds
        ):
            return
    if "-u" in names and sub == "clone":
        j.add(line, deny("git clone -u runs a program czar cannot check"))
        return
    if {"--bare", "--mirror"} & set(names):  # its files are git's, but not named .git
        j.add(line, ask(f"a bare repository's files are git's own (its config runs programs); git {sub} --bare asks"))
        return
    folders = operands[1:2] if sub == "clone" else operands[:1]
    if not folders:
        folders = [Word(".", ".")] if sub == "init" else []
    separate = [rest[k + 1] for k, w in enumerate(rest[:-1]) if w.value == "--separate-git-dir"]
    if sub == "clone" and not folders:
        j.add(line, allow("cloning into the current folder"))
        if cwds is None or not all(writable(c.folder, j.ctx) for c in cwds):
            j.add(line, ask("czar cannot tell where git clone writes"))
        return
    if j.writes(line, folders + separate, cwds, f"git {sub}"):
        j.add(line, allow(f"git {sub} inside the task's checkout"))


def _difftool(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
    for k, w in enumerate(rest):
        text = w.value or ""
        name, eq, value = text.partition("=")
        following = rest[k + 1] if k + 1 < len(rest) else Word(None, "<nothing>")
        if len(name) >= 3 and "--extcmd".startswith(name):
            j.nested(line, Word(value, w.source) if eq else following, cwds, "git difftool --extcmd")
        elif _short(text, "x"):  # -x CMD, -xCMD, -yx CMD
            attached = text[text.index("x") + 1 :]
            j.nested(line, Word(attached, w.source) if attached else following, cwds, "git difftool -x")
    j.add(line, allow("git difftool in the task's checkout is allowed"))


def _apply(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
    names = [(w.value or "").partition("=")[0] for w in rest]
    if any(len(n) >= 3 and "--unsafe-paths".startswith(n) for n in names):
        j.add(line, ask(f"git {sub} --unsafe-paths writes where the patch says, outside git's checks"))
        return
    roots = []
    for k, w in enumerate(rest):  # --directory=ROOT (or a prefix of the name), --directory ROOT
        name, eq, value = w.text.partition("=")
        if len(name) >= 3 and "--directory".startswith(name):
            roots.append(Word(value, w.source) if eq else rest[k + 1] if k + 1 < len(rest) else w)
    if j.writes(line, roots, cwds, f"git {sub} --directory"):
        j.add(line, allow(f"git {sub} in the task's checkout is allowed"))


def _archive(j: Judge, sub: str, rest: list[Word], cwds: Cwds, line: str) -> None:
    if any((w.value or "").startswith("--remote") for w in rest):
        j.add(line, ask("git archive --remote reaches another repository; it needs a person"))
    elif j.writes(line, _outputs(sub, rest), cwds, "git archive"):
        j.add(line, allow("git archive in the task's checkout is allowed"))


SUBCOMMANDS: dict[str, Handler] = {
    "push": _push,
    "fetch": _fetch,
    "pull": _fetch,
    "branch": _branch_command,
    "checkout": _checkout,
    "switch": _checkout,
    "remote": _remote,
    "config": _config,
    "update-ref": _refs,
    "symbolic-ref": _refs,
    "worktree": _listing_or_ask(frozenset({"list"})),
    "reflog": _listing_or_ask(frozenset({"show", "exists"})),
    "tag": _tag,
    "rebase": _rebase,
    "bisect": _bisect,
    "grep": _grep,
    "clone": _new_repository,
    "init": _new_repository,
    "difftool": _difftool,
    "apply": _apply,
    "am": _apply,
    "archive": _archive,
}
