"""Health that means something: the heartbeat is touched only while the database answers, the
engine's loop runs and (for `run`) Discord is connected; `python -m bot health` says in one line
whether it is fresh.

The beat is driven directly (no waiting for its 30 s timer); databases are real and broken for
real: closed, stuck behind a transaction, or a server that never answers.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from pydantic import SecretStr

from bot.dashscope import DashScopeClient
from bot.dev.local_cluster import Worker
from bot.engine.runner import Engine, EngineConfig
from bot.run.health import STALE_SECONDS, Heartbeat, check
from bot.simulator import Simulator, SimulatorConfig
from storage.connect import open_database
from storage.database import Database
from storage.jobs import JobStore
from storage.postgres import LinkLimits, PostgresDatabase
from storage.quotas import QuotaStore
from tests.support import ROOT
from tests.support.engine_rig import RecordingNotifier
from tests.support.fakediscord import FakeDiscord
from tests.support.fakediscord.wanbot import fast_settings, running_bot
from tests.support.postgres import new_postgres_schema

HOUR = 3_600.0


def old_heartbeat(path: Path) -> Path:
    """A heartbeat last touched an hour ago."""
    path.write_text("0\n")
    long_ago = time.time() - HOUR
    os.utime(path, (long_ago, long_ago))
    return path


def touched(path: Path) -> bool:
    return path.stat().st_mtime > time.time() - HOUR / 2


def well() -> bool:
    return True


async def test_a_beat_touches_the_heartbeat_while_all_is_well(db: Database, tmp_path: Path) -> None:
    beat = old_heartbeat(tmp_path / "heartbeat")
    assert await Heartbeat(beat, db, engine_alive=well, connected=well).beat() is None
    assert touched(beat)
    assert check(beat)[0]


async def test_no_beat_once_the_database_is_gone(database_target: str, tmp_path: Path) -> None:
    beat = old_heartbeat(tmp_path / "heartbeat")
    db = await open_database(database_target)
    await db.close()

    trouble = await Heartbeat(beat, db, engine_alive=well, ping_within=2).beat()

    assert trouble == "the database did not answer SELECT 1 within 2 s"
    assert not touched(beat)


async def test_no_beat_while_sqlite_is_stuck_in_a_transaction(tmp_path: Path) -> None:
    beat = old_heartbeat(tmp_path / "heartbeat")
    async with await open_database(tmp_path / "db.sqlite3") as db:
        heartbeat = Heartbeat(beat, db, engine_alive=well, ping_within=0.2)
        async with db.transaction():  # held while the beat waits: every query here waits
            started = time.monotonic()
            trouble = await heartbeat.beat()
            waited = time.monotonic() - started
        assert trouble == "the database did not answer SELECT 1 within 0.2 s"
        assert waited < 2
        assert not touched(beat)
        assert await heartbeat.beat() is None  # the transaction ended: well again
        assert touched(beat)


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A PostgreSQL URL whose server takes the connection and never says a word (a machine
    that went silent)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"postgresql://wanbot@127.0.0.1:{port}/wanbot"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_no_beat_while_postgres_is_silent(silent_server: str, tmp_path: Path) -> None:
    beat = old_heartbeat(tmp_path / "heartbeat")
    pool = await asyncpg.create_pool(silent_server, min_size=0, max_size=1)
    db = PostgresDatabase(pool, silent_server, LinkLimits(), None)
    try:
        started = time.monotonic()
        trouble = await Heartbeat(beat, db, engine_alive=well, ping_within=0.3).beat()
        waited = time.monotonic() - started
    finally:
        pool.terminate()
    assert trouble == "the database did not answer SELECT 1 within 0.3 s"
    assert waited < 2
    assert not touched(beat)


async def test_no_beat_while_discord_is_disconnected(db: Database, tmp_path: Path) -> None:
    beat = old_heartbeat(tmp_path / "heartbeat")
    heartbeat = Heartbeat(beat, db, engine_alive=well, connected=lambda: False)
    assert await heartbeat.beat() == "not connected to Discord"
    assert not touched(beat)


async def test_no_beat_unless_the_engine_loop_runs(db: Database, tmp_path: Path) -> None:
    beat = old_heartbeat(tmp_path / "heartbeat")
    async with aiohttp.ClientSession() as session:
        engine = Engine(
            db=db,
            jobs=JobStore(db),
            quotas=QuotaStore(db),
            notifier=RecordingNotifier(),
            config=EngineConfig(spool_dir=tmp_path / "spool"),
            client=DashScopeClient(
                session, api_key=SecretStr("k"), base_url="http://127.0.0.1:9/api/v1"
            ),
        )
        heartbeat = Heartbeat(beat, db, engine_alive=lambda: engine.alive)
        assert await heartbeat.beat() == "the engine's loop is not running"  # not started

        await engine.start()
        try:
            assert await heartbeat.beat() is None
            assert touched(beat)
            old_heartbeat(beat)
            # The loop dies (as from an error nothing caught): the engine no longer works.
            loop = engine._cluster._loops[0]
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
            assert await heartbeat.beat() == "the engine's loop is not running"
            assert not touched(beat)
        finally:
            await engine.stop()
        assert not engine.alive


def test_check_says_in_one_line_how_old_the_heartbeat_is(tmp_path: Path) -> None:
    beat = tmp_path / "heartbeat"
    fresh, line = check(beat)
    assert not fresh
    assert line.startswith(f"unhealthy: no heartbeat yet at {beat}: the bot or worker is not")
    beat.write_text("x")
    now = beat.stat().st_mtime
    assert check(beat, now=now + 60) == (True, "healthy: last heartbeat 60 s ago")
    fresh, line = check(beat, now=now + STALE_SECONDS + 30)
    assert not fresh
    assert line == (
        "unhealthy: last heartbeat 120 s ago (stale after 90 s) and no check since:"
        " the process has stopped or is stuck; its log says more"
    )


async def test_health_says_what_held_the_beat_back(db: Database, tmp_path: Path) -> None:
    """Before, `health` said only that the beat was stale; the reason was in the process's log."""
    beat = tmp_path / "heartbeat"
    connected = False
    heartbeat = Heartbeat(beat, db, engine_alive=well, connected=lambda: connected)
    assert await heartbeat.beat() == "not connected to Discord"
    assert check(beat) == (
        False,
        "unhealthy: not connected to Discord (no heartbeat yet, checked 0 s ago)",
    )
    connected = True
    assert await heartbeat.beat() is None
    assert check(beat)[0]
    old_heartbeat(beat)  # an hour later, the database stops answering
    await db.close()
    assert await heartbeat.beat() is not None
    fresh, line = check(beat)
    assert not fresh
    assert re.fullmatch(
        r"unhealthy: the database did not answer SELECT 1 within 5 s \(last heartbeat 36\d\d s"
        r" ago, checked 0 s ago\)",
        line,
    )


