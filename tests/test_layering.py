"""Imports only point down (docs/architecture.md):

    tui → node → sync → store          relay → sync → store

Every .py file of each package is parsed (not imported) and each import of one of our
packages is checked: ``import x``, ``from x import y``, relative imports, and
``importlib.import_module("x")`` / ``__import__("x")`` with a literal name, at any depth
(imports inside functions count too). A name imported from a package's ``__init__`` that
re-exports it (``from store import StoreError``) counts as an import of the module that
defines it (``store.errors``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("store", "sync", "node", "tui", "relay")

# package -> the packages (or single modules) of ours it may import.
ALLOWED: dict[str, frozenset[str]] = {
    "store": frozenset({"store"}),
    "sync": frozenset({"sync", "store"}),
    "node": frozenset({"node", "sync", "store"}),
    # The TUI talks to node. From store it may use the shared domain types (categories,
    # statuses, record dataclasses, error codes) and the at-rest sealing of its drafts,
    # never the Store, its database or its projection.
    "tui": frozenset({"tui", "node", "store.records", "store.casedoc", "store.kinds",
                      "store.errors", "store.sealed"}),
    "relay": frozenset({"relay", "sync", "store"}),
}

# The ``villagecourt`` command is the composition root (node/cli.py says so): it wires the
# relay's subcommands in and starts the TUI. Only these files of node may do that.
COMPOSITION_ROOTS: dict[str, frozenset[str]] = {
    "node/cli.py": frozenset({"tui", "relay"}),
    "node/__main__.py": frozenset({"tui", "relay"}),
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve_relative(current: str, is_package: bool, level: int, module: str | None) -> str:
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def join(base: str, name: str) -> str:
    return f"{base}.{name}" if base else name


def imported_names(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, dotted name) of everything this file imports; ``from a import b`` gives
    ``a.b`` (b may be a submodule or a name defined in a)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    current = module_name(path, root)
    is_package = path.name == "__init__.py"
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (resolve_relative(current, is_package, node.level, node.module)
                    if node.level else (node.module or ""))
            found += [(node.lineno, join(base, alias.name) if alias.name != "*" else base)
                      for alias in node.names]
        elif isinstance(node, ast.Call):
            func = node.func
            name = (func.attr if isinstance(func, ast.Attribute)
                    else func.id if isinstance(func, ast.Name) else "")
            if (name in ("import_module", "__import__") and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                found.append((node.lineno, node.args[0].value))
    return found


def reexports(package: str, root: Path = ROOT) -> dict[str, str]:
    """Names a package's __init__ takes from its own modules: name -> what it really is
    (``Store`` -> ``store.docs.Store``; ``records`` -> ``store.records``)."""
    init = root / package / "__init__.py"
    if not init.exists():
        return {}
    out: dict[str, str] = {}
    for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            base = join(package, node.module) if node.module else package
            for alias in node.names:
                out[alias.asname or alias.name] = join(base, alias.name)
    return out


def canonical(target: str, root: Path = ROOT) -> str:
    """``store.StoreError`` -> ``store.errors.StoreError``."""
    parts = target.split(".")
    if len(parts) >= 2 and parts[0] in OURS:
        real = reexports(parts[0], root).get(parts[1])
        if real is not None:
            return ".".join([real, *parts[2:]])
    return target


def covered(target: str, rules: frozenset[str]) -> bool:
    """"store" covers all of store; "store.records" covers that module and its names."""
    return any(target == r or target.startswith(r + ".") for r in rules)


def violations(package: str, root: Path = ROOT) -> list[str]:
    out: list[str] = []
    for path in sorted((root / package).rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        rules = ALLOWED[package] | COMPOSITION_ROOTS.get(rel, frozenset())
        for line, target in imported_names(path, root):
            if target.split(".")[0] not in OURS:
                continue
            real = canonical(target, root)
            if not covered(real, rules):
                out.append(f"{rel}:{line} imports {target}"
                           + (f" (= {real})" if real != target else ""))
    return out


@pytest.mark.parametrize("package", list(ALLOWED))
def test_imports_only_point_down(package: str) -> None:
    assert (ROOT / package / "__init__.py").is_file()
    assert violations(package) == []


# --- the checker itself ------------------------------------------------------------------
def make_tree(root: Path, files: dict[str, str]) -> None:
    for package in OURS:
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").touch()
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def test_the_checker_catches_every_import_form(tmp_path: Path) -> None:
    make_tree(tmp_path, {
        "store/__init__.py": "from .docs import Store\nfrom .errors import StoreError\n",
        "store/probe.py": (
            "import relay.server\n"
            "from relay import app\n"
            "from node.cases import CaseService\n"
            "from .. import tui\n"
            "import importlib\n"
            "from . import docs\n"
            "def later():\n"
            "    from tui.screens import Home\n"
            "    importlib.import_module('relay.web')\n"
            "    __import__('node')\n"),
        "tui/screen.py": ("from store import StoreError\n"
                          "from store import Store\n"
                          "from store.records import Party\n"
                          "from store.docs import Store as S\n"
                          "import relay\n"),
        "node/cli.py": "from tui import run_tui\nfrom relay.cli import add\n",
        "node/cases.py": "from tui import run_tui\n",
    })

    store_bad = violations("store", tmp_path)
    assert [v.split(" imports ")[1] for v in store_bad] == [
        "relay.server", "relay.app", "node.cases.CaseService", "tui", "tui.screens.Home",
        "relay.web", "node"]
    tui_bad = violations("tui", tmp_path)
    assert [v.split(" imports ")[1] for v in tui_bad] == [
        "store.Store (= store.docs.Store)", "store.docs.Store", "relay"]
    # Only the command (composition root) may reach up; the rest of node may not.
    assert violations("node", tmp_path) == ["node/cases.py:1 imports tui.run_tui"]


def test_rules_follow_the_architecture() -> None:
    assert ALLOWED["store"] == {"store"}  # the bottom: nothing of ours but itself
    for package, rules in ALLOWED.items():
        for top in ("tui", "relay", "node"):
            if package != top and not (package == "tui" and top == "node"):
                assert not any(r.split(".")[0] == top for r in rules), (package, top)
    assert not covered("node", ALLOWED["relay"])
    assert not covered("store.docs.Store", ALLOWED["tui"])


# --- no SQL above store/ -----------------------------------------------------------------
# SQL on the document store is written in store/ (named queries: store/views.py) and in one
# relay module, the dashboard's figures. Everyone else speaks the storage protocol
# (store/protocol.py), so that a second backend (PostgreSQL) serves them unchanged.
SQL_MODULES = frozenset({"relay/dashboard/queries.py"})
# The relay's own side databases, not the document store: accounts and audit, enrolment
# tokens (their own SQLite files). They move into the store with ``relay migrate-store``.
SIDE_DATABASES = frozenset({"relay/accounts.py", "relay/enrol.py", "relay/sidedb.py"})
SQL_TEXT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|PRAGMA|WITH|CREATE|ALTER|"
                      r"DROP|BEGIN|COMMIT|ROLLBACK|VACUUM)\s")
DRIVERS = ("sqlite3", "aiosqlite", "asyncpg")
RUNS_SQL = ("query", "execute", "executemany", "executescript", "fetch", "fetchrow",
            "fetchval")


def sql_uses(path: Path, root: Path = ROOT) -> list[str]:
    """Where a file writes SQL: a string (or f-string) that starts like a statement, a
    store's ``.query(...)``/``.execute(...)``, or an import of a database driver."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = path.relative_to(root).as_posix()
    out: list[str] = []
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                text = first.value
        if text is not None and SQL_TEXT.match(text):
            out.append(f"{rel}:{node.lineno} SQL {text.strip()[:40]!r}")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in RUNS_SQL
                and "store" in ast.unparse(node.func.value).lower()):
            out.append(f"{rel}:{node.lineno} runs SQL on {ast.unparse(node.func.value)}")
    for line, target in imported_names(path, root):
        if target.split(".")[0] in DRIVERS:
            out.append(f"{rel}:{line} imports {target}")
    return sorted(set(out))


