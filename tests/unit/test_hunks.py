"""Hunks of ``git diff -U0``, their overlaps, and the duplication share."""

from __future__ import annotations

from czar.core.hunks import FileChange, Hunk, duplication, overlap, parse

DIFF = """\
diff --git a/f b/f
index 9405325..91ac79b 100644
--- a/f
+++ b/f
@@ -2 +2 @@ a
-b
+B
@@ -5,0 +6,2 @@ e
+f
+--- not a header
diff --git a/g b/g
new file mode 100644
index 0000000..3e75765
--- /dev/null
+++ b/g
@@ -0,0 +1 @@
+new
diff --git a/h b/h
deleted file mode 100644
index 3e75765..0000000
--- a/h
+++ /dev/null
@@ -1 +0,0 @@
-old
"""


def test_parse_reads_files_hunks_and_added_lines() -> None:
    files = parse(DIFF)
    assert sorted(files) == ["f", "g", "h"]
    assert files["f"].hunks == [Hunk(2, 1, ("B",)), Hunk(5, 0, ("f", "--- not a header"))]
    assert files["g"].created and files["g"].added_lines == ["new"]
    assert files["h"].deleted and files["h"].hunks == [Hunk(1, 1, ())]


def _one(path: str, *hunks: Hunk, created: bool = False) -> dict[str, FileChange]:
    return {path: FileChange(path, created=created, hunks=list(hunks))}


def test_changes_overlap_when_their_lines_meet() -> None:
    a = _one("f", Hunk(10, 3, ("x",)))  # lines 10-12
    assert overlap(a, _one("f", Hunk(12, 1, ("y",)))) == ["f"]
    assert overlap(a, _one("f", Hunk(13, 2, ("y",)))) == []
    assert overlap(a, _one("f", Hunk(11, 0, ("insert",)))) == ["f"]
    assert overlap(a, _one("f", Hunk(12, 0, ("after",)))) == []
    assert overlap(a, _one("other", Hunk(10, 3, ("x",)))) == []


def test_two_tasks_creating_the_same_file_overlap() -> None:
    a = _one("new.py", Hunk(0, 0, ("a",)), created=True)
    b = _one("new.py", Hunk(0, 0, ("b",)), created=True)
    assert overlap(a, b) == ["new.py"]


def test_duplication_counts_lines_added_by_more_than_one_task() -> None:
    a = _one("util.py", Hunk(0, 0, ("def slugify(t):", "    return t.lower()", "", ")")), created=True)
    b = _one("util.py", Hunk(0, 0, ("def slugify(t):", "    return t.lower()")), created=True)
    c = _one("c.py", Hunk(0, 0, ("print('c')", "print('c2')")), created=True)
    share, dup, total = duplication([a, b, c])
    assert (dup, total) == (4, 6)  # blank lines and lone brackets are not counted
    assert share == 4 / 6
    assert duplication([]) == (0.0, 0, 0)
    assert duplication([a, c])[0] == 0.0
