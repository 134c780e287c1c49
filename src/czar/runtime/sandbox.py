"""The sandbox an agent (and anything that runs its code) lives in: bubblewrap, one per process.

What the kernel enforces, not what a command's text says: inside, the whole machine is read-only;
only the task's checkout, the agent's private home and a private temp folder are writable. The
other checkouts, czar's store and every worker's home are hidden (an empty tmpfs over czar's data
folder, the task's own folders bound back in); the user's checkout is hidden but for the objects
its task's checkout borrows, read-only; other processes are out of sight (a PID namespace of its
own), and so is the user's home but for git's settings and the tools installed there
(``HOME_READABLE``): no keys, credentials, history or other projects. The network is its own
(``Network``): none at all, or the doors czar's gateway opens (``czar.runtime.gateway``): its
tools and model server on this machine, and the outward hosts the plan allows; or, when the
plan opts out, the machine's.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from czar.runtime import ancestry, proc, search_path, untrusted

# What stays readable of the user's home, which is hidden otherwise: who they are to git, and the
# tools an agent runs (installed per user: pip's --user packages, Node and Rust toolchains, ...).
# Credentials, keys, history and other projects are not in it.
HOME_READABLE = (
    ".gitconfig",
    ".config/git",
    ".local/bin",
    ".local/lib",
    ".nvm",
    ".volta",
    ".bun",
    ".deno",
    ".cargo/bin",
    ".rustup",
    ".pyenv",
    ".rbenv",
    ".sdkman",
    "go/bin",
    ".asdf",
    ".fnm",
    ".local/share/fnm",
    ".local/share/mise",
    ".local/share/pnpm",
    ".local/share/uv",
    ".local/pipx",
    ".npm-global",
)
# Credentials that stay masked even where a folder that holds them is bound back (a Python built
# into ``~/.local``, say, brings back ``~/.local/share``).
CREDENTIALS = (
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    ".docker",
    ".netrc",
    ".git-credentials",
    ".config/git/credentials",
    ".pypirc",
    ".npmrc",
    ".config/gh",
    ".config/gcloud",
    ".config/glab-cli",
    ".local/share/keyrings",
)


@dataclass(frozen=True)
class Network:
    """What a sandboxed process reaches over the network (see ``czar.core.egress``)."""

    shared: bool = False  # the machine's network, as you (``[sandbox] network = "host"``)
    gate: Path | None = None  # the folder of a gateway's sockets: its doors (else no network at all)
    ports: tuple[int, ...] = ()  # loopback ports the gateway forwards, at the same port inside
    hosts: tuple[str, ...] = ()  # what its proxy lets through (``czar.core.egress.permits``)
    proxy_port: int = 3128  # where its proxy listens inside (moved off a forwarded port)

    def proxy(self) -> int:
        port = self.proxy_port
        while port in self.ports:
            port += 1
        return port


NO_NETWORK = Network()
HOST_NETWORK = Network(shared=True)


@dataclass(frozen=True)
class Confinement:
    """What one sandboxed process may see and touch."""

    writable: tuple[Path, ...]  # bound read-write: the task's checkout, the agent's home
    hidden: tuple[Path, ...] = ()  # an empty tmpfs over each (their writable parts bound back in)
    readable: tuple[Path, ...] = ()  # bound back read-only under something hidden
    chdir: Path | None = None
    user_home: Path | None = None  # hidden, but for ``HOME_READABLE`` and the programs under it
    tmp: Path | None = None  # bound as /tmp (else /tmp is an empty tmpfs)
    extra_writable: tuple[Path, ...] = field(default_factory=tuple)  # a plan's opt-in, e.g. a cache
    new_session: bool = True  # a session of its own (no keys pushed into the pane's terminal)
    programs: tuple[Path, ...] = ()  # folders of the programs it runs, kept readable if hidden
    locked: tuple[Path, ...] = ()  # read-only within what is writable (an agent's settings in yours)
    network: Network = NO_NETWORK
    # (czar's folder, the place it stands in for): a folder of the agent's own bound over one of
    # yours that it must not share with your sessions (what Claude Code sources before each command)
    private: tuple[tuple[Path, Path], ...] = ()
    # (a folder of yours, where it shows in the checkout): read-only (the dependencies installed in
    # your checkout, which a clone lacks)
    shared: tuple[tuple[Path, Path], ...] = ()


def for_task(
    checkout: Path,
    *,
    home: Path,
    data: Path,
    repo: Path,
    objects: Path | None,
    extra: tuple[Path, ...] = (),
    new_session: bool = True,
    programs: tuple[Path, ...] = (),
    locked: tuple[Path, ...] = (),
    network: Network = NO_NETWORK,
    private: tuple[tuple[Path, Path], ...] = (),
    readable: tuple[Path, ...] = (),
    shared: tuple[str, ...] = (),
) -> Confinement:
    """The sandbox of an agent, or of checks that run its code, on one task's ``checkout``:
    ``home`` is its own (and ``<home>.tmp`` its /tmp), ``data`` czar's data folder (every
    project's store, checkouts and homes: hidden), ``repo`` the user's checkout (hidden, its
    ``objects`` readable for the clone that borrows them), ``readable`` more of ``data`` it reads,
    ``shared`` folders of ``repo`` shown read-only at the same place in the checkout."""
    # Beside the home, not in it: a folder the agent may replace (with a link to /etc, say) must
    # never be a source czar binds read-write.
    tmp = home.with_name(home.name + ".tmp")
    for folder in (home, tmp):
        folder.mkdir(parents=True, exist_ok=True)
    defuse(home)
    # A shared virtualenv stays readable where it is too: its scripts name its python by that path
    # (its parts and the Python it was made from, as for one on your PATH).
    programs = (*programs, *(part for venv in virtualenvs(repo, shared) for part in _venv_parts(venv)))
    for name in shared:  # their places, made while czar may (a reviewer's checkout is read-only to bwrap)
        with contextlib.suppress(OSError), untrusted.folder(checkout, tuple(name.split("/")), make=True):
            pass
    return Confinement(
        writable=(checkout, home),
        hidden=(data, repo),
        readable=((objects,) if objects is not None else ()) + readable,
        chdir=checkout,
        user_home=Path.home(),
        tmp=tmp,
        extra_writable=extra,
        new_session=new_session,
        programs=programs,
        locked=locked,
        network=network,
        private=private,
        shared=tuple((repo / name, checkout / name) for name in shared),
    )


def virtualenvs(repo: Path, shared: Sequence[str]) -> list[Path]:
    """The shared folders of ``repo`` that are virtualenvs (a project's ``.venv``, as uv makes it)."""
    return [repo / name for name in shared if (repo / name / "pyvenv.cfg").is_file()]


def project_bins(c: Confinement | None) -> list[Path]:
    """What goes first on the PATH of what runs in ``c``, for the project's own virtualenv: its
    shared one's ``bin``, unless you activated one (one on your PATH, not czar's own: yours is
    first already)."""
    return [] if c is None else venv_bins([yours for yours, _ in c.shared])


def venv_bins(shared: list[Path]) -> list[Path]:
    """``project_bins`` for the folders of your checkout a sandbox shows (``Project.shared``)."""
    czar = search_path.czar_folder()
    if any(p != czar and (Path(p).parent / "pyvenv.cfg").is_file() for p in search_path.persons()):
        return []
    return [yours / "bin" for yours in shared if (yours / "pyvenv.cfg").is_file()]


# Sockets that would hand an agent more than its sandbox: a container engine's (root on the machine).
ROOT_SOCKETS = (
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/run/podman/podman.sock",
)

# Set in a sandbox's network of its own (see ``wrap``).
QUIET_TOOLS = {"npm_config_update_notifier": "false", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _sockets() -> list[Path]:
    """Folders of sockets a read-only view would still let an agent connect to: the session's
    runtime folder (its D-Bus, a user's podman), tmux servers' folders (``send-keys`` to another
    worker's pane, or to yours) and czar's doorbells. A private ``/tmp`` hides those kept there."""
    found = [Path("/run/user") / str(os.getuid())]
    for var in ("XDG_RUNTIME_DIR", "TMUX_TMPDIR"):
        if os.environ.get(var):
            found.append(Path(os.environ[var]).resolve())
    # Never a folder that holds the machine's or the private /tmp (a runtime folder set to /tmp).
    return [p for p in found if p not in (Path("/"), Path("/tmp"))]


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@cache
def available() -> str | None:
    """None if a sandbox can be made here; else why not, in one line (for ``czar doctor``)."""
    exe = bwrap_path()
    if exe is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    probe = [
        exe,
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--unshare-pid",
        "--unshare-net",
        "--",
        "true",
    ]
    result = proc.run(probe, timeout=20)
    if result.returncode == 127 or result.timed_out:
        return f"bwrap cannot run: {(result.output.strip().splitlines() or ['no output'])[-1]}"
    if result.returncode != 0:
        why = (result.output.strip().splitlines() or ["no output"])[-1]
        return f"bwrap cannot make a sandbox here ({why}); user namespaces may be disabled"
    return None


def defuse(home: Path, depth: int = 3) -> None:
    """Remove the symbolic links near the top of an agent's home before czar writes its files
    there (settings, a config): a link the agent left would make czar write outside the sandbox.
    czar writes nothing deeper than ``depth`` folders down."""
    for root, dirs, files in os.walk(home, followlinks=False):
        here = Path(root)
        for name in [*dirs, *files]:
            if (here / name).is_symlink():
                (here / name).unlink()
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
        if len(here.relative_to(home).parts) >= depth - 1:
            dirs[:] = []


def program_folders(command: str, search: str | None = None) -> tuple[Path, ...]:
    """The folders a program's files live in, for ``Confinement.programs``: the command's folder
    and that of the file it links to (``~/.local/bin/claude`` and the version it points at),
    a Node package's whole ``node_modules`` (its dependencies lie beside it) with the ``node``
    that runs it, a virtual environment's whole folder with the Python it was made from (pipx,
    ``uv tool``); never a whole ``~/.local``. Looked for on ``search`` (a PATH; else this process's)."""
    found = shutil.which(command, path=search)
    if found is None:
        return ()
    path = Path(found)
    folders = [path.parent, path.resolve().parent]
    for candidate in (path, path.resolve()):
        parts = candidate.parts
        if "node_modules" in parts:
            folders.append(Path(*parts[: parts.index("node_modules") + 1]))
            node = shutil.which("node", path=search)
            if node is not None:
                folders += [Path(node).parent, Path(node).resolve().parent.parent]
        if candidate.parent.name == "bin" and (candidate.parent.parent / "pyvenv.cfg").exists():
            venv = candidate.parent.parent
            folders += [venv, *_base_python(venv)]
    return tuple(dict.fromkeys(folders))


@functools.cache
def _path_and_venvs(path: str) -> tuple[list[Path], list[Path]]:
    """The folders of ``path``, and the parts of the virtualenvs among them: read once (every
    check and every git of czar's in a checkout is wrapped)."""
    on_path = [Path(p).resolve() for p in path.split(os.pathsep) if p]
    return on_path, [part for p in on_path if (p.parent / "pyvenv.cfg").is_file() for part in _venv_parts(p.parent)]


def _venv_parts(venv: Path) -> list[Path]:
    """What a virtualenv is made of, and no more (``python -m venv .`` makes a project folder one):
    its programs, its packages, its settings, and the Python it was made from."""
    return [venv / "bin", venv / "include", venv / "pyvenv.cfg", *venv.glob("lib*"), *_base_python(venv)]


def _base_python(venv: Path) -> list[Path]:
    """The prefix of the Python a virtualenv was made from (its ``pyvenv.cfg`` names its folder)."""
    for line in (venv / "pyvenv.cfg").read_text(errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            return [Path(value.strip()).resolve().parent]
    return []


def _existing(paths: Sequence[Path]) -> list[Path]:
    return [p for p in paths if p.exists()]


def _a_folder_or_nothing(place: Path, checkout: Path | None) -> bool:
    """``place`` in the checkout is a folder, or nothing yet, and so is each folder on the way to
    it: what a task committed there (a link to elsewhere, a file) must not take the mount where it
    points, nor stop the sandbox (and every check after it) from starting."""
    if checkout is None or not place.is_relative_to(checkout):
        return False
    here = checkout
    for part in place.relative_to(checkout).parts:
        here = here / part
        try:
            if not stat.S_ISDIR(os.lstat(here).st_mode):
                return False
        except FileNotFoundError:
            return True
        except OSError:
            return False
    return True


def wrap(argv: Sequence[str], c: Confinement) -> list[str]:
    """``argv`` run inside the sandbox ``c`` describes (bwrap must be available)."""
    exe = bwrap_path()
    if exe is None:
        raise FileNotFoundError("bwrap")
    args = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    if c.tmp is not None:
        args += ["--bind", str(c.tmp), "/tmp"]
    czar_itself = [Path(sys.base_prefix), Path(sys.prefix), Path(__file__).resolve().parents[2]]
    # A virtualenv on your PATH (one you activated) stays readable, wherever it is: its `python`
    # is the one a check's `python -m pytest` finds, and its packages are your project's.
    on_path, venvs = _path_and_venvs(os.environ.get("PATH", ""))
    programs = [p.resolve() for p in _existing([*czar_itself, *c.programs, *venvs])]
    # bwrap mounts in order: what is hidden first, then what stays visible bound back in. The
    # user's home first, with the little that stays readable; then the folders hidden in it or
    # elsewhere (czar's data, the user's checkout, sockets), which nothing bound before may show.
    home = c.user_home.resolve() if c.user_home is not None and c.user_home.is_dir() else None
    if home is not None and home != Path("/"):
        args += ["--tmpfs", str(home)]
        keep = _existing([home / rel for rel in HOME_READABLE])
        # Never the home itself, nor a folder above it (a program in ``~``, a PATH entry of ``~``).
        keep += [p for p in [*programs, *on_path] if _under(p, home) and p != home]
        for readable in dict.fromkeys(keep):
            args += ["--ro-bind", str(readable), str(readable)]
        for rel in CREDENTIALS:
            secret = home / rel
            if secret.exists() and any(_under(secret, k) or _under(k, secret) for k in keep):
                args += ["--tmpfs", str(secret)] if secret.is_dir() else ["--ro-bind", "/dev/null", str(secret)]
    sockets = [p for p in _sockets() if not any(_under(w, p) for w in (*c.writable, *c.extra_writable))]
    # Each by its path and by where it really is: reached through a link (``~/.local/share`` may
    # be one), the real folder would stay in sight otherwise.
    hidden = list(dict.fromkeys(_existing([*c.hidden, *sockets]) + [p.resolve() for p in _existing(c.hidden)]))
    for folder in hidden:
        args += ["--tmpfs", str(folder)]
    for socket in _existing([Path(p) for p in ROOT_SOCKETS]):
        args += ["--ro-bind", "/dev/null", str(socket)]
    # The programs it runs, and the Python that runs czar's own commands (hooks, tools), stay
    # readable whatever was hidden (/tmp included: czar or an agent's program may live there).
    for keep_too in programs:
        if any(_under(keep_too, h) for h in [*hidden, Path("/tmp")]) and not any(_under(h, keep_too) for h in hidden):
            args += ["--ro-bind", str(keep_too), str(keep_too)]
    for readable in _existing(c.readable):
        args += ["--ro-bind", str(readable), str(readable)]
    for writable in _existing([*c.writable, *c.extra_writable]):
        args += ["--bind", str(writable), str(writable)]
    for own, place in c.private:
        args += ["--bind", str(own), str(place)]
    for locked in _existing(c.locked):
        args += ["--ro-bind", str(locked), str(locked)]
    # After what is locked: a reviewer's checkout is bound read-only whole, and would cover them.
    for yours, place in c.shared:
        if yours.is_dir() and _a_folder_or_nothing(place, c.chdir):
            args += ["--ro-bind", str(yours), str(place)]
    net = c.network
    if not net.shared:
        # A network of its own: no route out, and neither this machine's loopback services nor
        # abstract sockets (an X server's) are in it. The gateway's doors are bound in.
        args.append("--unshare-net")
        if net.gate is not None:
            args += ["--ro-bind", str(net.gate), str(net.gate)]
            proxy = f"http://127.0.0.1:{net.proxy()}"
            for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
                args += ["--setenv", var, proxy]
            for var in ("NO_PROXY", "no_proxy"):
                args += ["--setenv", var, "localhost,127.0.0.1,::1"]
            doors = [f"{port}={port}.sock" for port in net.ports] + [f"{net.proxy()}=proxy.sock"]
            argv = [sys.executable, *LISTENER, str(net.gate), *doors, "--", *argv]
        # npm and pip ask their registry for a newer version of themselves at each command: a
        # refused host, said as an alert for every worker, for nothing the work needs.
        for var, value in QUIET_TOOLS.items():
            args += ["--setenv", var, value]
    # No capabilities inside, even for root: else it could unmount what hides the store, or
    # remount the machine writable.
    args += ["--unshare-pid", "--unshare-ipc", "--die-with-parent", "--cap-drop", "ALL"]
    if c.new_session:
        args.append("--new-session")
    if c.chdir is not None:
        args += ["--chdir", str(c.chdir)]
    return [*args, "--", *argv]


NETNS = str(Path(__file__).with_name("netns.py"))
LISTENER = ("-I", "-S", NETNS)  # how Python runs it: its command line after the program's name


def network_listens(pid: int) -> bool | None:
    """Whether the sandbox started as process ``pid`` still has the listener that carries its
    network's connections out (``netns.py``: a process of its own in the sandbox, which what
    runs there can kill). Without it nothing in the sandbox reaches czar's tools or a model.
    None when czar cannot tell: its program has ended (the listener ends with the sandbox), or
    ``/proc`` does not list children."""
    found = [info for kid in ancestry.descendants(pid) if (info := ancestry.process(kid)) is not None]
    listens = any(info.cmdline[1:4] == LISTENER for info in found)  # (not bwrap, whose command names it too)
    # Its program: neither bwrap nor the listener (nor a process that ended: no command line).
    if not any(info.cmdline and info.name != "bwrap" and info.cmdline[1:4] != LISTENER for info in found):
        return None
    return listens


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents
