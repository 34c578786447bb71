"""Fixtures of the end-to-end tests: the fake Discord (checked for spec violations at the end),
the simulator in real time with sub-second tasks, and a real WanBot logged in to the fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.media.probe import check_media
from bot.simulator import Simulator, SimulatorConfig
from tests.support.fakediscord import FakeDiscord
from tests.support.fakediscord.wanbot import RunningBot, fast_settings, running_bot


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
        server.assert_no_violations()


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(pending_seconds=0.3, running_seconds=0.5, media_checker=check_media)
    async with Simulator(config) as sim:
        yield sim


@pytest.fixture
async def wanbot(
    fake: FakeDiscord, simulator: Simulator, tmp_path: Path
) -> AsyncIterator[RunningBot]:
    async with running_bot(fake, simulator, fast_settings(tmp_path)) as running:
        yield running
