"""The database opens configured and migrates once, in order, recording the version, on both
backends; a transaction is all or nothing; the PostgreSQL backend speaks the same SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.connect import open_database
from storage.database import MIGRATIONS
from storage.postgres import translate


async def test_sqlite_opens_configured(tmp_path: Path) -> None:
    async with await open_database(tmp_path / "nested" / "wanbot.sqlite3") as db:
        assert (await db.fetch_one("PRAGMA journal_mode"))[0] == "wal"
        assert (await db.fetch_one("PRAGMA foreign_keys"))[0] == 1


async def test_migrations_apply_once_and_record_the_version(database_target: str) -> None:
    async with await open_database(database_target) as db:
        newest = max(int(p.name[:4]) for p in (MIGRATIONS / db.dialect).glob("*.sql"))
        assert await db.version() == newest
        for table in ("jobs", "job_events", "job_responses", "quota_ledger", "guild_settings"):
            assert (await db.fetch_one(f"SELECT COUNT(*) FROM {table}"))[0] == 0
    async with await open_database(database_target) as again:
        assert await again.version() == newest


def test_both_backends_have_the_same_migrations() -> None:
    """A change to the schema is written for both backends, under the same number and name."""
    names = {
        dialect: sorted(p.name for p in (MIGRATIONS / dialect).glob("*.sql"))
        for dialect in ("sqlite", "postgres")
    }
    assert names["sqlite"] == names["postgres"]
    assert not list(MIGRATIONS.glob("*.sql")), "migrations belong in sqlite/ and postgres/"


async def test_a_failing_migration_changes_nothing(database_target: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "9001_ok.sql").write_text("CREATE TABLE a (x INTEGER);\n")
    (folder / "9002_broken.sql").write_text("CREATE TABLE b (x INTEGER);\nTHIS IS NOT SQL;\n")
    async with await open_database(database_target) as db:
        before = await db.version()
        with pytest.raises(Exception, match="syntax error"):
            await db.migrate(folder)
        assert await db.version() == before
        with pytest.raises(Exception, match='no such table: a|relation "a" does not exist'):
            await db.fetch_all("SELECT * FROM a")


async def test_transactions_roll_back_on_error(database_target: str) -> None:
    async with await open_database(database_target) as db:
        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO task_durations (model, resolution, duration, seconds, at)"
                    " VALUES ('m', '720P', 5, 1, 0)"
                )
                raise RuntimeError("boom")
        assert await db.fetch_all("SELECT * FROM task_durations") == []


def test_postgres_parameters_are_numbered_outside_strings_and_casts() -> None:
    assert translate("SELECT * FROM t WHERE a = ? AND b = '?' AND c = ?") == (
        "SELECT * FROM t WHERE a = $1 AND b = '?' AND c = $2",
        2,
    )
    assert translate("SELECT CAST(:x AS json), y::text, ':z' FROM t WHERE w = :x OR v = :u") == (
        "SELECT CAST($1 AS json), y::text, ':z' FROM t WHERE w = $1 OR v = $2",
        ("x", "u"),
    )
    with pytest.raises(ValueError, match="mixes"):
        translate("SELECT ? WHERE a = :a")
