"""Fixtures of the cogs' tests: a real WanBot with real stores on a SQLite file, on the test's
virtual clock, and its /videoadmin cog (whose commands the tests call directly)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bot.dashscope import DashScopeClient
from bot.engine.virtual import VirtualClock
from bot.run.app import WanBot
from bot.run.services import Services
from bot.run.settings import Settings
from cogs.admin import AdminCog
from storage.connect import open_database


@pytest.fixture
async def bot(tmp_path: Path, clock: VirtualClock) -> AsyncIterator[WanBot]:
    settings = Settings(
        database_path=tmp_path / "bot.sqlite3", cost_per_second_usd=0.1, quota_default_seconds=60
    )
    async with (
        aiohttp.ClientSession() as session,
        await open_database(settings.database_target()) as db,
    ):
        # The client is never called: /videoadmin makes no HTTP requests.
        client = DashScopeClient(
            session, api_key=SecretStr("unused"), base_url="http://127.0.0.1:9/api/v1"
        )
        services = Services.create(settings, session, db, client, clock=clock)
        wanbot = WanBot(settings, services)
        try:
            yield wanbot
        finally:
            await wanbot.close()


@pytest.fixture
def cog(bot: WanBot) -> AdminCog:
    return AdminCog(bot)
