"""The house rules of the code itself: who may import whom.

Every import counts, including those inside functions and under TYPE_CHECKING: a cycle that only
the type checker sees is still two modules that cannot be read apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "cogs", "storage")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file (absolute names)."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            named.add(node.module)
            named.update(f"{node.module}.{alias.name}" for alias in node.names)
    return named


def graph(known: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """Our modules and the ones of ours each imports (a package's __init__ stands for it).

    An import naming a module's own parent package counts like any other (`from cogs.admin import
    texts` in cogs/admin/base.py runs cogs/admin/__init__.py, which may import base.py back):
    a submodule reaches its siblings by their full names instead.
    """
    known = modules() if known is None else known
    return {
        name: {target for target in imports(path) if target in known and target != name}
        for name, path in known.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_an_import_of_the_parent_package_closes_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "house").mkdir()
    parent, child = tmp_path / "house" / "__init__.py", tmp_path / "house" / "room.py"
    parent.write_text("from house.room import Room\n")
    child.write_text("from house import words\n")
    assert cycles(graph({"house": parent, "house.room": child})) == [["house", "house.room"]]


def test_no_module_imports_itself_round_a_cycle() -> None:
    assert cycles(graph()) == []


@pytest.mark.parametrize(
    ("prefix", "forbidden"),
    [
        ("bot.engine", ("discord", "cogs")),
        ("bot.dashscope", ("discord", "cogs")),
        ("bot.intake", ("discord", "cogs")),
        ("bot.dev.headless", ("discord", "cogs")),
        ("storage", ("discord", "cogs", "bot.engine")),
        # The entry loads the cogs and hands them what they use: nothing runs back up to it.
        ("cogs", ("bot.run",)),
        ("bot.dev", ("cogs",)),
        ("bot.usage", ("cogs", "bot.run")),
        ("bot.media", ("discord", "cogs", "bot.engine", "bot.run")),
        ("bot.net", ("discord", "cogs", "bot.engine", "bot.media", "bot.run")),
        # Cogs are Discord glue: no HTTP, SQL or media work of their own.
        (
            "cogs",
            ("aiohttp", "aiosqlite", "sqlite3", "av", "PIL", "bot.media.probe", "bot.media.edit"),
        ),
    ],
)
def test_boundaries(prefix: str, forbidden: tuple[str, ...]) -> None:
    crossing = {
        name: sorted(
            target
            for target in imports(path)
            if any(target == f or target.startswith(f"{f}.") for f in forbidden)
        )
        for name, path in modules().items()
        if name == prefix or name.startswith(f"{prefix}.")
    }
    assert {name: found for name, found in crossing.items() if found} == {}


@pytest.mark.parametrize(
    ("prefix", "allowed"),
    [
        # The floors below storage: SQL on the domain's values, the domain on words alone.
        ("storage", ("storage", "bot.domain")),
        ("bot.domain", ("bot.domain", "bot.i18n")),
    ],
)
def test_lower_floors_import_only_what_is_below(prefix: str, allowed: tuple[str, ...]) -> None:
    def under(target: str, packages: tuple[str, ...]) -> bool:
        return any(target == p or target.startswith(f"{p}.") for p in packages)

    crossing = {
        name: sorted(
            target
            for target in imports(path)
            if under(target, PACKAGES) and not under(target, allowed)
        )
        for name, path in modules().items()
        if under(name, (prefix,))
    }
    assert {name: found for name, found in crossing.items() if found} == {}
