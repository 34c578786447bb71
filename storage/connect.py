"""Open the database a target names: a `postgresql://` URL, else a SQLite file path."""

from __future__ import annotations

from pathlib import Path

from storage.database import Database, is_postgres_url
from storage.postgres import PostgresDatabase
from storage.sqlite import SqliteDatabase


async def open_database(target: Path | str) -> Database:
    """Open and migrate PostgreSQL at a `postgresql://` URL, else the SQLite file `target`."""
    if is_postgres_url(str(target)):
        return await PostgresDatabase.connect(str(target))
    return await SqliteDatabase.connect(target)
