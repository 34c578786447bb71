"""/videoadmin as the tests call it: the moderator and members of the fakes' server, a command run
as one of them, a video's quota use as the engine records it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands

from bot.domain.errors import WanbotError
from bot.run.app import WanBot
from cogs.admin import AdminCog
from cogs.errors import report
from tests.support.discord_fakes import interaction, member, private_replies

GUILD = 10  # the fakes' default guild


MOD, ALICE, BOB, HELPER = 7, 11, 12, 13


WEDNESDAY = datetime(2026, 11, 25, 12, tzinfo=UTC).timestamp()


def moderator() -> discord.Member:
    return member(MOD, manage_guild=True)


async def run(
    command: app_commands.Command, cog: AdminCog, user: discord.Member | None = None, **options: Any
) -> str:
    """Call a command as `user` (the moderator by default); return its replies, all ephemeral."""
    fake = interaction(user or moderator())
    try:
        await command.callback(cog, fake, **options)
    except WanbotError as error:
        await report(fake, error)  # what WanTree.on_error does with it
    replies = private_replies(fake)
    assert len(replies) == 1, replies
    return replies[0]


async def use(bot: WanBot, user_id: int, seconds: int, *, billed: int | None = None) -> None:
    """A video as the engine makes it: a job row, a reservation, then the billed seconds."""
    quotas = bot.services.quotas
    async with bot.services.db.transaction() as tx:
        row = await tx.fetch_one(
            "INSERT INTO jobs (state, guild_id, user_id, model, resolution, duration, request_json,"
            " created_at, updated_at) VALUES ('queued', ?, ?, 'wan2.7-i2v', '720P', ?, '{}', 0, 0)"
            " RETURNING id",
            (GUILD, user_id, seconds),
        )
        assert row is not None
        job_id = int(row[0])
        await quotas.reserve(tx, guild_id=GUILD, user_id=user_id, seconds=seconds, job_id=job_id)
    if billed is not None:
        async with bot.services.db.transaction() as tx:
            await quotas.commit(tx, job_id=job_id, billed_seconds=billed)