def test_a_heartbeat_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where a folder should be")
    fresh, line = check(tmp_path / "data" / "heartbeat")
    assert not fresh
    assert line.startswith("unhealthy: cannot read the heartbeat at ") and "\n" not in line


def health(heartbeat: Path) -> subprocess.CompletedProcess[str]:
    """`python -m bot health`, as Docker's HEALTHCHECK runs it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WANBOT_")}
    environment["WANBOT_HEARTBEAT_PATH"] = str(heartbeat)
    return subprocess.run(
        [sys.executable, "-m", "bot", "health"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_health_command_exits_1_with_one_line_saying_why(tmp_path: Path) -> None:
    beat = tmp_path / "heartbeat"
    missing = health(beat)
    assert missing.returncode == 1
    [line] = missing.stderr.splitlines()
    assert line.startswith(f"unhealthy: no heartbeat yet at {beat}: ")
    stale = health(old_heartbeat(beat))
    assert stale.returncode == 1
    [line] = stale.stderr.splitlines()
    assert re.fullmatch(
        r"unhealthy: last heartbeat 36\d\d s ago \(stale after 90 s\) and no check since: the"
        r" process has stopped or is stuck; its log says more",
        line,
    )


async def test_a_running_worker_reports_healthy(postgres_server: str, tmp_path: Path) -> None:
    """The worker beats once its engine runs and its database answers; `health` then says so."""
    beat = tmp_path / "heartbeat"
    async with Simulator(SimulatorConfig()) as simulator:
        assert simulator.base_url is not None
        worker = Worker(
            "w1",
            database_url=await new_postgres_schema(postgres_server),
            api_base_url=simulator.base_url,
            api_key="sk-health",
            output_dir=tmp_path / "out",
            folder=tmp_path / "w1",
            settings={"WANBOT_HEARTBEAT_PATH": str(beat)},
        )
        await worker.start()
        try:
            async with asyncio.timeout(60):
                await worker.wait_for("Heartbeat: all well (database, engine)")
            done = await asyncio.to_thread(health, beat)
        finally:
            await worker.stop()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("healthy: last heartbeat ")


async def test_the_bot_beats_while_connected_to_discord(
    fake: FakeDiscord, simulator: Simulator, tmp_path: Path
) -> None:
    """`run` checks the gateway besides the database and the engine: connected, it beats."""
    settings = fast_settings(tmp_path)
    async with running_bot(fake, simulator, settings) as running:
        heartbeat = running.bot.heartbeat
        assert heartbeat is not None and heartbeat.connected is not None
        async with asyncio.timeout(20):
            await running.bot.wait_until_ready()
        assert running.bot.connected()
        old_heartbeat(settings.heartbeat_path)
        assert await heartbeat.beat() is None
        assert touched(settings.heartbeat_path)
    assert not running.bot.connected()
    assert await heartbeat.trouble() == "not connected to Discord"
