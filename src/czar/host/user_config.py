"""An agent that runs with your home (``home = "user"``) writes its state there: its sessions, its
login as it refreshes it. Its *configuration* there is another matter: hooks, MCP servers, commands,
instructions and its own program are what your own sessions of that agent run later, outside any
sandbox. So, per agent kind:

- what holds them is made if missing (an empty settings file, an empty folder: what the agent
  would read as "nothing configured") and bound read-only into the agent's sandbox (``locked``):
  the kernel refuses changes, with no window in which your own session could pick one up;
- what cannot be bound, a link (yours to your dotfiles, say: a bind would follow it) and Claude
  Code's ``~/.claude.json`` (it keeps its state there too, so it stays writable, but it also lists
  MCP servers, programs it starts), is compared when the agent ends: what changed is undone, the
  agent's version kept aside, with an alert (``undo``).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from czar.runtime import untrusted

# Relative to the home: what holds an agent's programs and standing instructions, and what it is
# made as when missing ("{}" a JSON file, "" an empty file, None a folder; "-" not made: locked
# only when it is there, such as Claude Code's own program in ``~/.claude/local``).
CONFIG: dict[str, dict[str, str | None]] = {
    "claude": {
        ".claude/settings.json": "{}",
        ".claude/CLAUDE.md": "",
        ".claude/commands": None,
        ".claude/agents": None,
        ".claude/skills": None,
        ".claude/hooks": None,
        ".claude/output-styles": None,
        ".claude/local": "-",
        ".claude/plugins": "-",
    },
    "codex": {".codex/config.toml": "", ".codex/AGENTS.md": "", ".codex/prompts": None},
    "gemini": {
        ".gemini/settings.json": "{}",
        ".gemini/GEMINI.md": "",
        ".gemini/extensions": None,
        ".gemini/commands": None,
    },
    "aider": {},
}
# What of its state the agent keeps apart from your own sessions, in a folder of czar's: what your
# running Claude Code sources before each of its commands (its shell's snapshots) must not be the
# agent's to write.
PRIVATE: dict[str, tuple[str, ...]] = {"claude": (".claude/shell-snapshots",)}
# Claude Code's state file, which also lists MCP servers: those are kept as they were.
CLAUDE_STATE = ".claude.json"
STATE_LIMIT = 64 << 20


@dataclass(frozen=True)
class Snapshot:
    """What of the agent's configuration in a home could change while it ran, as it was before."""

    home: Path
    unlocked: dict[str, str | None] = field(default_factory=dict)  # path -> link target, None: absent, REAL
    state: str | None = None  # ``~/.claude.json`` as it was ("{}": none; None: not read, not checked)


def prepare(kind: str, home: Path) -> None:
    """Make what is missing of the agent's configuration, as "nothing configured", so that it can
    be locked. Only under folders of the agent's that exist (its state folders are made before)."""
    for rel, empty in CONFIG.get(kind, {}).items():
        path = home / rel
        if empty == "-" or os.path.lexists(path) or not path.parent.is_dir() or path.parent.is_symlink():
            continue
        try:
            if empty is None:
                path.mkdir()
            else:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                with os.fdopen(fd, "w") as fh:
                    fh.write(empty + ("\n" if empty else ""))
        except OSError:
            continue  # left unlocked: ``undo`` covers it


def locked(kind: str, home: Path) -> tuple[Path, ...]:
    """What of the agent's configuration can be bound read-only: real files and folders (a link
    would be followed, to wherever it points). Its folder in your home may be a link of yours (to
    your dotfiles): the agent cannot replace that folder, which is bound in its sandbox."""
    return tuple(
        home / rel for rel in CONFIG.get(kind, {}) if os.path.lexists(home / rel) and not (home / rel).is_symlink()
    )


def private(kind: str, home: Path, own: Path) -> tuple[tuple[Path, Path], ...]:
    """The folders of the agent's own under ``own`` that stand in for those of ``PRIVATE`` in
    ``home`` (both made), for ``Confinement.private``; none where a link is on the way."""
    found = []
    for rel in PRIVATE.get(kind, ()):
        place = home / rel
        if not place.parent.is_dir():
            continue  # the agent's folder is not there: nothing of yours to keep apart
        # Bound at its name: inside the sandbox that is in the agent's folder as bound there,
        # wherever a link of yours (or one the agent left) leads outside.
        (own / rel).mkdir(parents=True, exist_ok=True)
        if not os.path.lexists(place):
            place.mkdir()
        found.append((own / rel, place))
    return tuple(found)


