"""The default verdict on programs that write files (rm, cp, mv, ln, sed -i, find -delete, ...):
every file they write, link to or remove must be in the task's checkout (or its temp folder).
A symbolic or hard link to a file outside the checkout counts as writing there.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING

from czar.core import options as opts
from czar.core import sed_script
from czar.core.shell import Word
from czar.core.verdicts import allow, ask, deny, through_links

if TYPE_CHECKING:
    from czar.core.commands import Cwds, Handler, Judge

FILE_PROGRAMS = {
    "rm": opts.Spec.of(
        "-r -R -f -i -I -v -d --recursive --force --dir --interactive --one-file-system --verbose --preserve-root "
        "--no-preserve-root"
    ),
    "rmdir": opts.Spec.of("-p --parents -v --verbose --ignore-fail-on-non-empty"),
    "unlink": opts.Spec.of(),
    "mkdir": opts.Spec.of("-p --parents -v --verbose -Z", "-m --mode --context"),
    "touch": opts.Spec.of("-a -c -m -h --no-create --no-dereference", "-d --date -r --reference -t --time"),
    "truncate": opts.Spec.of("-c --no-create -o --io-blocks", "-s --size -r --reference"),
    "tee": opts.Spec.of("-a --append -i --ignore-interrupts -p --output-error"),
    "chmod": opts.Spec.of(
        "-R --recursive -c --changes -f --silent --quiet -v --verbose --preserve-root --no-preserve-root", "--reference"
    ),
}
_MODE = re.compile(r"[ugoa]*([-+=][rwxXst]*)+(,[ugoa]*([-+=][rwxXst]*)+)*|[0-7]{1,4}")


def _writes_operands(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> None:
    if name == "chmod":  # a mode may start with "-" (chmod -x f): not an option
        first = next((i for i, a in enumerate(args) if a.value and _MODE.fullmatch(a.value)), None)
        if first is not None and not any(a.value == "--reference" for a in args):
            args = args[:first] + args[first + 1 :]
    parsed = j.options(line, name, args, FILE_PROGRAMS[name])
    if parsed is None:
        return
    if parsed.has("--no-preserve-root"):
        j.add(line, deny(f"{name} --no-preserve-root is never allowed"))
        return
    if name in ("rm", "rmdir") and any(j.is_checkout(w, cwds) for w in parsed.operands):
        j.add(line, deny(f"{name} would remove the task's whole checkout"))
        return
    if j.writes(line, parsed.operands, cwds, name, removes=name in ("rm", "rmdir", "unlink")):
        j.add(line, allow(f"{name} inside the task's checkout"))


COPIERS = {
    "cp": opts.Spec.of(
        "-a -r -R -f -i -n -p -v -u -l -s -L -P -H -d -x -b -T --archive --recursive --force --interactive "
        "--no-clobber --verbose --update --link --symbolic-link --dereference --no-dereference --one-file-system "
        "--no-target-directory --parents --attributes-only --remove-destination --strip-trailing-slashes --backup "
        "--preserve --no-preserve --reflink --sparse --copy-contents --debug --keep-directory-symlink",
        "-t --target-directory -S --suffix",
    ),
    "mv": opts.Spec.of(
        "-f -i -n -u -v -b -T --force --interactive --no-clobber --update --verbose --backup --no-target-directory "
        "--strip-trailing-slashes --exchange --no-copy --debug",
        "-t --target-directory -S --suffix",
    ),
    "ln": opts.Spec.of(
        "-s -f -n -r -v -b -T -L -P -i -d -F --symbolic --force --no-dereference --relative --verbose --backup "
        "--no-target-directory --logical --physical --interactive --directory",
        "-t --target-directory -S --suffix",
    ),
    "install": opts.Spec.of(
        "-d -D -c -b -C -p -s -v -T --directory --compare --preserve-timestamps --strip --verbose --backup "
        "--no-target-directory --debug",
        "-m --mode -o --owner -g --group -t --target-directory -S --suffix --strip-program",
    ),
}


def _copies(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> None:
    parsed = j.options(line, name, args, COPIERS[name])
    if parsed is None:
        return
    targets = parsed.values("-t", "--target-directory")
    operands = list(parsed.operands)
    sources = operands if targets else operands[:-1]
    if not targets and operands:
        targets = operands[-1:]
    if name == "install" and parsed.has("-d", "--directory"):
        targets, sources = operands, []
    if parsed.has("--strip-program"):
        j.add(line, ask("install --strip-program runs a program czar cannot check"))
        return
    if name == "cp" and _keeps_links(parsed):
        # A link copied as a link points where it pointed: `cp -P /proc/self/root r` makes r a door
        # to /, and `touch r/etc/x` then reads as a write in the checkout. The system's own links to
        # anywhere are in /proc, /dev and /sys; elsewhere only -P (-d) copying from outside asks.
        told = parsed.has("-P", "-d", "--no-dereference")
        outside = [w for w in sources if not j.ours(w, cwds) and (told or _system_links(j, w, cwds))]
        if outside:
            j.add(line, ask(f"cp copies links as links from {outside[0].text}, outside the task's checkout"))
            return
    written = list(targets)
    if name == "mv":
        written += sources  # moved away: removed from where they were
    hard = not parsed.has("-s", "--symbolic") if name == "ln" else name == "cp" and parsed.has("-l", "--link")
    if hard:
        written += sources  # a hard link to a file outside the checkout writes through to it
    elif name == "ln" or parsed.has("-s", "--symbolic-link"):
        # A symbolic link to outside the checkout is a door to it. A relative target is read from
        # the link's folder: the target folder, or the folder the link's name is in.
        for src in sources:
            if src.value is None or src.value.startswith(("/", "~")):
                written.append(src)
                continue
            for t in targets:
                folders = [t.value or ""] if parsed.has("-t", "--target-directory") else []
                folders += [] if folders else [t.value or "", posixpath.dirname(t.value or "")]
                written += [Word(_link_target(f, src.value), src.source) for f in folders if t.value]
                if t.value is None:
                    written.append(t)
    if j.writes(line, written, cwds, name):
        j.add(line, allow(f"{name} inside the task's checkout"))


def _link_target(folder: str, target: str) -> str:
    """Where a relative link's ``target`` leads from the ``folder`` it is made in: as the text says
    when the target's own `..` cannot pass through a link (see ``through_links``)."""
    joined = posixpath.join(folder, target)
    return joined if through_links(target) else posixpath.normpath(joined)


