"""`python -m bot backup`: a copy of the SQLite database, safe while the bot runs (restoring it:
docs/operations.md). PostgreSQL is backed up with its own `pg_dump`."""

from __future__ import annotations

from pathlib import Path

from bot.run.cli.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, fail
from bot.run.settings import Settings
from storage.backup import BackupError, BackupRefused, backup_sqlite

PG_DUMP = (
    "WANBOT_DATABASE_URL names PostgreSQL: back it up with PostgreSQL's own pg_dump, e.g."
    ' pg_dump --format=custom --file wanbot.dump "$WANBOT_DATABASE_URL" (docs/operations.md)'
)


async def backup_command(settings: Settings, output: Path, *, force: bool) -> int:
    """Copy the bot's SQLite database to `output` and say so in one line."""
    source = settings.database_target()
    if not isinstance(source, Path):
        return fail(PG_DUMP)
    if not source.is_file():
        return fail(f"there is no SQLite database at {source} (WANBOT_DATABASE_PATH)")
    try:
        copy = await backup_sqlite(source, output, replace=force)
    except BackupRefused as error:
        return fail(str(error), EXIT_BAD_INPUT)
    except BackupError as error:
        return fail(str(error), EXIT_FAILED)
    print(
        f"{copy.path}: a copy of {source} ({copy.size_bytes / 2**20:.1f} MiB, schema version"
        f" {copy.schema_version}, {copy.jobs} jobs, {copy.ledger_rows} quota ledger rows;"
        " integrity ok)"
    )
    return EXIT_OK
