"""Who may do what: moderators are members with Manage Server, or the server's moderator role."""

from __future__ import annotations

import discord

from bot.domain.guild import GuildSettings


def is_moderator(user: discord.abc.User, settings: GuildSettings | None) -> bool:
    """Manage Server, or the moderator role a server chose (checked at run time, not just by Discord)."""
    if not isinstance(user, discord.Member):
        return False
    if user.guild_permissions.manage_guild:
        return True
    role = settings.moderator_role_id if settings else None
    return role is not None and any(r.id == role for r in user.roles)


def role_ids(user: discord.abc.User) -> tuple[int, ...]:
    """The member's role ids (for role quota defaults); none outside a server."""
    return tuple(r.id for r in getattr(user, "roles", ()))
