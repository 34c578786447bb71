"""The bot killed at random moments: its tasks take a little longer, so kills land mid-task."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.media.probe import check_media
from bot.simulator import Simulator, SimulatorConfig


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(pending_seconds=0.5, running_seconds=1.0, media_checker=check_media)
    async with Simulator(config) as sim:
        yield sim
