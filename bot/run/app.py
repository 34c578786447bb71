"""The Discord bot: built once in `run_bot`, with everything it uses passed in.

`WanBot.setup_hook` loads the cogs, registers the persistent buttons and starts the engine with
the Discord notifier. Commands are synced only on request (`python -m bot sync`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands
from pydantic import SecretStr

from bot.dashscope import DashScopeClient
from bot.domain.errors import InvalidInput
from bot.engine.key_ring import DashScopeKey
from bot.net.tasks import spawn
from bot.run.health import Heartbeat
from bot.run.prometheus import MetricsServer
from bot.run.services import Services, configured_keys
from bot.run.settings import Settings
from bot.run.startup import check_folders, open_database_patiently, wait_for_discord
from cogs.errors import WanTree
from cogs.notifier import DiscordNotifier
from cogs.served import ServedBot

log = logging.getLogger(__name__)


class WanBot(ServedBot):
    def __init__(self, settings: Settings, services: Services | None = None) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents(guilds=True),  # slash commands need no privileged intents
            tree_cls=WanTree,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
            help_command=None,
            max_messages=None,  # it reads no message events: a cache of 1,000 would be dead weight
        )
        self.settings = settings
        self._services = services
        self.heartbeat: Heartbeat | None = None  # once set up: what `health` will be told
        self._notifier: DiscordNotifier | None = None
        self.metrics_server: MetricsServer | None = None  # with WANBOT_METRICS_PORT

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("this bot was built without services (payloads only)")
        return self._services

    async def load_commands(self) -> None:
        """Add the cogs and persistent buttons (also used to print payloads without logging in)."""
        from cogs.admin import AdminCog
        from cogs.choices import withdraw
        from cogs.translator import CatalogTranslator
        from cogs.views import DYNAMIC_ITEMS

        await self.tree.set_translator(CatalogTranslator())
        await self.load_extension("cogs.video")  # its setup adds VideoCog
        await self.add_cog(AdminCog(self))
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        withdraw(self.tree, self.settings.retired())  # the operator's retired models

    async def setup_hook(self) -> None:
        await self.load_commands()
        services = self.services
        self._notifier = DiscordNotifier(
            self,
            services.jobs,
            edit_every=services.settings.progress_edit_seconds,
            workers=services.workers,
        )
        engine = services.make_engine(self._notifier)
        await engine.start()
        self.heartbeat = Heartbeat(
            self.settings.heartbeat_path,
            services.db,
            engine_alive=lambda: engine.alive,
            connected=self.connected,
        )
        self.heartbeat.start()
        self.metrics_server = await services.serve_metrics(engine, self.heartbeat)

    async def close(self) -> None:
        if self.metrics_server is not None:
            await self.metrics_server.close()
        if self.heartbeat is not None:
            await self.heartbeat.stop()
        if self._services is not None and self._services.engine is not None:
            await self._services.engine.stop()
        if self._notifier is not None:
            await self._notifier.close()  # held status edits: stop their timers
        await super().close()

    def connected(self) -> bool:
        """Whether the gateway session is up now (discord.py stays ready while it reconnects)."""
        ws: discord.gateway.DiscordWebSocket | None = self.ws
        return self.is_ready() and not self.is_closed() and ws is not None and ws.open

    async def on_ready(self) -> None:
        log.info("Logged in as %s in %d servers", self.user, len(self.guilds))


def discord_token(settings: Settings) -> str:
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        raise InvalidInput("No Discord token: set DISCORD_TOKEN (see the README's set-up steps).")
    return settings.discord_token.get_secret_value()


@contextlib.asynccontextmanager
async def dashscope_keys(
    settings: Settings, session: aiohttp.ClientSession, *, simulator: bool = False
) -> AsyncIterator[DashScopeClient | list[DashScopeKey]]:
    """The configured keys, each with its client; or, with `simulator`, a client of the built-in
    simulator while the block runs."""
    if not simulator:
        keys = configured_keys(settings, session)  # read (and checked) before anything is opened
        if not keys:
            raise InvalidInput(
                "No DashScope API key: set DASHSCOPE_API_KEY or WANBOT_DASHSCOPE_KEYS "
                "(or run with --simulator to try it out)."
            )
        log.info("DashScope keys: %s", ", ".join(key.name for key in keys))
        yield keys
        return
    from bot.media.probe import check_media
    from bot.simulator import Simulator, SimulatorConfig

    fake = Simulator(
        SimulatorConfig(pending_seconds=5, running_seconds=20, media_checker=check_media)
    )
    base_url = await fake.start()
    log.info("Using the built-in DashScope simulator at %s", base_url)
    try:
        yield DashScopeClient(
            session,
            api_key=SecretStr("simulator"),
            base_url=base_url,
            submit_seconds=settings.submit_timeout_seconds,
        )
    finally:
        await fake.close()


@contextlib.asynccontextmanager
async def process_services(settings: Settings, *, simulator: bool) -> AsyncIterator[Services]:
    """What a `run` or `worker` process runs on: an HTTP session, the keys, the database claimed
    for this process (SQLite refuses a second one before anything talks to Discord), the stores.
    With `simulator`, the database and the spool are the simulator's own."""
    if simulator:
        settings = settings.for_simulator()
        log.info("With the simulator: its own database %s", settings.database_path)
    check_folders(settings)  # one line naming the folder, and who must own it
    async with (
        aiohttp.ClientSession() as session,
        dashscope_keys(settings, session, simulator=simulator) as keys,
        await open_database_patiently(settings) as db,  # waits for a server starting up
    ):
        await db.claim_process()
        services = Services.create(settings, session, db, keys)
        try:
            yield services
        finally:
            services.workers.close()


