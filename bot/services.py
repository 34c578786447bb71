"""Everything the bot builds once (stores, client, engine) and hands to the cogs.

The cogs depend on this, not on the application that loads them (`bot/app.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from bot.dashscope import DashScopeClient
from bot.engine.runner import Engine
from bot.settings import Settings
from bot.workers import MediaWorkers
from storage.database import Database
from storage.guild_settings import GuildSettingsStore
from storage.jobs import JobStore
from storage.quotas import QuotaStore


@dataclass
class Services:
    """What the cogs use, built once in `run_bot` and handed to the bot."""

    settings: Settings
    session: aiohttp.ClientSession
    db: Database
    jobs: JobStore
    quotas: QuotaStore
    guild_settings: GuildSettingsStore
    client: DashScopeClient
    workers: MediaWorkers  # PyAV and Pillow work, off the event loop and bounded
    engine: Engine | None = None  # started in setup_hook: its notifier needs the bot

    @property
    def running_engine(self) -> Engine:
        """The engine, once the bot has started it."""
        if self.engine is None:
            raise RuntimeError("the engine starts in setup_hook")
        return self.engine

    @classmethod
    def create(
        cls,
        settings: Settings,
        session: aiohttp.ClientSession,
        db: Database,
        client: DashScopeClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> Services:
        """The stores on `db`, configured from `settings`."""
        return cls(
            settings=settings,
            session=session,
            db=db,
            jobs=JobStore(db, clock=clock),
            quotas=QuotaStore(
                db,
                default_seconds=settings.quota_default_seconds,
                default_period=settings.quota_period,
                clock=clock,
            ),
            guild_settings=GuildSettingsStore(db, clock=clock),
            client=client,
            workers=MediaWorkers(),
        )