def sql_violations(root: Path = ROOT) -> list[str]:
    out: list[str] = []
    for package in OURS:
        if package == "store":
            continue
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel not in SQL_MODULES | SIDE_DATABASES:
                out += sql_uses(path, root)
    return out


def test_no_sql_outside_store_and_the_relay_queries_module() -> None:
    assert sql_violations() == []


def test_the_sql_checker_catches_every_form(tmp_path: Path) -> None:
    make_tree(tmp_path, {
        "node/a.py": ('async def f(store, self):\n'
                      '    await store.query("SELECT 1")\n'
                      '    await self._store.query(q)\n'
                      '    x = f"DELETE FROM docs WHERE {w}"\n'
                      '    self.query("#month")\n'       # Textual's DOM query: not SQL
                      '    "Select a village"\n'),      # prose: not SQL
        "sync/b.py": "import aiosqlite\nfrom sqlite3 import connect\n",
        "relay/c.py": "async def g(app, keys):\n    await app[keys.STORE].execute('x')\n",
        "relay/dashboard/queries.py": "SQL = 'SELECT 1'\n",
        "store/views.py": "SQL = 'SELECT 1'\n",
    })
    found = sorted(sql_violations(tmp_path))
    assert found == [
        "node/a.py:2 SQL 'SELECT 1'", "node/a.py:2 runs SQL on store",
        "node/a.py:3 runs SQL on self._store", "node/a.py:4 SQL 'DELETE FROM docs WHERE'",
        "relay/c.py:2 runs SQL on app[keys.STORE]",
        "sync/b.py:1 imports aiosqlite", "sync/b.py:2 imports sqlite3.connect",
    ], found


# sync/ speaks the storage protocol only: never a backend (the SQLite Store, its database
# helpers, its migrations, the PostgreSQL backend). A backend is chosen where a program
# starts (node, relay), and sync runs on whichever it is given.
BACKENDS = frozenset({"store.docs", "store.db", "store.migrate", "store.views", "store.pg"})


def backend_imports(package: str, root: Path = ROOT) -> list[str]:
    out: list[str] = []
    for path in sorted((root / package).rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for line, target in imported_names(path, root):
            real = canonical(target, root)
            if covered(real, BACKENDS):
                out.append(f"{rel}:{line} imports {target}"
                           + (f" (= {real})" if real != target else ""))
    return out


def test_sync_uses_no_storage_backend() -> None:
    assert backend_imports("sync") == []


def test_the_backend_checker(tmp_path: Path) -> None:
    make_tree(tmp_path, {
        "store/__init__.py": "from .docs import Store\nfrom .protocol import DocumentStore\n",
        "sync/a.py": ("from store import Store\nfrom store import DocumentStore\n"
                      "from store.pg.migrate import migrate\nimport store.db\n"),
    })
    assert backend_imports("sync", tmp_path) == [
        "sync/a.py:1 imports store.Store (= store.docs.Store)",
        "sync/a.py:3 imports store.pg.migrate.migrate", "sync/a.py:4 imports store.db"]
