"""The PostgreSQL link under faults: a machine that goes silent inside a write transaction holds
the one write lock only until the server cuts its idle transaction, and its own calls give up
instead of hanging. Limits are short here; production's are in `LinkLimits()`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import pytest

from storage.guild_settings import GuildSettingsStore
from storage.pglink import DatabaseUnreachable, LinkLimits
from storage.postgres import PostgresDatabase
from tests.support.pgproxy import ProxyFactory
from tests.support.postgres import SHORT, new_postgres_schema

GUILD = 1234
DEADLINE = 15.0


async def test_a_writer_that_goes_silent_holding_the_write_lock_stalls_others_only_briefly(
    postgres_server: str, pg_proxy: ProxyFactory
) -> None:
    url = await new_postgres_schema(postgres_server)
    silent_machine, healthy_machine = await pg_proxy(url), await pg_proxy(url)
    async with (
        await PostgresDatabase.connect(silent_machine.url, limits=SHORT) as silent,
        await PostgresDatabase.connect(healthy_machine.url, limits=SHORT) as healthy,
    ):
        # The write lock is taken, then the machine goes silent before it hears back.
        vanished = silent_machine.on_statement(
            "pg_advisory_xact_lock", when="after", action="blackhole", scope="machine"
        )
        stuck = asyncio.create_task(GuildSettingsStore(silent).update(GUILD, language="fr"))
        async with asyncio.timeout(DEADLINE):
            await vanished.fired.wait()
        went_silent = time.monotonic()

        # A moderator on another machine changes a setting: it waits for the write lock only
        # until the server cuts the silent machine's idle transaction, and is not refused.
        async with asyncio.timeout(DEADLINE):
            changed = await GuildSettingsStore(healthy).update(GUILD, language="de")
        waited = time.monotonic() - went_silent
        assert changed.language == "de"
        assert SHORT.idle_in_transaction_seconds <= waited < SHORT.lock_seconds

        # The silent machine's own call fails within its command timeout, not never.
        async with asyncio.timeout(DEADLINE):
            with pytest.raises((TimeoutError, asyncpg.InterfaceError, OSError)):
                await stuck
        assert time.monotonic() - went_silent < (SHORT.command_seconds or 0) + 1.0
        # What it wrote in its transaction was rolled back with it.
        assert (await GuildSettingsStore(healthy).get(GUILD)).language == "de"


async def test_every_connection_carries_the_limits(
    postgres_server: str, pg_proxy: ProxyFactory
) -> None:
    """The pool's, the listener's and the process lock's connections all open with them."""
    url = await new_postgres_schema(postgres_server)
    machine = await pg_proxy(url)
    async with await PostgresDatabase.connect(machine.url, limits=SHORT) as db:
        await db.start_listening()
        assert await db.lock("scheduler").acquire()
        async with db.transaction():
            pass
        opened = [c.startup for c in machine.connections if "user" in c.startup]
        assert len(opened) == 3  # the pool's one, the listener, the lock
        for startup in opened:
            assert startup["search_path"] == url.rsplit("=", 1)[1]
            assert {k: startup[k] for k in SHORT.server_settings()} == {
                "statement_timeout": "3500",
                "lock_timeout": "3000",
                "idle_in_transaction_session_timeout": "1000",
                "tcp_keepalives_idle": "5",
                "tcp_keepalives_interval": "5",
                "tcp_keepalives_count": "3",
                "tcp_user_timeout": "20000",
            }
        shown = await db.fetch_one("SELECT current_setting('idle_in_transaction_session_timeout')")
        assert shown is not None and shown[0] == "1s"  # and the server took them


async def test_a_silent_machine_gives_up_on_its_calls_instead_of_hanging(
    postgres_server: str, pg_proxy: ProxyFactory
) -> None:
    """A read on a pooled connection gives up after the command timeout, with no second wait
    for the cancel asyncpg sends on the same silent link; a new connection after the connect
    timeout, with one line that names the server."""
    url = await new_postgres_schema(postgres_server)
    machine = await pg_proxy(url)
    async with await PostgresDatabase.connect(machine.url, limits=SHORT) as db:
        machine.blackhole()
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(DEADLINE):
                await db.fetch_all("SELECT 1")
        assert time.monotonic() - started < (SHORT.command_seconds or 0) + 1.0
        started = time.monotonic()
        with pytest.raises(DatabaseUnreachable, match=r"no answer in 2 s") as refused:
            async with asyncio.timeout(DEADLINE):
                await GuildSettingsStore(db).get(GUILD)
        assert time.monotonic() - started < SHORT.connect_seconds + 1.0
        assert f"127.0.0.1:{machine.port}" in str(refused.value)


async def test_a_migration_is_not_cut_by_the_statement_timeout(
    postgres_server: str, tmp_path: Path
) -> None:
    """A migration may rewrite a big table: it runs past statement_seconds and command_seconds,
    while an ordinary statement of the same length is cut."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "9001_slow.sql").write_text("SELECT pg_sleep(1.5);\nCREATE TABLE slow (x int);\n")
    limits = LinkLimits(statement_seconds=0.5, command_seconds=1.0)
    url = await new_postgres_schema(postgres_server)
    async with await PostgresDatabase.connect(url, limits=limits) as db:
        assert await db.migrate(folder) == 9001
        assert await db.fetch_all("SELECT * FROM slow") == []
        with pytest.raises(asyncpg.QueryCanceledError, match="statement timeout"):
            await db.fetch_all("SELECT pg_sleep(1.5)")
        assert (await db.fetch_one("SHOW statement_timeout"))[0] == "500ms"  # type: ignore[index]
