"""Moving from SQLite to PostgreSQL keeps everything: jobs and their history, every quota
decision and the ledger (once, not twice), server settings; and new rows carry on after the
copied ids. A target that already holds data is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.domain.jobs import JobState
from bot.run.cli import main
from storage.connect import open_database
from storage.guild_settings import GuildSettingsStore
from storage.jobs import JobStore
from storage.postgres import PostgresDatabase
from storage.quotas import QuotaStore
from storage.transfer import TABLES, NotEmpty, copy_database
from tests.support.engine_rig import ALICE, BOB, video_request
from tests.support.postgres import new_postgres_schema

GUILD = 10


async def fill(path: Path) -> None:
    """A small history: two jobs (one delivered and charged, one refunded), grants, settings."""
    async with await open_database(path) as db:
        jobs, quotas = JobStore(db), QuotaStore(db, default_seconds=60)
        for requester, ending in ((ALICE, JobState.DELIVERED), (BOB, JobState.FAILED)):
            async with db.transaction() as tx:
                job_id = await jobs.create(
                    tx, requester=requester, request=video_request(duration=5), reserved_seconds=5
                )
                await quotas.reserve(
                    tx, guild_id=GUILD, user_id=requester.user_id, seconds=5, job_id=job_id
                )
            async with db.transaction() as tx:
                for state in (JobState.SUBMITTING, JobState.PENDING, JobState.RUNNING):
                    await jobs.transition(tx, job_id, state)
                if ending is JobState.DELIVERED:
                    await jobs.transition(tx, job_id, JobState.DOWNLOADING)
                    await jobs.transition(tx, job_id, JobState.DELIVERING)
                    await jobs.transition(tx, job_id, JobState.DELIVERED)
                    await quotas.commit(tx, job_id=job_id, billed_seconds=5)
                else:
                    await jobs.transition(tx, job_id, JobState.FAILED)
                    await quotas.refund(tx, job_id=job_id, reason="failed")
        await quotas.grant(GUILD, ALICE.user_id, 30, actor_id=99)
        await quotas.set_budget(GUILD, 600)
        await GuildSettingsStore(db).update(GUILD, banned_words=("gore",), actor_id=99)


async def counts(db: object) -> dict[str, int]:
    assert hasattr(db, "fetch_one")
    found = {}
    for table, _ in TABLES:
        row = await db.fetch_one(f"SELECT COUNT(*) FROM {table}")
        found[table] = row[0]
    return found


async def test_everything_is_copied_once_and_new_rows_follow(
    tmp_path: Path, postgres_server: str
) -> None:
    path = tmp_path / "wanbot.sqlite3"
    await fill(path)
    url = await new_postgres_schema(postgres_server)
    async with await open_database(path) as source, await PostgresDatabase.connect(url) as target:
        copied = await copy_database(source, target)
        assert copied == await counts(source) == await counts(target)
        assert copied["quota_ledger"] > 0 and copied["job_events"] > 0

        for user in (ALICE.user_id, BOB.user_id):
            before = await QuotaStore(source, default_seconds=60).allowance(
                guild_id=GUILD, user_id=user
            )
            after = await QuotaStore(target, default_seconds=60).allowance(
                guild_id=GUILD, user_id=user
            )
            assert after == before
        assert (await GuildSettingsStore(target).get(GUILD)).banned_words == ("gore",)
        assert [e.to_state for e in await JobStore(target).events(1)] == [
            e.to_state for e in await JobStore(source).events(1)
        ]

        async with target.transaction() as tx:
            new_id = await JobStore(target).create(
                tx, requester=ALICE, request=video_request(), reserved_seconds=5
            )
        assert new_id == 3

        with pytest.raises(NotEmpty, match="empty one"):
            await copy_database(source, target)


async def test_the_command_copies_and_refuses_a_second_time(
    tmp_path: Path,
    postgres_server: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "wanbot.sqlite3"
    await fill(path)
    url = await new_postgres_schema(postgres_server)
    monkeypatch.setenv("WANBOT_DATABASE_PATH", str(path))
    # The command runs its own event loop: run it outside this test's.
    assert await asyncio.to_thread(main, ["copy-database", "--to", url]) == 0
    assert "jobs: 2 rows" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["copy-database", "--to", url]) == 1
    assert "already has rows in jobs" in capsys.readouterr().err