async def run_bot(settings: Settings, *, simulator: bool = False) -> None:
    """Run the bot until it is stopped; with `simulator`, against the built-in fake DashScope."""
    token = discord_token(settings)
    async with (
        process_services(settings, simulator=simulator) as services,
        WanBot(settings, services) as bot,
    ):
        await wait_for_discord(services.session, settings.startup_retry_seconds)
        closing = _close_on_signals(bot)
        await bot.start(token)
        if closing:
            await asyncio.gather(*closing)


def _close_on_signals(bot: WanBot) -> list[asyncio.Task[None]]:
    """Ctrl-C and SIGTERM (`docker stop`, systemd) close the bot, so its engine stops as it
    should. A cancelled main task is not enough: SIGTERM would kill the process on the spot, and
    Python 3.11's wait_for can swallow a cancel that comes during the gateway's handshake. The
    returned list holds the closing task once a signal came."""
    loop = asyncio.get_running_loop()
    closing: list[asyncio.Task[None]] = []

    def close() -> None:
        if not closing:
            closing.append(spawn(bot.close(), "wanbot close on signal"))

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, close)
    return closing


async def sync_commands(settings: Settings, guild_id: int | None) -> int:
    """Log in, push the command definitions to Discord (one server, or everywhere), log out."""
    token = discord_token(settings)
    bot = WanBot(settings)
    async with bot:
        await bot.login(token)
        await bot.load_commands()
        guild = discord.Object(id=guild_id) if guild_id else None
        if guild is not None:
            bot.tree.copy_global_to(guild=guild)
        synced = await bot.tree.sync(guild=guild)
    return len(synced)


async def command_payloads(
    settings: Settings | None = None, translator: app_commands.Translator | None = None
) -> list[dict[str, Any]]:
    """The JSON that `sync` would send, in every language, built without logging in or a token."""
    bot = WanBot(settings or Settings())
    try:
        await bot.load_commands()
        translator = translator or bot.tree.translator
        assert translator is not None  # load_commands sets it
        return [
            await command.get_translated_payload(bot.tree, translator)
            for command in bot.tree.get_commands()
        ]
    finally:
        await bot.close()


async def command_strings() -> list[tuple[str, str | None]]:
    """Every name, description and choice of the slash commands, for the catalogs."""
    from cogs.translator import RecordingTranslator

    recorder = RecordingTranslator()
    await command_payloads(translator=recorder)
    return list(recorder.strings)
