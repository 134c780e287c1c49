"""Hunks of ``git diff -U0``, their overlaps, and the duplication share."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from czar.core.hunks import NEAR, FileChange, Hunk, duplicated, duplication, overlap, parse

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


def test_parse_reads_files_hunks_and_the_lines_they_add_and_take_out() -> None:
    files = parse(DIFF)
    assert sorted(files) == ["f", "g", "h"]
    assert files["f"].hunks == [Hunk(2, 1, ("B",), ("b",)), Hunk(5, 0, ("f", "--- not a header"))]
    assert files["g"].created and files["g"].added_lines == ["new"]
    assert files["h"].deleted and files["h"].hunks == [Hunk(1, 1, (), ("old",))]
    assert files["f"].removed_lines == ["b"] and files["h"].removed_lines == ["old"]


def _one(path: str, *hunks: Hunk, created: bool = False) -> dict[str, FileChange]:
    return {path: FileChange(path, created=created, hunks=list(hunks))}


def test_changes_overlap_when_their_lines_meet() -> None:
    a = _one("f", Hunk(10, 3, ("x",)))  # lines 10-12
    assert overlap(a, _one("f", Hunk(12, 1, ("y",)))) == ["f"]
    assert overlap(a, _one("f", Hunk(13, 2, ("y",)))) == []
    assert overlap(a, _one("f", Hunk(11, 0, ("insert",)))) == ["f"]
    assert overlap(a, _one("f", Hunk(12, 0, ("after",)))) == []
    assert overlap(a, _one("other", Hunk(10, 3, ("x",)))) == []


def test_changes_are_near_with_fewer_than_three_unchanged_lines_between_them() -> None:
    heading = _one("CHANGES.md", Hunk(8, 1, ("## [Unreleased]",)))  # line 8 replaced
    assert overlap(heading, _one("CHANGES.md", Hunk(9, 0, ("",)))) == []  # a line inserted after line 9
    assert overlap(heading, _one("CHANGES.md", Hunk(9, 0, ("",))), near=NEAR) == ["CHANGES.md"]
    assert overlap(heading, _one("CHANGES.md", Hunk(11, 1, ("x",))), near=NEAR) == ["CHANGES.md"]  # 9, 10 between
    assert overlap(heading, _one("CHANGES.md", Hunk(12, 1, ("x",))), near=NEAR) == []  # 9, 10, 11 between
    assert overlap(heading, _one("CHANGES.md", Hunk(11, 0, ("x",))), near=NEAR) == []  # after line 11: 9-11
    assert overlap(heading, _one("CHANGES.md", Hunk(5, 0, ("x",))), near=NEAR) == ["CHANGES.md"]  # 6, 7 between
    assert overlap(heading, _one("CHANGES.md", Hunk(4, 0, ("x",))), near=NEAR) == []  # 5, 6, 7 between
    # Two insertions: after line 10 and after line 13 have 11, 12, 13 between; after 12, two.
    after_ten = _one("CHANGES.md", Hunk(10, 0, ("x",)))
    assert overlap(after_ten, _one("CHANGES.md", Hunk(13, 0, ("y",))), near=NEAR) == []
    assert overlap(after_ten, _one("CHANGES.md", Hunk(12, 0, ("y",))), near=NEAR) == ["CHANGES.md"]


def test_two_tasks_creating_the_same_file_overlap() -> None:
    a = _one("new.py", Hunk(0, 0, ("a",)), created=True)
    b = _one("new.py", Hunk(0, 0, ("b",)), created=True)
    assert overlap(a, b) == ["new.py"]


def test_work_done_twice_is_the_same_lines_added_where_the_other_side_added_them() -> None:
    mine = _one("util.py", Hunk(0, 0, ("def slugify(t):", "    return t.lower()", "", ")")), created=True)
    theirs = _one("util.py", Hunk(0, 0, ("def slugify(t):", "    return t.lower()")), created=True)
    assert duplicated(mine, theirs) == (2, 2)  # blank lines and lone brackets are not counted
    elsewhere = _one("c.py", Hunk(0, 0, ("print('c')", "print('c2')")), created=True)
    share, dup, total = duplication([(mine, theirs), (elsewhere, {})])
    assert (dup, total) == (2, 4) and share == 2 / 4
    assert duplication([]) == (0.0, 0, 0)


def test_a_line_repeated_in_another_place_is_no_work_done_twice() -> None:
    # Two tasks add the same assertion to one test file, in different tests: legitimate.
    mine = _one("test_x.py", Hunk(40, 0, ("    assert result.exit_code == 0",)))
    theirs = _one("test_x.py", Hunk(10, 0, ("    assert result.exit_code == 0",)))
    assert duplicated(mine, theirs) == (0, 1)
    same_place = _one("test_x.py", Hunk(40, 0, ("    assert result.exit_code == 0", "    assert out == 'x'")))
    assert duplicated(mine, same_place) == (1, 1)


def test_edits_made_in_sequence_are_no_work_done_twice() -> None:
    # A task that started from the other's work: the integration branch gained nothing since.
    edit = _one("f.py", Hunk(3, 1, ("x = compute(y)",)))
    assert duplicated(edit, {}) == (0, 1)


_lines = st.lists(st.sampled_from(["alpha = 1", "beta = 2", "gamma = 3", "", ")"]), max_size=4)
_hunks = st.builds(Hunk, st.integers(0, 30), st.integers(0, 3), _lines.map(tuple))


@st.composite
def _changes(draw: st.DrawFn) -> dict[str, FileChange]:
    paths = draw(st.lists(st.sampled_from(["a.py", "b.py"]), unique=True, max_size=2))
    return {p: FileChange(p, created=draw(st.booleans()), hunks=draw(st.lists(_hunks, max_size=3))) for p in paths}


@settings(max_examples=200, deadline=None)
@given(_changes(), _changes())
def test_duplicated_lines_are_at_most_the_work_and_need_an_overlap(
    work: dict[str, FileChange], meanwhile: dict[str, FileChange]
) -> None:
    dup, total = duplicated(work, meanwhile)
    assert 0 <= dup <= total
    assert duplicated(work, {}) == (0, total)
    if not overlap(work, meanwhile):
        assert dup == 0  # work in other places (or files) is never counted twice
    assert duplicated(work, work)[0] == total  # the same change on both sides is all done twice


def test_parse_reads_names_as_git_writes_them_quoted_or_ending_in_a_tab() -> None:
    # A name with a space ends with a tab; one with a quote, a backslash, a tab or (unless
    # core.quotePath is off) a byte above 127 is quoted, C-style. Read otherwise, such a file was
    # missing from a task's changes, and its scope went unchecked.
    diff = (
        'diff --git x y\n--- /dev/null\n+++ "b/back\\\\slash.txt"\n@@ -0,0 +1 @@\n+v\n'
        "diff --git x y\n--- /dev/null\n+++ b/café.txt\n@@ -0,0 +1 @@\n+w\n"
        'diff --git x y\n--- /dev/null\n+++ "b/q\\"uote.txt"\n@@ -0,0 +1 @@\n+y\n'
        "diff --git x y\n--- /dev/null\n+++ b/sp ace.txt\t\n@@ -0,0 +1 @@\n+x\n"
        'diff --git x y\n--- /dev/null\n+++ "b/ta\\tb.txt"\n@@ -0,0 +1 @@\n+z\n'
        'diff --git x y\n--- /dev/null\n+++ "b/q\\"x y.txt"\t\n@@ -0,0 +1 @@\n+t\n'
        'diff --git x y\n--- "a/caf\\303\\251 2.txt"\n+++ /dev/null\n@@ -1 +0,0 @@\n-u\n'
    )
    files = parse(diff)
    assert sorted(files) == sorted(
        ["back\\slash.txt", "café.txt", 'q"uote.txt', "sp ace.txt", "ta\tb.txt", "café 2.txt", 'q"x y.txt']
    )
    assert files["café 2.txt"].deleted and files["sp ace.txt"].created and files["sp ace.txt"].added_lines == ["x"]


def test_parse_names_the_files_a_diff_shows_no_lines_of() -> None:
    # A binary file, an empty one, a mode changed: only the `diff --git` line names them. Read
    # otherwise, a task's scope went unchecked for them (an agent's committed __pycache__ merged).
    diff = (
        "diff --git a/logo.bin b/logo.bin\nnew file mode 100644\nindex 0000000..e69de29\n"
        "Binary files /dev/null and b/logo.bin differ\n"
        "diff --git a/a b/c.txt b/a b/c.txt\nnew file mode 100644\nindex 0000000..e69de29\n"
        'diff --git "a/t\\303\\251 \\"q\\".txt" "b/t\\303\\251 \\"q\\".txt"\ndeleted file mode 100644\n'
        "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n"
        "diff --git a/old.txt b/new.txt\nsimilarity index 100%\nrename from old.txt\nrename to new.txt\n"
    )
    files = parse(diff)
    assert sorted(files) == sorted(["logo.bin", "a b/c.txt", 'té "q".txt', "run.sh"])
    assert files["logo.bin"].created and files["a b/c.txt"].created and files['té "q".txt'].deleted
    assert not files["run.sh"].created and not files["run.sh"].hunks


def test_the_same_file_made_by_both_with_no_lines_to_show_is_no_overlap() -> None:
    # Two tasks each adding an empty __init__.py: git merges them as one (a stand-off for it, found
    # in a review, would have made one task wait for the other for nothing).
    def made(blob: str) -> dict[str, FileChange]:
        return {"pkg/__init__.py": FileChange("pkg/__init__.py", created=True, blob=blob)}

    assert overlap(made("e69de29"), made("e69de29")) == []
    assert overlap(made("e69de29"), made("d00491f")) == ["pkg/__init__.py"]
    unknown = {"pkg/__init__.py": FileChange("pkg/__init__.py", created=True)}
    assert overlap(unknown, unknown) == ["pkg/__init__.py"]  # not known to be the same
