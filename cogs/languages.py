"""Whose language a message is in: the member's for what answers them, the server's for the rest.

A member's own Discord language wins, else the server's (`guild_locale`), else English. Messages
that are not answers to one member (a job's status message, its posted video) are in the server's
language: the one its moderators chose with `/videoadmin settings language`, else Discord's.
"""

from __future__ import annotations

import discord

from bot.domain.guild import GuildSettings
from bot.domain.jobs import Job
from bot.i18n import Language, choose


def _code(locale: discord.Locale | None) -> str | None:
    return locale.value if locale is not None else None


def member_language(interaction: discord.Interaction) -> Language:
    """The language to answer this member in."""
    return choose(_code(interaction.locale), _code(interaction.guild_locale))


def server_locale(
    interaction: discord.Interaction, settings: GuildSettings, *, earlier: Job | None = None
) -> str | None:
    """The locale code for the server-wide messages of a job asked for here; for a button
    pressed in a DM on an `earlier` video, that video's."""
    if interaction.guild_id is None:
        return earlier.locale if earlier is not None else None
    return settings.language or _code(interaction.guild_locale)
