"""Open the database a target names: a `postgresql://` URL, else a SQLite file path."""

from __future__ import annotations

from pathlib import Path

from storage.database import Database, is_postgres_url
from storage.pglink import LinkLimits
from storage.postgres import PostgresDatabase
from storage.sqlite import SqliteDatabase


async def open_database(
    target: Path | str, *, password: str | None = None, limits: LinkLimits | None = None
) -> Database:
    """Open and migrate PostgreSQL at a `postgresql://` URL (with `password` when the URL has
    none, and `limits` on every connection), else the SQLite file `target`."""
    if is_postgres_url(str(target)):
        return await PostgresDatabase.connect(str(target), password=password, limits=limits)
    return await SqliteDatabase.connect(target)
