"""/video settings: a member's own defaults in this server (model, resolution, length) and
private mode (their videos by DM, where the server allows it).

Discord glue only: the rules are bot/domain/member.py's, kept by storage/member_settings.py, and
applied to every new video by the intake (bot/intake/draft.py), so commands and buttons alike
honour them. With no option, the settings are shown; each option given is checked against what
this server offers now and saved; `reset` clears one of them (or all) first.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.domain.errors import InvalidInput
from bot.domain.member import FIELDS, MemberSettings, check_new
from cogs.errors import send_private
from cogs.languages import member_language
from cogs.render import member
from cogs.served import ServedBot

log = logging.getLogger(__name__)

EVERYTHING = "all"
RESET_CHOICES = [
    app_commands.Choice(name=app_commands.locale_str("Model"), value="model"),
    app_commands.Choice(name=app_commands.locale_str("Resolution"), value="resolution"),
    app_commands.Choice(name=app_commands.locale_str("Duration"), value="duration"),
    app_commands.Choice(name=app_commands.locale_str("Private mode"), value="private"),
    app_commands.Choice(name=app_commands.locale_str("Everything"), value=EVERYTHING),
]


async def member_settings(
    bot: ServedBot,
    interaction: discord.Interaction,
    *,
    model: str | None = None,
    resolution: str | None = None,
    duration: int | None = None,
    private: bool | None = None,
    reset: str | None = None,
) -> None:
    """Show the member's settings here, or change them (`reset` first, then what they gave)."""
    guild_id = interaction.guild_id
    if guild_id is None:  # the group is guild-only; a DM never gets here
        raise InvalidInput(member.SETTINGS_ONLY_IN_A_SERVER)
    services = bot.services
    guild = await services.guild_settings.get(guild_id)
    lang = member_language(interaction)
    user_id = interaction.user.id
    if (model, resolution, duration, private, reset) == (None, None, None, None, None):
        mine = await services.member_settings.get(guild_id, user_id)
        await send_private(interaction, embed=member.my_settings(lang, mine, guild))
        return
    if reset is not None and reset not in (*FIELDS, EVERYTHING):
        raise InvalidInput(member.NO_SUCH_SETTING, field="reset")

    def change(current: MemberSettings) -> MemberSettings:
        if reset is not None:
            current = current.cleared(reset)
        return check_new(
            current,
            guild,
            model=model,
            resolution=resolution,
            duration=duration,
            private=private,
            retired=bot.engine.retired_models,
        )

    _before, after = await services.member_settings.change(guild_id, user_id, change)
    log.info("Member %s changed their settings in guild %s", user_id, guild_id)
    await send_private(interaction, embed=member.my_settings(lang, after, guild, saved=True))
