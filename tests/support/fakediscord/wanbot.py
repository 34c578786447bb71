"""wanbot on the fake Discord: run a real WanBot in-process, and read what it posted per job.

`running_bot` starts `bot.run.app.WanBot` with real `Services` (SQLite in a temp folder, a real
`DashScopeClient` on a loopback `Simulator`) and logs it in to the fake through discord.py's own
gateway code. The readers below group channel messages by job, the way a member would.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from bot.dashscope import DashScopeClient
from bot.run.app import Services, WanBot
from bot.run.settings import Settings
from bot.simulator import Simulator
from storage.connect import open_database
from tests.support.fakediscord.model import Message
from tests.support.fakediscord.server import FakeDiscord

_STATUS_TITLE = re.compile(r"^Video #(\d+) ")
_RESULT_TEXT = re.compile(r"your video #(\d+) is ready")


def fast_settings(folder: Path, **overrides: object) -> Settings:
    """Settings for a bot that polls a fast simulator (sub-second tasks)."""
    values: dict[str, object] = {
        "database_path": folder / "wanbot.sqlite3",
        "spool_dir": folder / "spool",
        "heartbeat_path": folder / "heartbeat",
        "poll_dense_seconds": 0.2,
        "poll_longest_seconds": 0.3,
        "progress_edit_seconds": 1.0,
        "quota_default_seconds": 1000,
        "max_waiting_per_user": 10,
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


@dataclass
class RunningBot:
    fake: FakeDiscord
    simulator: Simulator
    bot: WanBot
    services: Services


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeDiscord, simulator: Simulator, settings: Settings
) -> AsyncIterator[RunningBot]:
    """A logged-in WanBot (the fake and the simulator must be started)."""
    assert simulator.base_url is not None
    with fake.patch_discord():
        async with (
            aiohttp.ClientSession() as session,
            await open_database(settings.database_target()) as db,
        ):
            client = DashScopeClient(
                session, api_key=SecretStr("sk-e2e"), base_url=simulator.base_url
            )
            services = Services.create(settings, session, db, client)
            bot = WanBot(settings, services)
            runner = asyncio.create_task(bot.start(fake.token), name="wanbot under test")
            ready = asyncio.create_task(fake.wait_ready())
            try:
                await asyncio.wait({ready, runner}, return_when=asyncio.FIRST_COMPLETED)
                if not ready.done():
                    ready.cancel()
                    runner.result()  # the bot stopped before it was ready: raise why
                ready.result()
                yield RunningBot(fake, simulator, bot, services)
            finally:
                # discord.py dispatches "ready" from a task that waits for the guilds' creates
                # (guild_ready_timeout, 2 s): closed first, its dispatch would find the loop gone
                # and leave an unawaited Client._run_event for a later test to trip over.
                delayed_ready = bot._connection._ready_task
                if delayed_ready is not None:
                    delayed_ready.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await delayed_ready
                await bot.close()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner


def status_job(message: Message) -> int | None:
    """The job a status message is about (its embed title is `Video #N · mode`)."""
    for embed in message.embeds:
        if match := _STATUS_TITLE.match(embed.get("title") or ""):
            return int(match.group(1))
    return None


def result_job(message: Message) -> int | None:
    """The job a posted result is for (`<@user> your video #N is ready.`)."""
    match = _RESULT_TEXT.search(message.content)
    return int(match.group(1)) if match else None


def status_messages(fake: FakeDiscord, job_id: int) -> list[Message]:
    return [m for m in fake.channel_messages() if status_job(m) == job_id]


def result_messages(fake: FakeDiscord, job_id: int) -> list[Message]:
    return [m for m in fake.channel_messages() if result_job(m) == job_id]


def status_text(message: Message) -> str:
    """The Status field of a status message, as last edited."""
    for embed in message.embeds:
        for embed_field in embed.get("fields", ()):
            if embed_field.get("name") == "Status":
                return str(embed_field.get("value"))
    return ""
