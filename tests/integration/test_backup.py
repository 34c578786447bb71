"""`python -m bot backup`: a copy taken while the engine writes is whole, and a bot restored from
it (stop, copy over WANBOT_DATABASE_PATH, start: docs/operations.md) finishes every job in it.

The engine runs in real time against the simulator, members keep asking for videos while the
copy is made, and the copy is read back with plain sqlite3, as an operator would.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bot.dashscope import DashScopeClient
from bot.domain.jobs import Job, JobState, Requester
from bot.engine.notifier import Progress
from bot.engine.runner import Engine, EngineConfig
from bot.run.cli import EXIT_BAD_INPUT, EXIT_OK, main
from bot.run.settings import Settings
from bot.simulator import Simulator, SimulatorConfig
from storage.connect import open_database
from storage.database import Database
from storage.jobs import JobStore
from storage.quotas import QuotaStore
from tests.support.engine_rig import RecordingNotifier, video_request

GUILD = 10


@dataclass
class Watching(RecordingNotifier):
    """A channel that also says when every job it waits for has ended."""

    ended: dict[int, JobState] = field(default_factory=dict)
    waiting_for: set[int] = field(default_factory=set)
    all_ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def progress(self, job: Job, update: Progress) -> None:
        await super().progress(job, update)
        if update.state.is_final:
            self.ended[job.id] = update.state
        if self.waiting_for and self.waiting_for <= self.ended.keys():
            self.all_ended.set()


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorConfig(pending_seconds=0.3, running_seconds=1.5)) as sim:
        yield sim


def engine_on(
    db: Database,
    session: aiohttp.ClientSession,
    simulator: Simulator,
    notifier: Watching,
    spool: Path,
) -> Engine:
    """A real-time engine polling the simulator often (a bot's, in miniature). A job found
    mid-submit after the restore is looked up in the provider's task list once its POST can no
    longer make a task: 90 s in a bot, a second here."""
    assert simulator.base_url is not None
    config = EngineConfig(
        spool_dir=spool,
        max_waiting_per_user=1000,
        submit_deadline_seconds=1.0,
        clock_skew_seconds=0.5,
        reconcile_after_seconds=0.5,
    )
    planner = replace(config.planner, dense_interval=0.05, longest_interval=0.2)
    return Engine(
        db=db,
        jobs=JobStore(db),
        quotas=QuotaStore(db, default_seconds=100_000),
        client=DashScopeClient(session, api_key=SecretStr("k"), base_url=simulator.base_url),
        notifier=notifier,
        config=replace(config, planner=planner),
    )


def read(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


async def test_a_backup_taken_while_jobs_run_is_whole_and_a_bot_restored_from_it_resumes(
    simulator: Simulator, tmp_path: Path
) -> None:
    live = tmp_path / "data" / "wanbot.sqlite3"
    copy = tmp_path / "backups" / "wanbot-monday.sqlite3"
    copy.parent.mkdir()
    settings = Settings(database_path=live)
    notifier = Watching()
    async with aiohttp.ClientSession() as session:
        async with await open_database(live) as db:
            version = await db.version()
            engine = engine_on(db, session, simulator, notifier, tmp_path / "spool")
            await engine.start()
            try:
                asked = 0

                async def ask() -> None:  # each its own prompt, as members' differ
                    nonlocal asked
                    request = video_request(duration=2, prompt=f"a cat, take {asked}")
                    await engine.enqueue(request, requester(asked % 5))
                    asked += 1

                for _ in range(5):  # some jobs under way before the copy
                    await ask()
                backup = asyncio.create_task(
                    asyncio.to_thread(main, ["backup", "--output", str(copy)], settings)
                )
                while not backup.done():  # members go on asking while the copy is made
                    await ask()
                assert await backup == EXIT_OK
                assert asked > 5
            finally:
                await engine.stop()

        # The copy, read as an operator would: sound, migrated, every job with its reservation.
        assert read(copy, "PRAGMA integrity_check") == [("ok",)]
        assert read(copy, "PRAGMA user_version") == [(version,)]
        assert read(copy, "PRAGMA journal_mode") == [("delete",)]  # one self-contained file
        jobs = dict(read(copy, "SELECT id, state FROM jobs"))
        assert len(jobs) >= 5
        reserved = {
            row[0] for row in read(copy, "SELECT job_id FROM quota_ledger WHERE kind = 'reserve'")
        }
        assert reserved == set(jobs), (
            "a job and its reservation are one transaction: both or neither"
        )
        unfinished = {j for j, state in jobs.items() if not JobState(state).is_final}
        assert unfinished, "the copy was taken while jobs were under way"

        # Restore as docs/operations.md says: the bot stopped, the copy over the database.
        for leftover in (live.with_name(f"{live.name}-wal"), live.with_name(f"{live.name}-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(copy, live)
        notifier.waiting_for = set(jobs)
        notifier.ended.clear()
        async with await open_database(live) as db:
            restored = engine_on(db, session, simulator, notifier, tmp_path / "spool")
            await restored.start()  # resumes every unfinished job from its row
            try:
                await asyncio.wait_for(notifier.all_ended.wait(), 60)
            finally:
                await restored.stop()
            for job_id in jobs:
                job = await JobStore(db).get(job_id)
                assert job is not None and job.state is JobState.DELIVERED, job
    assert all(len(notifier.posted[j]) == 1 for j in jobs), "none posted twice"


def requester(user: int) -> Requester:
    return Requester(user_id=user + 1, guild_id=GUILD, channel_id=100)


async def made_database(path: Path) -> None:
    async with await open_database(path):
        pass


def backup(settings: Settings, *argv: str | Path) -> int:
    return main(["backup", *map(str, argv)], settings)


async def test_an_existing_file_is_kept_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_path=tmp_path / "wanbot.sqlite3")
    await made_database(settings.database_path)
    kept = tmp_path / "yesterday.sqlite3"
    kept.write_bytes(b"yesterday's copy")
    assert await asyncio.to_thread(backup, settings, "--output", kept) == EXIT_BAD_INPUT
    [line] = capsys.readouterr().err.splitlines()
    assert line == f"error: {kept} exists: give --force to replace it, or another name"
    assert kept.read_bytes() == b"yesterday's copy"
    assert await asyncio.to_thread(backup, settings, "--output", kept, "--force") == EXIT_OK
    [said] = capsys.readouterr().out.splitlines()
    assert said.startswith(f"{kept}: a copy of {settings.database_path} (")
    assert said.endswith("0 jobs, 0 quota ledger rows; integrity ok)")
    assert read(kept, "PRAGMA integrity_check") == [("ok",)]
    assert not list(tmp_path.glob(".*partial")), "no half-made copy left behind"


def test_postgres_is_pointed_to_pg_dump(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    settings = Settings(database_url=SecretStr("postgresql://wanbot:Zq9secret@db/wanbot"))
    assert backup(settings, "--output", tmp_path / "x") == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert "pg_dump" in line and "WANBOT_DATABASE_URL" in line
    assert "Zq9secret" not in captured.err + captured.out
    assert not (tmp_path / "x").exists()


def test_no_database_is_one_line_naming_the_setting(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    settings = Settings(database_path=tmp_path / "none.sqlite3")
    assert backup(settings, "--output", tmp_path / "x") == EXIT_BAD_INPUT
    assert capsys.readouterr().err == (
        f"error: there is no SQLite database at {tmp_path / 'none.sqlite3'} (WANBOT_DATABASE_PATH)\n"
    )
