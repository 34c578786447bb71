"""One way to report errors from commands and buttons: friendly and ephemeral, or an apology with
an id (cogs/render/errors.py words them)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable
from typing import Any

import discord
from discord import app_commands

from bot.domain.errors import WanbotError
from cogs.languages import member_language
from cogs.render.errors import NOT_ALLOWED, apology, error_text, problem

log = logging.getLogger(__name__)


async def send_private(
    interaction: discord.Interaction,
    *,
    content: str | None = None,
    embed: discord.Embed | None = None,
) -> None:
    """Reply only the user can see, whether or not the interaction was answered (deferred) yet."""
    kwargs: dict[str, Any] = {"ephemeral": True}
    if content is not None:
        kwargs["content"] = content
    if embed is not None:
        kwargs["embed"] = embed
    if interaction.response.is_done():
        await interaction.followup.send(**kwargs)
    else:
        await interaction.response.send_message(**kwargs)


async def report(interaction: discord.Interaction, error: BaseException) -> None:
    """Domain errors become ephemeral explanations; anything else is logged and apologised for."""
    original = getattr(error, "original", error)  # CommandInvokeError wraps what the command raised
    lang = member_language(interaction)
    if isinstance(original, WanbotError):
        message = error_text(lang, original)
    elif isinstance(error, app_commands.MissingPermissions | app_commands.CheckFailure):
        message = lang.gettext(NOT_ALLOWED)
    else:
        error_id = secrets.token_hex(4)
        job_id = interaction.extras.get("job_id")
        name = interaction.command.qualified_name if interaction.command else "a button"
        log.error("%s failed (error id %s, job %s)", name, error_id, job_id, exc_info=original)
        await _quietly(send_private(interaction, embed=apology(lang, error_id)))
        return
    await _quietly(send_private(interaction, embed=problem(message)))


async def _quietly(sending: Awaitable[object]) -> None:
    """The reply itself may fail (interaction expired); that must not raise from the handler."""
    try:
        await sending
    except discord.HTTPException:
        log.warning("Could not send an error reply", exc_info=True)


class WanTree(app_commands.CommandTree):
    """The command tree whose single error handler serves every slash command."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await report(interaction, error)
