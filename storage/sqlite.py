"""The embedded backend: one aiosqlite connection (WAL, foreign keys, busy timeout).

A transaction is BEGIN IMMEDIATE … COMMIT on the one connection, under a lock that keeps other
coroutines out until it ends; reads take the same lock (one connection, one statement at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from storage.database import (
    Database,
    IntegrityError,
    Listener,
    Parameters,
    ProcessLock,
    Row,
    StorageInUse,
    Transaction,
    unanswered,
)

log = logging.getLogger(__name__)


class SqliteTransaction(Transaction):
    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection
        self.notifications: list[tuple[str, str]] = []

    async def notify(self, topic: str, payload: str) -> None:
        self.notifications.append((topic, payload))

    async def execute(self, sql: str, parameters: Parameters = ()) -> None:
        try:
            await self._connection.execute(sql, parameters)
        except sqlite3.IntegrityError as error:
            raise IntegrityError(str(error)) from error

    async def fetch_all(self, sql: str, parameters: Parameters = ()) -> list[Row]:
        # execute_fetchall is one trip to aiosqlite's thread; execute, fetch and close are three.
        try:
            return list(await self._connection.execute_fetchall(sql, parameters))
        except sqlite3.IntegrityError as error:
            raise IntegrityError(str(error)) from error


class SqliteDatabase(Database):
    """One aiosqlite connection and the lock that keeps its transactions whole."""

    dialect = "sqlite"

    def __init__(self, connection: aiosqlite.Connection, path: Path | None = None) -> None:
        self.connection = connection
        self.path = path  # None: in memory
        self._lock = asyncio.Lock()
        self._listeners: list[Listener] = []
        self._process_lock: int | None = None  # the file descriptor holding the flock

    @classmethod
    async def connect(cls, path: Path | str, *, busy_timeout_ms: int = 5000) -> SqliteDatabase:
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
            database = cls(connection, None if str(path) == ":memory:" else Path(path))
            await database.migrate()
        except BaseException:
            await connection.close()
            raise
        return database

    async def close(self) -> None:
        await self.connection.close()
        if self._process_lock is not None:
            os.close(self._process_lock)  # and with it the flock
            self._process_lock = None

    @property
    def shared(self) -> bool:
        return False

    def unavailable(self, error: BaseException) -> bool:
        # "database is locked" (busy timeout), a full or unreadable disk.
        return isinstance(error, sqlite3.OperationalError | OSError)

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def start_listening(self) -> None:
        """Nothing to start: notifications never leave this process."""

    def lock(self, name: str) -> ProcessLock:
        return _OnlyProcess()

    async def claim_process(self) -> None:
        """Hold an exclusive lock on `<database>.lock` while open; refuse if another has it."""
        if self.path is None or self._process_lock is not None:
            return
        descriptor = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise StorageInUse(
                f"Another wanbot process is already using {self.path}. SQLite serves one process:"
                " stop the other one, or set WANBOT_DATABASE_URL to a PostgreSQL database to run"
                " several."
            ) from None
        self._process_lock = descriptor

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._lock:
            try:
                await self.connection.execute("BEGIN IMMEDIATE")
            except asyncio.CancelledError:
                # The BEGIN still runs on aiosqlite's thread: undo it there, right after it, or
                # the next transaction would find this one open.
                with contextlib.suppress(sqlite3.Error):
                    await asyncio.shield(self.connection.execute("ROLLBACK"))
                raise
            tx = SqliteTransaction(self.connection)
            try:
                yield tx
            except BaseException:
                await self.connection.execute("ROLLBACK")
                raise
            await self.connection.execute("COMMIT")
        for topic, payload in tx.notifications:
            for listener in self._listeners:
                listener(topic, payload)

    async def fetch_all(self, sql: str, parameters: Parameters = ()) -> list[Row]:
        async with self._lock:
            return list(await self.connection.execute_fetchall(sql, parameters))

    async def ping(self, within: float) -> bool:
        # Waits behind a transaction under way, as every reader here does: one held longer than
        # `within` leaves the whole process stuck, which is what a health check should see.
        try:
            async with asyncio.timeout(within):
                row = await self.fetch_one("SELECT 1")
        except (TimeoutError, sqlite3.Error, ValueError) as error:  # ValueError: it was closed
            log.warning("The database did not answer SELECT 1: %s", unanswered(error, within))
            return False
        return row is not None and row[0] == 1

    async def version(self) -> int:
        row = await self.fetch_one("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def _version_in(self, tx: Transaction) -> int:
        row = await tx.fetch_one("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def _run_script(self, tx: Transaction, script: str) -> None:
        # executescript would commit our transaction: run the statements one by one.
        for statement in _statements(script):
            await tx.execute(statement)

    async def _record_version(self, tx: Transaction, number: int) -> None:
        # PRAGMA takes no parameters; `number` is an int parsed from a file name.
        await tx.execute(f"PRAGMA user_version = {int(number)}")


def _statements(script: str) -> list[str]:
    """Split a migration into statements."""
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


class _OnlyProcess(ProcessLock):
    """SQLite serves one process (see `claim_process`), which therefore holds every lock."""

    async def acquire(self) -> bool:
        return True

    async def held(self) -> bool:
        return True

    async def release(self) -> None:
        pass
