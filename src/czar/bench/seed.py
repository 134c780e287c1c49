"""The ``seed`` scenario: six agents build a small inventory package, with every failure of the
run that started czar injected on purpose.

That run: two workers started on the wrong task, tasks whose natural edits overlapped, a crash, a
hang, a worker that went idle without finishing, one that finished early without the work, and a
permission prompt. Here each is a fault switch in a task's script.
"""

from __future__ import annotations

from czar.bench.scenario import Scenario, toml_task, write

PKG = "src/inventory"

FILES = {
    "pyproject.toml": '[project]\nname = "inventory"\nversion = "0.1.0"\n\n[tool.pytest.ini_options]\n'
    'testpaths = ["tests"]\npythonpath = ["src"]\n',
    ".gitignore": "__pycache__/\n.pytest_cache/\n",
    "README.md": "# inventory\n\nStock keeping for a small shop.\n",
    f"{PKG}/__init__.py": '"""Stock keeping for a small shop."""\n',
    "tests/test_package.py": "import inventory\n\n\ndef test_imports():\n    assert inventory.__doc__\n",
}

# task id -> (title, depends on, module source, test source)
MODULES: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "core": (
        "Items: name and quantity",
        (),
        'def item(name, qty):\n    if qty < 0:\n        raise ValueError("negative quantity")\n'
        '    return {"name": name, "qty": qty}\n',
        "import pytest\n\nfrom inventory.core import item\n\n\ndef test_item():\n"
        '    assert item("nut", 3) == {"name": "nut", "qty": 3}\n\n\ndef test_negative():\n'
        '    with pytest.raises(ValueError):\n        item("nut", -1)\n',
    ),
    "units": (
        "Convert weights to grams",
        (),
        'FACTORS = {"g": 1, "kg": 1000, "lb": 453.592}\n\n\ndef to_grams(value, unit):\n'
        "    return value * FACTORS[unit]\n",
        'from inventory.units import to_grams\n\n\ndef test_to_grams():\n    assert to_grams(2, "kg") == 2000\n',
    ),
    "config": (
        "Read settings from key=value lines",
        (),
        'def read_config(text):\n    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)\n'
        "    return {k.strip(): v.strip() for k, v in pairs}\n",
        "from inventory.config import read_config\n\n\ndef test_read_config():\n"
        '    assert read_config("a = 1\\nb=2") == {"a": "1", "b": "2"}\n',
    ),
    "parse": (
        "Parse 'name, qty' lines into items",
        ("core",),
        'from inventory.core import item\n\n\ndef parse_line(line):\n    name, qty = line.split(",")\n'
        "    return item(name.strip(), int(qty))\n",
        "from inventory.parse import parse_line\n\n\ndef test_parse_line():\n"
        '    assert parse_line("nut, 3") == {"name": "nut", "qty": 3}\n',
    ),
    "format": (
        "Format an item for people",
        ("core",),
        "def format_item(it):\n    return f\"{it['name']}: {it['qty']}\"\n",
        "from inventory.core import item\nfrom inventory.format import format_item\n\n\ndef test_format():\n"
        '    assert format_item(item("nut", 3)) == "nut: 3"\n',
    ),
    "storage": (
        "Keep items in a stock",
        ("core",),
        "class Stock:\n    def __init__(self):\n        self.items = {}\n\n    def add(self, it):\n"
        '        self.items[it["name"]] = self.items.get(it["name"], 0) + it["qty"]\n\n'
        "    def qty(self, name):\n        return self.items.get(name, 0)\n",
        "from inventory.core import item\nfrom inventory.storage import Stock\n\n\ndef test_stock():\n"
        '    s = Stock()\n    s.add(item("nut", 3))\n    s.add(item("nut", 2))\n    assert s.qty("nut") == 5\n',
    ),
    "report": (
        "A report of parsed lines",
        ("parse", "format"),
        "from inventory.format import format_item\nfrom inventory.parse import parse_line\n\n\n"
        'def report(lines):\n    return "\\n".join(format_item(parse_line(line)) for line in lines)\n',
        "from inventory.report import report\n\n\ndef test_report():\n"
        '    assert report(["nut, 3", "bolt, 1"]) == "nut: 3\\nbolt: 1"\n',
    ),
    "search": (
        "Find items in stock by prefix",
        ("storage",),
        "def search(stock, prefix):\n    return sorted(n for n in stock.items if n.startswith(prefix))\n",
        "from inventory.core import item\nfrom inventory.search import search\nfrom inventory.storage import Stock\n"
        '\n\ndef test_search():\n    s = Stock()\n    s.add(item("nut", 1))\n    s.add(item("nail", 1))\n'
        '    s.add(item("bolt", 1))\n    assert search(s, "n") == ["nail", "nut"]\n',
    ),
    "export": (
        "Export the stock as CSV",
        ("storage",),
        'def to_csv(stock):\n    return "".join(f"{n},{q}\\n" for n, q in sorted(stock.items.items()))\n',
        "from inventory.core import item\nfrom inventory.export import to_csv\nfrom inventory.storage import Stock\n"
        '\n\ndef test_csv():\n    s = Stock()\n    s.add(item("nut", 2))\n    assert to_csv(s) == "nut,2\\n"\n',
    ),
    "cli": (
        "A command line: report a file of lines",
        ("report", "search", "export"),
        "import sys\n\nfrom inventory.report import report\n\n\ndef main(argv=None):\n"
        "    path = (argv or sys.argv[1:])[0]\n    with open(path) as fh:\n"
        "        print(report(fh.read().splitlines()))\n",
        "from inventory.cli import main\n\n\ndef test_cli(tmp_path, capsys):\n"
        '    f = tmp_path / "s.txt"\n    f.write_text("nut, 3\\n")\n    main([str(f)])\n'
        '    assert capsys.readouterr().out == "nut: 3\\n"\n',
    ),
}

