"""Open the SQLite database (WAL, foreign keys, busy timeout) and apply ordered migrations.

All SQL lives in `storage/`. Writes go through `Database.transaction()`, which serialises them
on one connection: a transaction is a unit of work that no other coroutine can interleave with.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# Positional (?) or named (:name) query parameters.
Parameters = Sequence[Any] | Mapping[str, Any]


class Database:
    """One aiosqlite connection and the lock that keeps its transactions whole."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self.connection = connection
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str, *, busy_timeout_ms: int = 5000) -> Database:
        """Open (creating folders as needed), configure and migrate the database at `path`."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(str(path), isolation_level=None)
        connection.row_factory = aiosqlite.Row
        try:
            await connection.execute("PRAGMA journal_mode = WAL")
            await connection.execute("PRAGMA foreign_keys = ON")
            await connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            await connection.execute("PRAGMA synchronous = NORMAL")
            database = cls(connection)
            await database.migrate()
        except BaseException:
            await connection.close()
            raise
        return database

    async def close(self) -> None:
        await self.connection.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error), with no other transaction in between."""
        async with self._lock:
            await self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                await self.connection.execute("ROLLBACK")
                raise
            await self.connection.execute("COMMIT")

    async def fetch_all(self, sql: str, parameters: Parameters = ()) -> list[aiosqlite.Row]:
        """Run a read outside any transaction and return every row."""
        # execute_fetchall is one trip to aiosqlite's thread; execute, fetch and close are three.
        async with self._lock:
            return list(await self.connection.execute_fetchall(sql, parameters))

    async def fetch_one(self, sql: str, parameters: Parameters = ()) -> aiosqlite.Row | None:
        rows = await self.fetch_all(sql, parameters)
        return rows[0] if rows else None

    async def version(self) -> int:
        row = await self.fetch_one("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def migrate(self, folder: Path = MIGRATIONS) -> int:
        """Apply every `NNNN_name.sql` above the recorded version, all in one transaction."""
        current = await self.version()
        pending = _pending_migrations(folder, current)
        if not pending:
            return current
        async with self.transaction() as connection:
            for number, name, script in pending:
                log.info("Applying migration %s", name)
                for statement in _statements(script):
                    await connection.execute(statement)
                # PRAGMA takes no parameters; `number` is an int parsed from a file name.
                await connection.execute(f"PRAGMA user_version = {number}")
        return pending[-1][0]


def _pending_migrations(folder: Path, current: int) -> list[tuple[int, str, str]]:
    """Return (number, file name, SQL) of each migration above `current`, in order."""
    found = sorted((int(path.name.split("_", 1)[0]), path) for path in folder.glob("*.sql"))
    return [(number, path.name, path.read_text()) for number, path in found if number > current]


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit our transaction)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--") and not buffer.strip():
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
