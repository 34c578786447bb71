"""The shared backend: PostgreSQL through an asyncpg pool, for several processes on several machines.

Every write transaction first takes one transaction-scoped advisory lock, so writers from all
processes follow each other as they do on SQLite's single connection; reads run beside them.
The lock is named after the schema, so deployments (and tests) in separate schemas of one
database do not wait on each other. `?` and `:name` parameters become `$n` here.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import asyncpg

from storage.database import (
    Database,
    IntegrityError,
    Listener,
    Parameters,
    ProcessLock,
    Row,
    Transaction,
    unanswered,
)

CLOSE_SECONDS = 10.0
WRITE_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':write'))"
VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)"
)
log = logging.getLogger(__name__)
# A quoted string or identifier, a comment, a `::` cast, or a parameter.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|--[^\n]*|::|\?|:([A-Za-z_][A-Za-z0-9_]*)")


@lru_cache(maxsize=512)
def translate(sql: str) -> tuple[str, tuple[str, ...] | int]:
    """`?`/`:name` → `$n`; return the SQL and the names in order (or how many `?` there were)."""
    names: list[str] = []
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        token = match.group(0)
        if token == "?":
            count += 1
            return f"${count}"
        name = match.group(1)
        if name is None:
            return token  # a string, identifier, comment or cast: left as it is
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    translated = _TOKENS.sub(replace, sql)
    if names and count:
        raise ValueError("a statement mixes ? and :name parameters")
    return translated, tuple(names) if names else count


def _arguments(sql: str, parameters: Parameters) -> tuple[str, list[Any]]:
    translated, shape = translate(sql)
    if isinstance(parameters, Mapping):
        assert isinstance(shape, tuple), "named parameters for a statement without :names"
        return translated, [parameters[name] for name in shape]
    return translated, list(parameters)


class PostgresTransaction(Transaction):
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, parameters: Parameters = ()) -> None:
        query, arguments = _arguments(sql, parameters)
        try:
            await self._connection.execute(query, *arguments)
        except asyncpg.IntegrityConstraintViolationError as error:
            raise IntegrityError(str(error)) from error

    async def fetch_all(self, sql: str, parameters: Parameters = ()) -> list[Row]:
        query, arguments = _arguments(sql, parameters)
        try:
            return list(await self._connection.fetch(query, *arguments))
        except asyncpg.IntegrityConstraintViolationError as error:
            raise IntegrityError(str(error)) from error

    async def notify(self, topic: str, payload: str) -> None:
        # Delivered by PostgreSQL when (and only if) the transaction commits.
        await self._connection.execute(
            "SELECT pg_notify('wanbot:' || current_schema(), $1)", f"{topic}:{payload}"
        )

    async def script(self, sql: str) -> None:
        """Several statements at once, no parameters (a migration)."""
        await self._connection.execute(sql)


class PostgresDatabase(Database):
    """A pool of connections to one PostgreSQL database (and schema, from the URL)."""

    dialect = "postgres"

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self.pool = pool
        self._url = url  # may carry a password: never logged
        self._listeners: list[Listener] = []
        self._listening: asyncpg.Connection | None = None
        self._locks: list[_AdvisoryLock] = []

    @classmethod
    async def connect(cls, url: str, *, max_size: int = 10) -> PostgresDatabase:
        """Connect to `url` (a `postgresql://` URL) and migrate."""
        pool = await asyncpg.create_pool(url, min_size=1, max_size=max_size)
        database = cls(pool, url)
        try:
            await database.migrate()
        except BaseException:
            await pool.close()
            raise
        return database

    async def close(self) -> None:
        """Close gracefully, but never wait long: a connection stuck on a dead server (or a
        query nobody awaits any more) is cut, so stopping a process cannot hang."""
        for lock in self._locks:
            await lock.release()
        if self._listening is not None:
            await _close(self._listening)
            self._listening = None
        try:
            await asyncio.wait_for(self.pool.close(), CLOSE_SECONDS)
        except TimeoutError:
            log.warning("PostgreSQL connections did not close in %.0f s; cut them", CLOSE_SECONDS)
            self.pool.terminate()

    @property
    def shared(self) -> bool:
        return True

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def start_listening(self) -> None:
        if self._listening is not None and not self._listening.is_closed():
            return
        connection = await asyncpg.connect(self._url)
        schema = await connection.fetchval("SELECT current_schema()")
        await connection.add_listener(f"wanbot:{schema}", self._heard)
        self._listening = connection

    def _heard(self, connection: object, pid: int, channel: str, message: str) -> None:
        topic, _, payload = message.partition(":")
        for listener in self._listeners:
            listener(topic, payload)

    def lock(self, name: str) -> ProcessLock:
        lock = _AdvisoryLock(self._url, name)
        self._locks.append(lock)
        return lock

    async def claim_process(self) -> None:
        """Any number of processes may share PostgreSQL."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute(WRITE_LOCK)
            yield PostgresTransaction(connection)

    async def fetch_all(self, sql: str, parameters: Parameters = ()) -> list[Row]:
        query, arguments = _arguments(sql, parameters)
        return list(await self.pool.fetch(query, *arguments))

    async def ping(self, within: float) -> bool:
        # The whole of it bounded, waiting for a free connection (or a new one) included.
        try:
            async with asyncio.timeout(within):
                answer = await self.pool.fetchval("SELECT 1")
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("The database did not answer SELECT 1: %s", unanswered(error, within))
            return False
        return bool(answer == 1)

    async def version(self) -> int:
        if await self.pool.fetchval("SELECT to_regclass('schema_version')") is None:
            return 0
        return int(await self.pool.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))

    async def _version_in(self, tx: Transaction) -> int:
        await tx.execute(VERSION_TABLE)
        row = await tx.fetch_one("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        return int(row[0]) if row else 0

    async def _run_script(self, tx: Transaction, script: str) -> None:
        assert isinstance(tx, PostgresTransaction)
        await tx.script(script)

    async def _record_version(self, tx: Transaction, number: int) -> None:
        await tx.execute(
            "INSERT INTO schema_version (id, version) VALUES (1, ?)"
            " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
            (number,),
        )


class _AdvisoryLock(ProcessLock):
    """A session advisory lock on a connection of its own: PostgreSQL lets go of it the moment
    that connection ends, so a process that dies (or loses the server) loses the lock."""

    def __init__(self, url: str, name: str, *, check_timeout: float = 5.0) -> None:
        self._url = url
        self._name = name
        self._check_timeout = check_timeout
        self._connection: asyncpg.Connection | None = None
        self._holding = False

    async def acquire(self) -> bool:
        if self._holding and await self.held():
            return True
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self._url)
        self._holding = bool(
            await self._connection.fetchval(
                "SELECT pg_try_advisory_lock(hashtext(current_schema() || ':' || $1))", self._name
            )
        )
        return self._holding

    async def held(self) -> bool:
        if not self._holding or self._connection is None or self._connection.is_closed():
            return False
        try:
            await self._connection.fetchval("SELECT 1", timeout=self._check_timeout)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            self._holding = False
            self._connection.terminate()
            return False
        return True

    async def release(self) -> None:
        self._holding = False
        if self._connection is not None:
            await _close(self._connection)  # the session ends, and its advisory locks with it
            self._connection = None


async def _close(connection: asyncpg.Connection) -> None:
    """Close one connection, cutting it if the server does not answer in time."""
    try:
        await connection.close(timeout=CLOSE_SECONDS)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        connection.terminate()
