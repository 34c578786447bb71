"""Copy every row of a SQLite database into a new, empty PostgreSQL one (moving to several
processes keeps the history, the quotas and the settings).

Tables are copied parent first, ids kept; the reservation triggers are off while the ledger's
own rows are copied (they would write each ledger row a second time), and each id sequence is
moved past the highest id copied.
"""

from __future__ import annotations

from storage.database import Database, Row
from storage.pglink import LinkLimits
from storage.postgres import PostgresDatabase

# The copy is one transaction that reads each SQLite table while it is open: reading a big one
# may leave it idle longer than a running bot's limits allow. A one-off, watched by an operator.
COPY_LIMITS = LinkLimits(
    command_seconds=600.0, statement_seconds=600.0, idle_in_transaction_seconds=600.0
)

# Parents before children (foreign keys), each with the column its ids come from, if any.
TABLES: tuple[tuple[str, str | None], ...] = (
    ("jobs", "id"),
    ("job_events", "id"),
    ("job_responses", "id"),
    ("task_durations", "id"),
    ("quota_guilds", None),
    ("quota_role_defaults", None),
    ("quota_members", None),
    ("quota_reservations", None),
    ("quota_ledger", "id"),
    ("guild_settings", None),
    ("member_settings", None),
)


class NotEmpty(Exception):
    """The target already holds data; copying into it could mix two histories."""


async def copy_database(source: Database, target: PostgresDatabase) -> dict[str, int]:
    """Copy every table of `source` into `target` (both migrated); return rows per table."""
    if await source.version() != await target.version():
        raise ValueError("both databases must be at the same schema version (open both first)")
    for table, _ in TABLES:
        row = await target.fetch_one(f"SELECT COUNT(*) FROM {table}")
        if row is not None and row[0]:
            raise NotEmpty(f"The target database already has rows in {table}; use an empty one.")
    copied: dict[str, int] = {}
    async with target.transaction() as tx:
        await tx.execute("ALTER TABLE quota_reservations DISABLE TRIGGER USER")
        for table, _ in TABLES:
            rows = await source.fetch_all(f"SELECT * FROM {table}")
            copied[table] = len(rows)
            if not rows:
                continue
            names = list(rows[0].keys())
            marks = ", ".join(f":{name}" for name in names)
            sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"
            for row in rows:
                await tx.execute(sql, _values(row, names))
        await tx.execute("ALTER TABLE quota_reservations ENABLE TRIGGER USER")
        for table, id_column in TABLES:
            if id_column is not None:
                await tx.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{id_column}'),"
                    f" COALESCE((SELECT MAX({id_column}) FROM {table}), 0) + 1, false)"
                )
    return copied


def _values(row: Row, names: list[str]) -> dict[str, object]:
    return {name: row[name] for name in names}