def _keeps_links(parsed: opts.Parsed) -> bool:
    """Whether cp copies symbolic links as links: with -P, -d or -a, and when copying folders
    (-r; even with -H, the links inside them), unless -L follows every link (the last of them
    counts: `cp -L -P` keeps links)."""
    keeps = {"-P", "-d", "-a", "--no-dereference", "--archive"}
    last = [name for name, _ in parsed.options if name in keeps | {"-L", "--dereference"}]
    if last:
        return last[-1] in keeps
    return parsed.has("-r", "-R", "--recursive")


def _system_links(j: Judge, source: Word, cwds: Cwds) -> bool:
    """A source the system fills with links to anywhere (/proc/self/root is /), or not known."""
    places = None if source.value is None else j.places(source.value, cwds)
    return places is None or any(posixpath.normpath(p).startswith(("/proc", "/dev", "/sys")) for p in places)


SED = opts.Spec.of(
    "-n --quiet --silent -E -r --regexp-extended -s --separate -u --unbuffered -z --null-data --posix --debug "
    "--sandbox --follow-symlinks -b --binary -i --in-place",
    "-e --expression -f --file -l --line-length",
)


def _sed(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> None:
    # -i takes an optional suffix attached to it (-i.bak, -ni, -Ei): found here, then dropped.
    cleaned: list[Word] = []
    in_place = False
    suffixes: list[str] = []  # a backup's: with a `/`, a folder it goes to (`-i'bak/*'`)
    for a in args:
        text = a.value or ""
        if len(text.partition("=")[0]) >= 3 and "--in-place".startswith(text.partition("=")[0]):  # (or --in)
            in_place = True
            suffixes.append(text.partition("=")[2])
            continue
        if text.startswith("-") and not text.startswith("--"):
            letters = text[1:]
            for k, letter in enumerate(letters):
                if letter in "efl":
                    break  # a value follows: the rest is not flags
                if letter == "i":
                    in_place = True
                    suffixes.append(letters[k + 1 :])
                    a = Word("-" + letters[:k], a.source)
                    break
            if a.value == "-":
                continue
        cleaned.append(a)
    parsed = j.options(line, name, cleaned, SED)
    if parsed is None:
        return
    given = parsed.has("-e", "--expression", "-f", "--file")
    files = parsed.operands if given else parsed.operands[1:]
    backups = [Word(s.replace("*", "x"), s) for s in suffixes if "/" in s]
    if in_place and not j.writes(line, files + backups, cwds, "sed -i"):
        return
    if not parsed.has("--sandbox") and not _sed_scripts(j, line, parsed, cwds):
        return
    j.add(line, allow("editing files in the task's checkout"))


def _sed_scripts(j: Judge, line: str, parsed: opts.Parsed, cwds: Cwds) -> bool:
    """Check what sed's scripts do besides editing: ``w FILE`` writes it, ``e`` runs a command.
    False (with a verdict recorded) if that is not allowed."""
    if parsed.values("-f", "--file"):
        j.add(line, ask("sed -f runs a script file czar does not read (sed --sandbox would be allowed)"))
        return False
    scripts = parsed.values("-e", "--expression") or parsed.operands[:1]
    for script in scripts:
        if script.value is None:
            j.add(line, ask(f"czar cannot read sed's script {script.source}"))
            return False
        try:
            found = sed_script.effects(script.value)
        except sed_script.SedError as exc:
            j.add(line, ask(str(exc)))
            return False
        if found.runs:
            j.add(line, ask("sed's e command runs a command czar cannot read in advance"))
            return False
        if not j.writes(line, [Word(f, f) for f in found.writes], cwds, "sed's w command"):
            return False
    return True


FIND_ACTIONS_WITH_FILE = frozenset({"-fprint", "-fprint0", "-fls", "-fprintf"})


def _find(j: Judge, name: str, args: list[Word], cwds: Cwds, line: str) -> None:
    i = 0
    while i < len(args):
        first = args[i].value or ""
        if first in ("-H", "-L", "-P") or first.startswith("-O"):
            i += 1
        elif first == "-D":
            i += 2
        else:
            break
    roots = []
    while i < len(args) and not (args[i].value or "x").startswith(("-", "(", "!", ",", ")")):
        roots.append(args[i])
        i += 1
    roots = roots or [Word(".", ".")]
    expr = args[i:]
    ok = True
    k = 0
    while k < len(expr):
        word = expr[k].value
        if word is None:
            k += 1
            continue
        if word == "-delete":
            ok = j.writes(line, roots, cwds, "find -delete") and ok
        elif word in FIND_ACTIONS_WITH_FILE and k + 1 < len(expr):
            ok = j.writes(line, [expr[k + 1]], cwds, f"find {word}") and ok
        elif word in ("-exec", "-execdir", "-ok", "-okdir"):
            end = next((m for m in range(k + 1, len(expr)) if expr[m].value in (";", "+")), len(expr))
            command = expr[k + 1 : end]
            if not command:
                j.add(line, deny(f"find {word} without a command"))
                return
            ok = j.writes(line, roots, cwds, f"find {word}") and ok
            for root in roots:
                filled = [
                    Word(w.value.replace("{}", root.value), w.source) if w.value and root.value else w for w in command
                ]
                run_in = cwds
                if word in ("-execdir", "-okdir"):  # in each file's folder: the root's own is its parent
                    # (GNU find runs it for `.` in `.` itself.)
                    up = root.value if root.value in (".", "./") else posixpath.join(root.value or "", "..")
                    parent = Word(up, root.source) if root.value else root
                    there, above = j.chdir(root, cwds), j.chdir(parent, cwds)
                    run_in = None if there is None or above is None else there | above
                j.run(filled, run_in)
            k = end
        k += 1
    if ok:
        j.add(line, allow("finding files"))


HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(FILE_PROGRAMS, _writes_operands),
    **dict.fromkeys(COPIERS, _copies),
    "sed": _sed,
    "find": _find,
}
