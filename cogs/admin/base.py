"""What every /videoadmin command shares: its command groups, the moderator check, input checks.

Discord hides the command from members without Manage Server (`default_member_permissions`), but a
server can change that in its integration settings, and the moderator role is ours, not Discord's:
so every command also checks `is_moderator` at run time before it reads or changes anything.
"""

from __future__ import annotations

import logging
from dataclasses import fields, replace
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.catalog import MODELS, RESOLUTIONS
from bot.domain.errors import InvalidInput
from bot.i18n import _
from cogs.admin import texts
from cogs.checks import is_moderator, role_ids
from cogs.served import CogServices as Services
from cogs.served import ServedBot
from storage.allowances import Allowance, Period
from storage.guild_settings import Change, GuildSettings

log = logging.getLogger(__name__)

MOST_SECONDS = 86_400
Seconds = app_commands.Range[int, 0, MOST_SECONDS]
GrantSeconds = app_commands.Range[int, 1, MOST_SECONDS]
Reason = app_commands.Range[str, 1, 200]

VIDEOADMIN = app_commands.Group(
    name="videoadmin",
    description="Moderators: manage video quotas and this server's video settings",
    default_permissions=discord.Permissions(manage_guild=True),
    guild_only=True,
)
QUOTA = app_commands.Group(
    name="quota", description="Members' video quotas and the server budget", parent=VIDEOADMIN
)
SETTINGS = app_commands.Group(
    name="settings", description="Where and how videos are made here", parent=VIDEOADMIN
)


class AdminBase(commands.Cog):
    """The state and steps the quota and settings commands share (AdminCog is the cog loaded)."""

    videoadmin = VIDEOADMIN  # discord.py finds a cog's command groups on its class

    def __init__(self, bot: ServedBot) -> None:
        self.bot = bot

    @property
    def _services(self) -> Services:
        return self.bot.services

    async def _authorise(self, interaction: discord.Interaction) -> tuple[int, GuildSettings]:
        """Return the server id and its settings, or refuse anyone who is not a moderator."""
        guild_id = interaction.guild_id
        if guild_id is None:
            raise InvalidInput(_("/videoadmin works only in a server."))
        settings = await self._services.guild_settings.get(guild_id)
        if not is_moderator(interaction.user, settings):
            log.info("Refused /videoadmin to %s in guild %s", interaction.user.id, guild_id)
            raise InvalidInput(texts.NOT_MODERATOR)
        return guild_id, settings

    async def _allowance(self, guild_id: int, user: discord.Member) -> Allowance:
        return await self._services.quotas.allowance(
            guild_id=guild_id, user_id=user.id, role_ids=role_ids(user)
        )

    async def _change(
        self, interaction: discord.Interaction, guild_id: int, change: Change
    ) -> tuple[GuildSettings, GuildSettings]:
        """Apply `change` to the server's settings as they are now (not as this command read
        them: another moderator may have changed them since); return them before and after."""
        before, after = await self._services.guild_settings.change(
            guild_id, change, actor_id=interaction.user.id
        )
        if changed := [
            f.name for f in fields(after) if getattr(after, f.name) != getattr(before, f.name)
        ]:
            log.info("Guild %s settings changed by %s: %s", guild_id, interaction.user.id, changed)
        return before, after

    async def _set(
        self, interaction: discord.Interaction, guild_id: int, **values: Any
    ) -> GuildSettings:
        """Set some settings, leaving the others as they are now; return them as they were."""
        before, _ = await self._change(
            interaction, guild_id, lambda current: replace(current, **values)
        )
        return before


def check_seconds(seconds: int, *, lowest: int = 0) -> None:
    """Discord enforces the option's range; a call from elsewhere is checked here again."""
    if not lowest <= seconds <= MOST_SECONDS:
        raise InvalidInput(
            _("Seconds must be {low}–{high}, not {s}.", low=lowest, high=MOST_SECONDS, s=seconds),
            field="seconds",
        )


def check_period(period: str) -> Period:
    try:
        return Period(period)
    except ValueError:
        raise InvalidInput(_("The period is a day, a week or a month."), field="period") from None


def check_defaults(model: str | None, resolution: str | None) -> None:
    """Refuse an unknown model, or a resolution the model (with none: every model) cannot make."""
    if model is not None and model not in MODELS:
        raise InvalidInput(
            _(
                "There is no model {model}; choose one of {models}.",
                model=model,
                models=", ".join(MODELS),
            ),
            field="model",
        )
    if resolution is None:
        return
    makers = MODELS[model].resolutions if model is not None else RESOLUTIONS
    if resolution not in makers:
        choices = ", ".join(makers)
        raise InvalidInput(
            _(
                "{model} cannot make {resolution}; choose one of {choices}.",
                model=model,
                resolution=resolution,
                choices=choices,
            )
            if model
            else _(
                "No model makes {resolution}; choose one of {choices}.",
                resolution=resolution,
                choices=choices,
            ),
            field="resolution",
        )


def clean(reason: str | None) -> str | None:
    """A reason as stored: trimmed, at most 200 characters, None when blank."""
    reason = " ".join((reason or "").split())
    return reason[:200] or None
