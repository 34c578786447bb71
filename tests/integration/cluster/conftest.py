"""Several engines on one PostgreSQL database share a simulator in real time, with short tasks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.simulator import Simulator, SimulatorConfig


@pytest.fixture
def pending_seconds() -> float:
    return 0.3  # a test that needs tasks to wait longer parametrises this


@pytest.fixture
async def simulator(pending_seconds: float) -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        pending_seconds=pending_seconds, running_seconds=0.3, api_keys=frozenset({"k"})
    )
    async with Simulator(config) as sim:
        yield sim
