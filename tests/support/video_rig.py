"""/video at the Discord edge, as the tests set it up: a real engine and WanBot on the simulator in
virtual time, attachments served from loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord import app_commands
from pydantic import SecretStr

from bot.dashscope import DashScopeClient
from bot.engine.key_ring import DashScopeKey
from bot.engine.runner import Engine, EngineConfig
from bot.engine.virtual import VirtualClock
from bot.media import samples
from bot.media.probe import check_media
from bot.run.app import Services, WanBot
from bot.run.settings import Settings
from bot.simulator import Simulator, SimulatorConfig
from cogs.video.commands import VideoCog
from storage.connect import open_database
from tests.support.discord_fakes import (
    AttachmentHost,
    Timeline,
    attachment_host,
    interaction,
)
from tests.support.engine_rig import RecordingNotifier

KEY = "sk-cog-test"


@dataclass
class Rig:
    bot: WanBot
    cog: VideoCog
    services: Services
    simulator: Simulator
    host: AttachmentHost
    timeline: Timeline
    clock: VirtualClock
    notifier: RecordingNotifier

    async def call(
        self,
        command: app_commands.Command[Any, ..., Any],
        fake: discord.Interaction,
        **options: Any,
    ) -> None:
        """Run a command body the way discord.py would, errors through the tree's handler."""
        try:
            await command.callback(self.cog, fake, **options)
        except Exception as error:
            await self.bot.tree.on_error(fake, app_commands.CommandInvokeError(command, error))

    def fake(self, user: discord.Member | None = None, **kwargs: Any) -> discord.Interaction:
        return interaction(user, timeline=self.timeline, client=self.bot, **kwargs)

    async def jobs(self) -> list:
        return await self.services.jobs.for_user(10, 1, limit=50)

    def uploads(self) -> int:
        return len(self.simulator.uploads)


async def make_rig(
    tmp_path: Path, clock: VirtualClock | None = None, *, keys: tuple[str, ...] = (KEY,)
) -> AsyncIterator[Rig]:
    """The cog on a bot with one DashScope key (or `keys`, each an account of its own)."""
    clock = clock or VirtualClock()
    timeline = Timeline()
    simulator = Simulator(
        SimulatorConfig(
            pending_seconds=5,
            running_seconds=30,
            api_keys=frozenset(keys),
            media_checker=check_media,
        ),
        clock=clock,
    )
    await simulator.start()
    assert simulator.base_url
    settings = Settings(
        database_path=tmp_path / "db.sqlite3",
        spool_dir=tmp_path / "spool",
        quota_default_seconds=60,
    )
    async with (
        aiohttp.ClientSession() as session,
        await open_database(settings.database_target()) as db,
    ):
        clients = [
            DashScopeClient(session, api_key=SecretStr(key), base_url=simulator.base_url)
            for key in keys
        ]
        services = Services.create(
            settings,
            session,
            db,
            clients[0]
            if len(keys) == 1
            else [DashScopeKey(f"key{n}", c) for n, c in enumerate(clients, start=1)],
            clock=clock,
        )
        notifier = RecordingNotifier()
        services.engine = Engine(
            db=db,
            jobs=services.jobs,
            quotas=services.quotas,
            keys=services.keys,
            notifier=notifier,
            config=EngineConfig(spool_dir=settings.spool_dir),
            clock=clock,
        )
        bot = WanBot(settings, services)
        cog = VideoCog(bot)
        await bot.add_cog(cog)
        hosting = attachment_host(timeline)
        host = await anext(hosting)
        try:
            yield Rig(bot, cog, services, simulator, host, timeline, clock, notifier)
        finally:
            await services.engine.stop()
            await hosting.aclose()
            await bot.close()
    await simulator.close()


IMAGE = samples.make_image(1280, 720)
