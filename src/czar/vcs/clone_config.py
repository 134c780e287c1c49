"""A task clone's git configuration, made safe for the one git of czar's that reads it.

czar brings an agent's work in by fetching from its clone (``czar.vcs.checkout``): ``git
upload-pack`` then runs in the clone, outside any sandbox, and reads its configuration, which is
the agent's to write. upload-pack runs no program a repository's configuration names, but the
configuration may still make it wait or reach out:

- ``include.path`` and ``includeIf.*.path`` name other files to read: a FIFO there blocked the
  fetch, and the supervisor with it, until git's time-out, at every look (found by a probe);
- ``remote.*`` with ``extensions.partialClone`` makes a missing object fetched from a server of
  the agent's choosing;
- ``extensions.worktreeConfig`` adds a file of its own (``config.worktree``);
- ``commondir`` (a file beside the configuration) points git at another git folder altogether.

Before each fetch they are taken out; the rest of the agent's settings are kept as they are. The
configuration read is a regular file reached through no link, read within bounds; one that is
not (a FIFO, a link, a huge file) is replaced by a plain one.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

from czar.runtime import untrusted
from czar.vcs.git import Git

LIMIT = 1 << 20  # bytes of configuration read; more is no clone czar made
PLAIN = "[core]\n\trepositoryformatversion = 0\n\tbare = false\n"
_SUSPECT = re.compile(rb"include|remote|partialclone|worktreeconfig", re.IGNORECASE)
_OUT_SECTIONS = ("include", "includeif", "remote")
_OUT_KEYS = ("extensions.partialclone", "extensions.worktreeconfig")


def made_safe(git: Git, clone: Path) -> bool:
    """The clone's configuration without what ``upload-pack`` must not follow; False if it
    cannot be made so (the fetch must not run then)."""
    try:
        with untrusted.folder(clone / ".git") as gitdir:
            with contextlib.suppress(FileNotFoundError):
                os.unlink("commondir", dir_fd=gitdir)
            data = untrusted.read("config", limit=LIMIT + 1, dir_fd=gitdir)
            if data is None or len(data) > LIMIT:
                untrusted.replace(gitdir, "config", PLAIN)
                return True
            if not _SUSPECT.search(data):
                return True  # most of the time: nothing to read further
            entries = _entries(git, data)
            if entries is None:
                untrusted.replace(gitdir, "config", PLAIN)
                return True
            kept = [(k, v) for k, v in entries if not _dropped(k)]
            if len(kept) < len(entries):
                untrusted.replace(gitdir, "config", written(kept))
        return True
    except OSError:
        return False


def _dropped(key: str) -> bool:
    return key.split(".", 1)[0] in _OUT_SECTIONS or key in _OUT_KEYS


def _entries(git: Git, data: bytes) -> list[tuple[str, str | None]] | None:
    """Each setting of the configuration ``data``, in order, as git reads it (its own includes
    not followed); None if git cannot read it."""
    with tempfile.TemporaryDirectory(prefix="czar-config-") as folder:
        copy = Path(folder) / "config"
        copy.write_bytes(data)
        listed = git.run("config", "--file", str(copy), "--no-includes", "--list", "-z", check=False)
    if not listed.ok:
        return None
    entries: list[tuple[str, str | None]] = []
    for entry in listed.output.split("\0"):
        if entry:
            key, newline, value = entry.partition("\n")
            entries.append((key, value if newline else None))
    return entries


def written(entries: list[tuple[str, str | None]]) -> str:
    """A configuration file holding ``entries`` (keys as ``git config --list`` gives them:
    section, subsection if any, name), each value quoted so that git reads it back as it is."""
    lines: list[str] = []
    header = None
    for key, value in entries:
        section, _, rest = key.partition(".")
        subsection, _, name = rest.rpartition(".")
        wanted = f'[{section} "{_escaped(subsection)}"]' if subsection else f"[{section}]"
        if wanted != header:
            lines.append(wanted)
            header = wanted
        lines.append(f"\t{name}" if value is None else f'\t{name} = "{_escaped(value)}"')
    return "\n".join(lines) + "\n"


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
