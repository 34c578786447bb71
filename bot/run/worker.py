"""`python -m bot worker`: the engine without the Discord gateway.

A worker stands by to be the scheduler and carries deliveries (download, check, fit, post,
settle), posting with the bot token over Discord's REST API: no gateway session, so it takes no
commands and needs no shard. With PostgreSQL, any number run beside any number of `run`
processes, on any machines (see the README's "Running on several machines"). With SQLite the
database refuses a second process, so a worker there runs alone.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import discord

from bot.dev.folder_delivery import FolderNotifier
from bot.engine.notifier import Notifier
from bot.engine.runner import Engine
from bot.run.app import discord_token, process_services
from bot.run.health import Heartbeat
from bot.run.prometheus import MetricsServer
from bot.run.settings import Settings
from bot.run.startup import wait_for_discord
from cogs.notifier import DiscordNotifier

log = logging.getLogger(__name__)


async def run_worker(
    settings: Settings,
    *,
    simulator: bool = False,
    output_dir: Path | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until SIGINT/SIGTERM (or `stop` is set). With `output_dir`, videos are delivered as
    files there instead of to Discord (no token needed)."""
    token = None if output_dir is not None else discord_token(settings)
    stop = stop or _stop_on_signals()
    async with process_services(settings, simulator=simulator) as services:
        rest = discord.Client(intents=discord.Intents.none())
        discord_notifier: DiscordNotifier | None = None
        engine: Engine | None = None
        try:
            notifier: Notifier
            if token is None:
                assert output_dir is not None
                notifier = FolderNotifier(output_dir, services.workers)
            else:
                await wait_for_discord(services.session, settings.startup_retry_seconds)
                await rest.login(token)  # REST only: posts and edits, no gateway
                notifier = discord_notifier = DiscordNotifier(
                    rest,
                    services.jobs,
                    edit_every=settings.progress_edit_seconds,
                    workers=services.workers,
                )
            engine = running = services.make_engine(notifier)
            await engine.start()
            log.info("Worker running (%s)", "scheduler" if engine.scheduling else "standing by")
            # So that `python -m bot health` says whether this worker's database and engine work.
            heartbeat = Heartbeat(
                settings.heartbeat_path, services.db, engine_alive=lambda: running.alive
            )
            heartbeat.start()
            metrics: MetricsServer | None = None
            try:
                metrics = await services.serve_metrics(running, heartbeat)
                await stop.wait()
            finally:
                await heartbeat.stop()
                if metrics is not None:
                    await metrics.close()
        finally:
            if engine is not None:
                await engine.stop()
            if discord_notifier is not None:
                await discord_notifier.close()
            await rest.close()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
