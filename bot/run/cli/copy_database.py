"""`python -m bot copy-database`: the SQLite database copied into an empty PostgreSQL one."""

from __future__ import annotations

import sys

from bot.run.cli.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from bot.run.settings import Settings
from storage.database import is_postgres_url


async def copy_database_command(settings: Settings, to: str | None) -> int:
    """Copy the SQLite database (WANBOT_DATABASE_PATH) into the PostgreSQL database at `to`,
    else at WANBOT_DATABASE_URL; a password the URL lacks comes from the password settings."""
    from storage.connect import open_database
    from storage.postgres import PostgresDatabase
    from storage.transfer import COPY_LIMITS, NotEmpty, copy_database

    target = str(settings.database_target())
    url = to or (target if is_postgres_url(target) else None)
    if url is None or not is_postgres_url(url):
        what = "--to must be" if url else "name the database: --to or WANBOT_DATABASE_URL,"
        print(f"error: {what} a postgresql:// URL", file=sys.stderr)
        return EXIT_BAD_INPUT
    source_path = settings.database_path
    if not source_path.is_file():
        print(f"error: no SQLite database at {source_path}", file=sys.stderr)
        return EXIT_BAD_INPUT
    password = settings.database_password_text()  # InvalidInput: main() says it
    target_db = await PostgresDatabase.connect(url, limits=COPY_LIMITS, password=password)
    source = await open_database(source_path)
    try:
        copied = await copy_database(source, target_db)
    except NotEmpty as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await source.close()
        await target_db.close()
    for table, count in copied.items():
        print(f"{table}: {count} rows", file=sys.stderr)
    then = "Set WANBOT_DATABASE_URL to that URL and start" if to else "Start"
    print(f"Copied. {then} the processes.", file=sys.stderr)
    return EXIT_OK