SLUG = 'def slugify(text):\n    return "-".join(text.lower().split())\n'


def _module_task(tid: str, before: str = "", after_commit: str = "", finish_first: bool = False) -> str:
    title, deps, source, test = MODULES[tid]
    module, test_path = f"{PKG}/{tid}.py", f"tests/test_{tid}.py"
    work = (
        f"progress 1 writing {module}\n"
        + write(module, source)
        + write(test_path, test)
        + "sleep 0.3\n"
        + f"progress 2 running the tests\nrun python -m pytest -q {test_path}\n"
        + f"commit {tid}: {title.lower()}\n"
    )
    script = before + (
        f"finish {tid} is done\non feedback\n{work}finish {tid} is done, really"
        if finish_first
        else f"{work}{after_commit}finish {tid} is done"
    )
    prose = f"{title}. Write `{module}` and its tests in `{test_path}`; the tests must pass."
    return toml_task(
        tid,
        title,
        prose,
        script,
        deps=deps,
        scope=(module, test_path),
        accept=(f"python -m pytest -q {test_path}",),
        extra='subtasks = ["module written", "tests pass"]',
    )


def _wrong_task(tid: str, claims: str) -> str:
    """A worker that starts on another task: it names ``claims`` and does that task's work first."""
    wrong_title, _, wrong_source, _ = MODULES[claims]
    wrong = (
        write(f"{PKG}/{claims}.py", wrong_source) + f"commit {claims}: {wrong_title.lower()}\nfinish {claims} is done"
    )
    entry = _module_task(tid, before=f"claim-task {claims}\n")
    return entry.replace("\n```\n'''", f"\non wrong-task\n{wrong}\n```\n'''")


def _slug_tasks() -> list[str]:
    """Two tasks whose natural edits overlap: both want a slugify helper in the same module."""
    users = toml_task(
        "users",
        "User names as URL slugs",
        f"Add `{PKG}/users.py` with `user_slug(name)`, using a `slugify` helper in `{PKG}/slug.py`.",
        "progress 1 writing the helper\n"
        + write(f"{PKG}/slug.py", SLUG)
        # The helper committed first, as soon as written: the radar sees only commits, and the
        # other task must find it while at work, whatever the load makes of the tests' time.
        + "commit users: the slug helper\n"
        + write(
            f"{PKG}/users.py",
            "from inventory.slug import slugify\n\n\ndef user_slug(name):\n    return slugify(name)\n",
        )
        + write(
            "tests/test_users.py",
            "from inventory.users import user_slug\n\n\ndef test_slug():\n"
            '    assert user_slug("Ann Lee") == "ann-lee"\n',
        )
        + "progress 2 tests\nrun python -m pytest -q tests/test_users.py\ncommit users: slugs\nsleep 2\nfinish users",
        deps=("core",),
        scope=(f"{PKG}/slug.py", f"{PKG}/users.py", "tests/test_users.py"),
        accept=("python -m pytest -q tests/test_users.py",),
        extra="priority = 1",
    )
    posts_module = "from inventory.slug import slugify\n\n\ndef post_slug(title):\n    return slugify(title)\n"
    posts_test = (
        'from inventory.posts import post_slug\n\n\ndef test_slug():\n    assert post_slug("Hi There") == "hi-there"\n'
    )
    posts = toml_task(
        "posts",
        "Post titles as URL slugs",
        f"Add `{PKG}/posts.py` with `post_slug(title)`; titles become slugs the same way user names do.",
        "sleep 0.6\nprogress 1 writing posts and a slug helper\n"
        + write(f"{PKG}/slug.py", SLUG)
        + write(f"{PKG}/posts.py", posts_module)
        + write("tests/test_posts.py", posts_test)
        + "commit posts: slugs\nsleep 2\nfinish posts\n"
        "on stand-off\nrun git reset -q --hard HEAD~1\nwait\n"
        "on merged\nrun git merge -q czar/integration\n"
        + write(f"{PKG}/posts.py", posts_module)
        + write("tests/test_posts.py", posts_test)
        + "progress 2 tests\nrun python -m pytest -q tests/test_posts.py\n"
        "commit posts: slugs, with the helper of task users\nfinish posts",
        deps=("core",),
        accept=("python -m pytest -q tests/test_posts.py",),
        extra='subtasks = ["module written", "tests pass"]',
    )
    return [users, posts]


def seed() -> Scenario:
    tasks = [
        _module_task("core"),
        _module_task("units", before=write(f"{PKG}/units.py", "# started\n") + "crash\n"),
        _module_task("config"),
        _module_task("parse", before="hang\n"),
        _module_task("format", before="idle\n"),
        _module_task("storage", finish_first=True),
        _module_task("report", before="ask Bash python -m pytest -q tests\n"),
        _wrong_task("search", claims="export"),
        _wrong_task("export", claims="search"),
        _module_task("cli"),
        *_slug_tasks(),
    ]
    return Scenario(
        name="seed",
        workers=6,
        files=FILES,
        tasks=tasks,
        project='accept = ["python -m pytest -q"]\nmax_rounds = 3\n',
        sections="[health]\nsilent_after = 6\nidle_after = 0.5\ngrace = 2\nloop_after = 5\n",
        injected=[
            ("crash", "units"),
            ("hang", "parse"),
            ("idle", "format"),
            ("finish_early", "storage"),
            ("permission", "report"),
            ("wrong_task", "search"),
            ("wrong_task", "export"),
            ("duplicate", "posts"),
        ],
        targets={"accuracy": 1.0, "duplication": 0.01, "interventions": 0, "crash_p99": 10.0, "hang_p99": 10.0},
    )
