"""Branch names: which names git accepts for a branch, and which of czar's branches would collide.

Pure, so the plan can be checked without running git; a test holds ``branch_name_problem`` to
``git check-ref-format --branch`` on many names.
"""

from __future__ import annotations

TASK_PREFIX = "czar/"  # every task's branch is ``czar/<task>``

# Characters git refuses anywhere in a ref name (see git-check-ref-format(1)).
_FORBIDDEN = set(" ~^:?*[\\")


def task_branch(task_id: str) -> str:
    """The branch a task's work is on."""
    return f"{TASK_PREFIX}{task_id}"


def branch_name_problem(name: str) -> str | None:
    """Why ``name`` is not a branch name git accepts (``git check-ref-format --branch``), or None.

    Stricter than git in one way: ``@`` and ``HEAD`` are refused (git reads both as the current
    commit in most commands).
    """
    if not name:
        return "is empty"
    if name.startswith("-"):
        return "starts with '-', so git would read it as an option"
    if name in ("@", "HEAD"):
        return "is a name git reserves"
    for ch in name:
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            return "has a control character"
        if ch in _FORBIDDEN:
            return f"has {ch!r}, which git forbids in branch names"
    if ".." in name:
        return "has '..', which git forbids in branch names"
    if "@{" in name:
        return "has '@{', which git forbids in branch names"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "has an empty part between slashes"
    if name.endswith("."):
        return "ends with '.'"
    for part in name.split("/"):
        if part.startswith("."):
            return f"has a part starting with '.' ({part!r})"
        if part.endswith(".lock"):
            return f"has a part ending with '.lock' ({part!r})"
    return None


def clash(a: str, b: str) -> bool:
    """Whether branches ``a`` and ``b`` cannot both be what czar needs: the same branch, or one
    under the other (git cannot hold ``x`` and ``x/y`` at once: a ref is a file, or a folder)."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")
