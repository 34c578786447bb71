"""The database opens configured and migrates once, in order, recording the version."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest

from storage.database import Database


async def test_open_configures_and_migrates(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "wanbot.sqlite3"
    async with await Database.open(path) as db:
        assert (await db.fetch_one("PRAGMA journal_mode"))[0] == "wal"
        assert (await db.fetch_one("PRAGMA foreign_keys"))[0] == 1
        version = await db.version()
        assert version >= 1
        tables = {
            row[0]
            for row in await db.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        assert {"jobs", "job_events", "job_responses"} <= tables
    async with await Database.open(path) as again:
        assert await again.version() == version


async def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_ok.sql").write_text("CREATE TABLE a (x INTEGER);\n")
    (folder / "0002_broken.sql").write_text("CREATE TABLE b (x INTEGER);\nTHIS IS NOT SQL;\n")
    db = Database(await aiosqlite.connect(":memory:", isolation_level=None))
    try:
        with pytest.raises(Exception, match="syntax error"):
            await db.migrate(folder)
        assert await db.version() == 0
        assert await db.fetch_all("SELECT name FROM sqlite_master WHERE name IN ('a', 'b')") == []
    finally:
        await db.close()


async def test_transactions_roll_back_on_error(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "t.sqlite3") as db:
        with pytest.raises(RuntimeError):
            async with db.transaction() as connection:
                await connection.execute(
                    "INSERT INTO task_durations (model, resolution, duration, seconds, at) VALUES ('m', '720P', 5, 1, 0)"
                )
                raise RuntimeError("boom")
        assert await db.fetch_all("SELECT * FROM task_durations") == []
