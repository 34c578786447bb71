"""Fixtures every level of the tests uses (tests/unit, tests/integration, tests/e2e add their own):
the simulator on loopback with a clock the test drives, a client for it, a database on each
backend (a SQLite file; a schema of its own on a PostgreSQL server the tests start themselves with
`pgserver`, once per session), and the engine rig on both. What tests share besides fixtures is in
tests/support/.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from pydantic import SecretStr

from bot.dashscope import DashScopeClient, RetryPolicy
from bot.engine.runner import EngineConfig
from bot.engine.virtual import VirtualClock
from bot.media.probe import check_media
from bot.simulator import Simulator, SimulatorConfig
from storage.connect import open_database
from storage.database import Database
from tests.support.engine_rig import KEY, RecordingNotifier, Rig, engine_rig
from tests.support.pgproxy import PgProxy, ProxyFactory
from tests.support.postgres import PASSWORD_ROLE, ROLE_PASSWORD, new_postgres_schema
from tests.support.provider import API_KEY, RecordedSleeps


@pytest.fixture(autouse=True)
def private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test writes to the user's own cache folder (generate keeps learned durations there)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server for this test session (binaries from the pgserver package)."""
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime folder at import; without XDG_RUNTIME_DIR
        # (CI, containers) that warns and falls back to /tmp, which is fine for a test server.
        warnings.simplefilter("ignore")
        import pgserver

    # Run as root, pgserver starts the server as its own user, who must reach the data folder:
    # not under pytest's private temporary folder, then.
    folder = Path(tempfile.mkdtemp(prefix="wanbot-pg-"))
    folder.chmod(0o755)
    server = pgserver.get_server(folder, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def password_server(postgres_server: str) -> str:
    """The test server, with PASSWORD_ROLE (a superuser) checked by scram-sha-256 password on the
    unix socket and on 127.0.0.1 (a pg_hba.conf line before the trust lines); its URL as
    postgres, as `postgres_server` gives it."""

    async def add_role() -> None:
        connection = await asyncpg.connect(postgres_server)
        try:
            literal = "'" + ROLE_PASSWORD.replace("'", "''") + "'"
            await connection.execute(
                f"CREATE ROLE {PASSWORD_ROLE} LOGIN SUPERUSER PASSWORD {literal}"
            )
            hba = Path(await connection.fetchval("SHOW hba_file"))
            rules = (
                f"local all {PASSWORD_ROLE} scram-sha-256\n"
                f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
            )
            hba.write_text(rules + hba.read_text())
            await connection.execute("SELECT pg_reload_conf()")
        finally:
            await connection.close()
        # The server reloads in the background: wait until a wrong password is refused.
        async with asyncio.timeout(10):
            while True:
                try:
                    trusted = await asyncpg.connect(postgres_server, user=PASSWORD_ROLE)
                except asyncpg.InvalidPasswordError:
                    return
                await trusted.close()
                await asyncio.sleep(0.05)

    with concurrent.futures.ThreadPoolExecutor(1) as thread:  # outside any test's event loop
        thread.submit(asyncio.run, add_role()).result()
    return postgres_server


@pytest.fixture
async def pg_proxy() -> AsyncIterator[ProxyFactory]:
    """Make a fault-injecting TCP proxy in front of a PostgreSQL URL (one per "machine");
    its `url` reaches the same database, user and schema through 127.0.0.1. All closed after."""
    proxies: list[PgProxy] = []

    async def make(url: str) -> PgProxy:
        proxy = await PgProxy(url).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        await proxy.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's database lives: a SQLite file, then a PostgreSQL schema (each test twice)."""
    if request.param == "sqlite":
        return str(tmp_path / "wanbot.sqlite3")
    server_url: str = request.getfixturevalue("postgres_server")
    return await new_postgres_schema(server_url)


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> VirtualClock:
    """A clock the test moves, starting at the moment a module names with
    `pytestmark = pytest.mark.clock_at(moment)`, or at VirtualClock's own start."""
    start = request.node.get_closest_marker("clock_at")
    return VirtualClock(start.args[0]) if start else VirtualClock()


@pytest.fixture
async def simulator(clock: VirtualClock) -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        pending_seconds=5,
        running_seconds=10,
        api_keys=frozenset({API_KEY}),
        media_checker=check_media,
    )
    sim = Simulator(config, clock=clock)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture
def client(
    session: aiohttp.ClientSession, simulator: Simulator, sleeps: RecordedSleeps
) -> DashScopeClient:
    assert simulator.base_url is not None
    return DashScopeClient(
        session,
        api_key=SecretStr(API_KEY),
        base_url=simulator.base_url,
        retry=RetryPolicy(attempts=4, base_delay=0.5, max_delay=4.0),
        timeout=aiohttp.ClientTimeout(total=None, connect=2, sock_read=0.5),
        sleep=sleeps,
    )


@pytest.fixture
async def db(database_target: str) -> AsyncIterator[Database]:
    """The database at `database_target`, opened (migrated) and closed after the test."""
    async with await open_database(database_target) as database:
        yield database


@pytest.fixture
async def rig(tmp_path: Path, database_target: str) -> AsyncIterator[Rig]:
    """The engine on the simulator in virtual time, on each backend (tests/support/engine_rig.py)."""
    simulator = SimulatorConfig(pending_seconds=5, running_seconds=60, api_keys=frozenset({KEY}))
    config = EngineConfig(spool_dir=tmp_path / "spool", max_waiting_per_user=100)
    async with engine_rig(database_target, simulator, config, RecordingNotifier()) as made:
        yield made
