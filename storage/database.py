"""One storage interface over two backends: SQLite (embedded, the default) and PostgreSQL.

All SQL lives in `storage/` and is written once, with `?` or `:name` parameters and SQL both
backends speak; the PostgreSQL backend rewrites the parameters to `$n`. Writes go through
`Database.transaction()`, which makes a transaction a unit of work no other writer interleaves
with: in SQLite, BEGIN IMMEDIATE on one connection; in PostgreSQL, a transaction-scoped advisory
lock that every writer of every process takes first. So the rules that make a charge happen
once (conditional updates, triggers) hold the same way on both, across processes.

`storage.connect.open_database(target)` picks the backend: a `postgresql://` URL, else a SQLite
file path.
Migrations are numbered files per backend (`migrations/sqlite/`, `migrations/postgres/`),
applied in order in one transaction, with the schema version recorded.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Literal, Protocol

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# Positional (?) or named (:name) query parameters.
Parameters = Sequence[Any] | Mapping[str, Any]
Dialect = Literal["sqlite", "postgres"]
# The database's own clock, in seconds since the epoch, for times that processes on several
# machines compare (delivery leases, the scheduler's term): never two machines' clocks. SQLite
# serves one process on one machine, so there `:now` is that process's clock, passed in.
NOW_SQL: dict[Dialect, str] = {
    "sqlite": ":now",
    "postgres": "extract(epoch from clock_timestamp())::float8",
}


class Row(Protocol):
    """A result row, by column name or position (sqlite3.Row and asyncpg.Record both are)."""

    def __getitem__(self, key: int | str, /) -> Any: ...
    def keys(self) -> Iterable[str]: ...


class IntegrityError(Exception):
    """The database refused a change that breaks one of its rules (a constraint or trigger)."""


class Transaction(ABC):
    """The statements of one unit of work."""

    @abstractmethod
    async def execute(self, sql: str, parameters: Parameters = ()) -> None: ...

    @abstractmethod
    async def fetch_all(self, sql: str, parameters: Parameters = ()) -> list[Row]: ...

    async def fetch_one(self, sql: str, parameters: Parameters = ()) -> Row | None:
        rows = await self.fetch_all(sql, parameters)
        return rows[0] if rows else None

    @abstractmethod
    async def notify(self, topic: str, payload: str) -> None:
        """Tell every listening process (this one too), once this transaction commits."""


Listener = Callable[[str, str], None]  # (topic, payload)


class ProcessLock(ABC):
    """A lock held by one process at a time, released when it lets go or dies."""

    @abstractmethod
    async def acquire(self) -> bool:
        """Take the lock if it is free; return whether this process holds it."""

    @abstractmethod
    async def held(self) -> bool:
        """Whether this process still holds the lock (a lost connection loses it)."""

    @abstractmethod
    async def release(self) -> None: ...

    async def session(self) -> int | None:
        """The database session that holds (or would hold) the lock: PostgreSQL's backend pid;
        None where locks have no session (SQLite)."""
        return None

    async def end_holder(self, session: int) -> bool:
        """End `session` if it holds an advisory lock (its holder went silent), so the lock is
        free; return whether it did."""
        return False


class StorageInUse(Exception):
    """Another process already uses storage that serves only one."""


class Database(ABC):
    """Reads, transactions and migrations, whichever backend holds the data."""

    dialect: Dialect

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def unavailable(self, error: BaseException) -> bool:
        """Whether `error` means the database could not be reached or did not answer in time
        (waiting mends it), rather than a statement it refused."""

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """BEGIN … COMMIT (ROLLBACK on error), with no other writer in between."""

    @abstractmethod
    async def fetch_all(self, sql: str, parameters: Parameters = ()) -> list[Row]:
        """Run a read outside any transaction and return every row."""

    async def fetch_one(self, sql: str, parameters: Parameters = ()) -> Row | None:
        rows = await self.fetch_all(sql, parameters)
        return rows[0] if rows else None

    @abstractmethod
    async def ping(self, within: float) -> bool:
        """Whether the database answers `SELECT 1` in `within` seconds (never raises, never
        waits longer: a health check asks it)."""

    @abstractmethod
    def listen(self, listener: Listener) -> None:
        """Call `listener` for every notification sent by any process, after its commit."""

    @abstractmethod
    async def start_listening(self) -> None:
        """Start receiving notifications (a connection of its own, where there are several)."""

    @abstractmethod
    def lock(self, name: str) -> ProcessLock:
        """A lock named `name` that at most one process holds at a time."""

    @abstractmethod
    async def claim_process(self) -> None:
        """Refuse to go on (StorageInUse) if this storage serves one process and another has it."""

    @property
    @abstractmethod
    def shared(self) -> bool:
        """Whether several processes may use this storage at once."""

    @abstractmethod
    async def version(self) -> int:
        """The number of the last migration applied."""

    async def migrate(self, folder: Path | None = None) -> int:
        """Apply every migration above the recorded version, all in one transaction."""
        folder = folder or MIGRATIONS / self.dialect
        if not pending_migrations(folder, await self.version()):
            return await self.version()
        async with self.transaction() as tx:
            # Read again inside: another process may have migrated while this one waited.
            current = await self._version_in(tx)
            pending = pending_migrations(folder, current)
            for number, name, script in pending:
                log.info("Applying migration %s/%s", self.dialect, name)
                await self._run_script(tx, script)
                await self._record_version(tx, number)
        return await self.version()

    @abstractmethod
    async def _version_in(self, tx: Transaction) -> int: ...

    @abstractmethod
    async def _run_script(self, tx: Transaction, script: str) -> None: ...

    @abstractmethod
    async def _record_version(self, tx: Transaction, number: int) -> None: ...


def unanswered(error: Exception, within: float) -> str:
    """Why a ping got no answer, for the log."""
    if isinstance(error, TimeoutError):
        return f"no answer in {within:g} s"
    return f"{type(error).__name__}: {error}"


def is_postgres_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def pending_migrations(folder: Path, current: int) -> list[tuple[int, str, str]]:
    """Return (number, file name, SQL) of each migration above `current`, in order."""
    found = sorted((int(path.name.split("_", 1)[0]), path) for path in folder.glob("*.sql"))
    return [(number, path.name, path.read_text()) for number, path in found if number > current]
