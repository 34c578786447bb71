"""Shared fixtures: the simulator on loopback with a clock the test drives, and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from pydantic import SecretStr

from bot.dashscope import DashScopeClient, RetryPolicy
from bot.engine.virtual import VirtualClock
from bot.media import check_media
from bot.simulator import Simulator, SimulatorConfig

API_KEY = "sk-test-0123456789abcdef"


class RecordedSleeps:
    """Stands in for asyncio.sleep in retry loops: records each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture(autouse=True)
def private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test writes to the user's own cache folder (generate keeps learned durations there)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


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