def snapshot(kind: str, home: Path) -> Snapshot:
    """What ``undo`` compares to, taken just before the agent starts."""
    bound = set(locked(kind, home))
    unlocked = {rel: _kind_of(home / rel) for rel in CONFIG.get(kind, {}) if home / rel not in bound}
    state = None
    if kind == "claude":  # a file not there yet is one with no MCP servers
        exists = os.path.lexists(home / CLAUDE_STATE)
        state = untrusted.read_text(home / CLAUDE_STATE, limit=STATE_LIMIT) if exists else "{}"
    return Snapshot(home, unlocked, state)


def save(before: Snapshot, path: Path) -> None:
    """``before`` kept on disk while the agent runs: if its worker host is killed, the next one
    undoes what the agent did (``load``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps({"home": str(before.home), "unlocked": before.unlocked, "state": before.state}))
    os.replace(part, path)


def load(path: Path) -> Snapshot | None:
    """A snapshot ``save`` kept, or None if there is none (or it cannot be read)."""
    try:
        data = json.loads(path.read_text())
        return Snapshot(Path(data["home"]), dict(data["unlocked"]), data["state"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def undo(kind: str, before: Snapshot, keep: Path) -> list[str]:
    """Undo what changed of the agent's configuration since ``before``, moved into ``keep`` rather
    than deleted (a person may have made it meanwhile: nothing is lost); returns what was undone."""
    undone = []
    for rel, link in before.unlocked.items():
        path = before.home / rel
        if _kind_of(path) == link:
            continue  # as it was: the same link, still absent, or yours as it is (never moved away)
        if os.path.lexists(path):
            (keep / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, keep / rel)  # a link is moved as a link
        if link is not None and link != REAL:
            path.symlink_to(link)  # (a file of yours the agent replaced cannot be put back: it is gone)
        undone.append(f"~/{rel}")
    if kind == "claude" and before.state is not None:
        exists = os.path.lexists(before.home / CLAUDE_STATE)
        now_text = untrusted.read_text(before.home / CLAUDE_STATE, limit=STATE_LIMIT) if exists else "{}"
        if _servers(now_text) != _servers(before.state):
            keep.mkdir(parents=True, exist_ok=True)
            (keep / CLAUDE_STATE).write_text(now_text or "")
            _write(before.home / CLAUDE_STATE, _with_servers(now_text, before.state))
            undone.append(f"~/{CLAUDE_STATE} (its MCP servers)")
    return undone


REAL = "\0real"  # an entry that is a file or folder of its own, not a link


def _kind_of(path: Path) -> str | None:
    """What ``path`` is, as ``Snapshot.unlocked`` keeps it: a link's target, ``REAL``, or None."""
    if path.is_symlink():
        return os.readlink(path)
    return REAL if os.path.lexists(path) else None


def _load(text: str | None) -> dict[str, Any] | None:
    try:
        data = json.loads(text) if text else None
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _servers(text: str | None) -> str | None:
    """The MCP servers a ``~/.claude.json`` lists, for the user and per project, as canonical JSON;
    None if it cannot be read as one (then it is put back whole)."""
    data = _load(text)
    if data is None:
        return None
    projects = data.get("projects") if isinstance(data.get("projects"), dict) else {}
    per_project = {
        name: p.get("mcpServers") for name, p in (projects or {}).items() if isinstance(p, dict) and p.get("mcpServers")
    }
    return json.dumps({"user": data.get("mcpServers"), "projects": per_project}, sort_keys=True)


def _with_servers(now_text: str | None, before_text: str) -> str:
    """The file as the agent left it, with the MCP servers it had before; the file as it was
    before when the agent's cannot be read."""
    now, before = _load(now_text), _load(before_text)
    if now is None or before is None:
        return before_text
    now.pop("mcpServers", None)
    if "mcpServers" in before:
        now["mcpServers"] = before["mcpServers"]
    old_projects = before.get("projects") if isinstance(before.get("projects"), dict) else {}
    projects = now.get("projects") if isinstance(now.get("projects"), dict) else {}
    for name, project in (projects or {}).items():
        if isinstance(project, dict):
            project.pop("mcpServers", None)
            old = (old_projects or {}).get(name)
            if isinstance(old, dict) and "mcpServers" in old:
                project["mcpServers"] = old["mcpServers"]
    return json.dumps(now, indent=2)


def _write(path: Path, text: str) -> None:
    """Written beside and moved in: a link planted in its place is replaced, never followed."""
    part = path.with_name(f".{path.name}.czar")
    part.unlink(missing_ok=True)
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(part, path)
