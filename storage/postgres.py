"""The shared backend: PostgreSQL through an asyncpg pool, for several processes on several machines.

Every write transaction first takes one transaction-scoped advisory lock, so writers from all
processes follow each other as they do on SQLite's single connection; reads run beside them.
The lock is named after the schema, so deployments (and tests) in separate schemas of one
database do not wait on each other. `?` and `:name` parameters become `$n` here.

Every connection is opened by `storage.pglink.open_connection`, with its limits. A call whose
link fails (a timeout, a reset) cuts its connection rather than wait on the same link again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from functools import lru_cache, partial
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
from storage.pglink import LinkLimits, check_url, open_connection

CLOSE_SECONDS = 10.0
WRITE_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':write'))"
VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)"
)
# A migration may rewrite a big table: the server's statement timeout is lifted for it, and this
# process waits for it this long.
MIGRATION_SECONDS = 3600.0
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
        """Several statements at once, no parameters (a migration: see MIGRATION_SECONDS)."""
        await self._connection.execute(sql, timeout=MIGRATION_SECONDS)


class PostgresDatabase(Database):
    """A pool of connections to one PostgreSQL database (and schema, from the URL)."""

    dialect = "postgres"

    def __init__(self, pool: asyncpg.Pool, url: str, limits: LinkLimits, password: str | None):
        self.pool = pool
        self.limits = limits
        self._url = url  # may carry a password: never logged
        self._password = password
        self._listeners: list[Listener] = []
        self._listening: asyncpg.Connection | None = None
        self._locks: list[_AdvisoryLock] = []

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        max_size: int = 10,
        limits: LinkLimits | None = None,
        password: str | None = None,
    ) -> PostgresDatabase:
        """Connect to `url` (a `postgresql://` URL, its password percent-encoded if it has one;
        else `password`, else PGPASSWORD or PGPASSFILE) and migrate."""
        limits = limits or LinkLimits()
        check_url(url)  # before the pool: its errors would not be ours to word
        connect = partial(open_connection, limits=limits, password=password)
        pool = await asyncpg.create_pool(url, min_size=1, max_size=max_size, connect=connect)
        database = cls(pool, url, limits, password)
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

    def unavailable(self, error: BaseException) -> bool:
        if isinstance(error, OSError | TimeoutError | asyncpg.InterfaceError):
            return True
        state = getattr(error, "sqlstate", None) or ""
        # Connection (08), resources (53), operator intervention such as a statement timeout or a
        # terminated session (57), lock_timeout (55P03), idle-in-transaction timeout (25P03),
        # serialization or deadlock (40).
        return isinstance(error, asyncpg.PostgresError) and (
            state[:2] in {"08", "53", "57", "40"} or state in {"55P03", "25P03"}
        )

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def start_listening(self) -> None:
        if self._listening is not None and not self._listening.is_closed():
            return
        connection = await self.open_connection()
        schema = await connection.fetchval("SELECT current_schema()")
        await connection.add_listener(f"wanbot:{schema}", self._heard)
        self._listening = connection

    def _heard(self, connection: object, pid: int, channel: str, message: str) -> None:
        topic, _, payload = message.partition(":")
        for listener in self._listeners:
            listener(topic, payload)

    async def open_connection(self) -> asyncpg.Connection:
        """A connection of its own (not from the pool), with this database's limits."""
        return await open_connection(self._url, self.limits, password=self._password)

    def lock(self, name: str) -> ProcessLock:
        lock = _AdvisoryLock(self.open_connection, name)
        self._locks.append(lock)
        return lock

    async def claim_process(self) -> None:
        """Any number of processes may share PostgreSQL."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._acquire() as connection:
            transaction = connection.transaction()
            await transaction.start()
            try:
                await connection.execute(WRITE_LOCK)
                yield PostgresTransaction(connection)
            except BaseException as error:
                await _roll_back(connection, transaction, error)
                raise
            await transaction.commit()  # a link error here: _acquire cuts the connection

    async def fetch_all(self, sql: str, parameters: Parameters = ()) -> list[Row]:
        query, arguments = _arguments(sql, parameters)
        async with self._acquire() as connection:
            return list(await connection.fetch(query, *arguments))

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
        async with self._acquire() as connection:
            if await connection.fetchval("SELECT to_regclass('schema_version')") is None:
                return 0
            version = "SELECT COALESCE(MAX(version), 0) FROM schema_version"
            return int(await connection.fetchval(version))

    @asynccontextmanager
    async def _acquire(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection, cut if its link fails: giving it back would first wait for the
        cancel asyncpg sends after a timeout, on the same silent link (a second timeout)."""
        async with self.pool.acquire() as connection:
            try:
                yield connection
            except (*_LINK_ERRORS, asyncio.CancelledError):
                connection.terminate()
                raise

    async def _version_in(self, tx: Transaction) -> int:
        await tx.execute(VERSION_TABLE)
        row = await tx.fetch_one("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        return int(row[0]) if row else 0

    async def _run_script(self, tx: Transaction, script: str) -> None:
        assert isinstance(tx, PostgresTransaction)
        # A migration may rewrite a big table: no statement timeout for it (SET LOCAL ends with
        # the transaction). Its wait for the write lock stays bounded by lock_seconds: a process
        # that finds another migrating fails to start and, restarted, finds the work done.
        await tx.execute("SET LOCAL statement_timeout = 0")
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

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        name: str,
        *,
        check_timeout: float = 5.0,
    ) -> None:
        self._connect = connect
        self._name = name
        self._check_timeout = check_timeout
        self._connection: asyncpg.Connection | None = None
        self._session: int | None = None
        self._holding = False

    async def _connected(self) -> asyncpg.Connection:
        if self._connection is None or self._connection.is_closed():
            self._connection = await self._connect()
            self._session = int(await self._connection.fetchval("SELECT pg_backend_pid()"))
        return self._connection

    async def acquire(self) -> bool:
        if self._holding and await self.held():
            return True
        self._connection = await self._connected()
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
            self._session = None

    async def session(self) -> int | None:
        await self._connected()
        return self._session

    async def end_holder(self, session: int) -> bool:
        connection = await self._connected()
        ended = await connection.fetchval(
            # With a timeout, PostgreSQL waits for the session to be gone (and its locks free).
            "SELECT pg_terminate_backend(pid, $2) FROM pg_locks"
            " WHERE locktype = 'advisory' AND granted AND pid = $1 LIMIT 1",
            session,
            int(self._check_timeout * 1000),
            timeout=self._check_timeout * 2,
        )
        return bool(ended)


# What a lost or silent link raises: the connection's state is unknown, its server may be gone.
_LINK_ERRORS = (TimeoutError, OSError, asyncpg.InterfaceError)


async def _roll_back(
    connection: asyncpg.Connection, transaction: Any, error: BaseException
) -> None:
    """End a failed write transaction. After a link error (or a cancellation mid-statement) a
    rollback would wait on the same link: the connection is left for `_acquire` to cut, and the
    server rolls back when it sees the session end, or when its idle-in-transaction timeout ends
    it. A rollback that fails cuts it the same way."""
    if not isinstance(error, (*_LINK_ERRORS, asyncio.CancelledError)):
        try:
            await transaction.rollback()
        except _LINK_ERRORS:
            connection.terminate()


async def _close(connection: asyncpg.Connection) -> None:
    """Close one connection, cutting it if the server does not answer in time."""
    try:
        await connection.close(timeout=CLOSE_SECONDS)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        connection.terminate()
