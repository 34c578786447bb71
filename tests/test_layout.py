"""The house rules of the code itself: its floors, who may import whom, and no cycles.

docs/architecture.md draws the house these rules keep. Every import counts, including those
inside functions and under TYPE_CHECKING: a cycle that only the type checker sees is still two
modules that cannot be read apart, and an arrow up that only runs at run time still runs up.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "cogs", "storage")

# Top to bottom. A module imports from its own floor or the floors below it, never above; within
# a floor the wings may use one another as long as no cycle forms.
FLOORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("entry", ("bot.run", "bot.__main__", "bot")),
    ("drivers", ("cogs", "bot.dev")),
    ("work", ("bot.intake", "bot.engine", "bot.usage", "bot.simulator")),
    ("provider and media", ("bot.dashscope", "bot.media", "bot.net")),
    ("storage", ("storage",)),
    ("domain", ("bot.domain",)),
    ("words", ("bot.i18n",)),
)


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in prefixes)


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


def floor_of(name: str) -> int:
    """The floor a module stands on, counted from the top (the longest matching prefix wins:
    `bot.run.cli` is on the entry floor, `bot` alone too)."""
    best, floor = -1, -1
    for number, (_, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            if under(name, (prefix,)) and len(prefix) > best:
                best, floor = len(prefix), number
    return floor


def arrows_up(edges: dict[str, set[str]]) -> dict[str, list[str]]:
    """Each module with the modules it imports from a floor above its own."""
    found = {
        name: sorted(t for t in targets if floor_of(t) < floor_of(name))
        for name, targets in edges.items()
    }
    return {name: up for name, up in found.items() if up}


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


def test_the_floor_check_finds_an_arrow_up() -> None:
    edges = {"storage.jobs": {"bot.engine.runner", "bot.domain.jobs"}, "bot.domain.jobs": set()}
    assert arrows_up(edges) == {"storage.jobs": ["bot.engine.runner"]}


def test_every_module_stands_on_a_floor() -> None:
    assert [name for name in modules() if floor_of(name) < 0] == []


def test_no_module_imports_itself_round_a_cycle() -> None:
    assert cycles(graph()) == []


def test_no_import_runs_up_a_floor() -> None:
    assert arrows_up(graph()) == {}


@pytest.mark.parametrize(
    ("prefix", "allowed"),
    [
        # The floors below storage: SQL on the domain's values, the domain on words alone.
        ("storage", ("storage", "bot.domain")),
        ("bot.domain", ("bot.domain", "bot.i18n")),
    ],
)
def test_lower_floors_import_only_what_is_below(prefix: str, allowed: tuple[str, ...]) -> None:
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


@pytest.mark.parametrize(
    ("prefix", "forbidden"),
    [
        # Below the cogs nothing knows Discord, the one exception being the entry that runs it.
        ("bot.dev", ("discord",)),
        ("bot.intake", ("discord",)),
        ("bot.engine", ("discord",)),
        ("bot.usage", ("discord",)),
        ("bot.simulator", ("discord",)),
        ("bot.dashscope", ("discord",)),
        ("bot.media", ("discord",)),
        ("bot.net", ("discord",)),
        ("storage", ("discord", "aiohttp")),
        ("bot.domain", ("discord", "aiohttp", "aiosqlite", "asyncpg")),
        # Cogs are Discord glue: no HTTP, SQL or media work of their own.
        ("cogs", ("aiohttp", "aiosqlite", "asyncpg", "sqlite3", "av", "PIL", "bot.media.probe")),
        ("cogs", ("bot.media.edit",)),
    ],
)
def test_boundaries(prefix: str, forbidden: tuple[str, ...]) -> None:
    crossing = {
        name: sorted(target for target in imports(path) if under(target, forbidden))
        for name, path in modules().items()
        if under(name, (prefix,))
    }
    assert {name: found for name, found in crossing.items() if found} == {}


@pytest.mark.parametrize(
    ("library", "home"),
    [
        # The engine reports to a protocol; only bot/run/prometheus.py knows it is Prometheus.
        ("prometheus_client", ["bot.run.prometheus"]),
        # Every SQL dialect is written in storage; the rest of the house never sees a driver.
        ("asyncpg", ["storage.pglink", "storage.postgres"]),
    ],
)
def test_a_library_stays_in_its_room(library: str, home: list[str]) -> None:
    users = sorted(
        name
        for name, path in modules().items()
        if any(t.split(".")[0] == library for t in imports(path))
    )
    assert users == home
