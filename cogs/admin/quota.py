"""/videoadmin quota: members' allowances, grants, blocks, the server default and budget.

Every reply is ephemeral; every change answers with one line saying what it did and what it was
before (cogs/render/moderator.py words it); an option that is left out means "none" (no override,
no budget). Each change is AdminBase's one sequence: a command says only what it reads, writes and
says.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.domain.quota import Allowance, GuildQuotaSettings, Period
from cogs.admin.base import (
    QUOTA,
    AdminBase,
    GrantSeconds,
    Reason,
    Seconds,
    check_period,
    check_seconds,
    clean,
)
from cogs.errors import send_private
from cogs.languages import member_language
from cogs.render import moderator

LEDGER_LINES = 8


PERIOD_CHOICES = [
    app_commands.Choice(name=app_commands.locale_str("Day"), value="day"),
    app_commands.Choice(name=app_commands.locale_str("Week"), value="week"),
    app_commands.Choice(name=app_commands.locale_str("Month"), value="month"),
]


class QuotaCommands(AdminBase):
    @QUOTA.command(name="show")
    @app_commands.describe(member="The member whose quota to show")
    async def quota_show(self, interaction: discord.Interaction, member: discord.Member) -> None:
        """Show a member's quota this period and their latest quota changes."""
        guild_id, _settings = await self._authorise(interaction)
        allowance = await self._allowance(guild_id, member)
        entries = await self._services.quotas.ledger(
            guild_id, user_id=member.id, limit=LEDGER_LINES
        )
        embed = moderator.quota_with_history(
            member_language(interaction), allowance, member.mention, entries
        )
        await send_private(interaction, embed=embed)

    @QUOTA.command(name="set")
    @app_commands.describe(
        member="The member to give their own allowance",
        seconds="Seconds of video per period (0 allowed); leave empty to remove their own",
    )
    async def quota_set(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        seconds: Seconds | None = None,
    ) -> None:
        """Give a member their own allowance, beating every default (empty: remove it)."""
        await self._change_member(
            interaction,
            member,
            lambda guild_id, _before: self._services.quotas.set_override(
                guild_id, member.id, seconds, actor_id=interaction.user.id
            ),
            lambda lang, changed: moderator.own_allowance_set(
                lang, member.mention, seconds, changed.before, changed.after
            ),
            check=lambda: check_seconds(seconds),
        )

    @QUOTA.command(name="grant")
    @app_commands.describe(
        member="The member to give extra seconds",
        seconds="Extra seconds of video, for this period only",
        reason="Why (kept in the quota history)",
    )
    async def quota_grant(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        seconds: GrantSeconds,
        reason: Reason | None = None,
    ) -> None:
        """Give a member extra seconds for this period only."""
        await self._change_member(
            interaction,
            member,
            lambda guild_id, _before: self._services.quotas.grant(
                guild_id, member.id, seconds, actor_id=interaction.user.id, reason=clean(reason)
            ),
            lambda lang, changed: moderator.granted(lang, member.mention, seconds, changed.after),
            check=lambda: check_seconds(seconds, lowest=1),
        )

    @QUOTA.command(name="reset")
    @app_commands.describe(
        member="The member whose usage to forgive",
        reason="Why (kept in the quota history)",
    )
    async def quota_reset(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        reason: Reason | None = None,
    ) -> None:
        """Forgive what a member used this period (videos still being made count normally)."""
        await self._change_member(
            interaction,
            member,
            lambda guild_id, _before: self._services.quotas.reset(
                guild_id, member.id, actor_id=interaction.user.id, reason=clean(reason)
            ),
            lambda lang, changed: moderator.forgiven(
                lang, member.mention, changed.answer, changed.after
            ),
        )

    @QUOTA.command(name="block")
    @app_commands.describe(
        member="The member who may no longer make videos here",
        reason="Shown to them when they try (and kept in the quota history)",
    )
    async def quota_block(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        reason: Reason | None = None,
    ) -> None:
        """Stop a member from making videos in this server."""
        reason = clean(reason)
        await self._change_member(
            interaction,
            member,
            lambda guild_id, _before: self._services.quotas.block(
                guild_id, member.id, actor_id=interaction.user.id, reason=reason
            ),
            lambda lang, _changed: moderator.blocked(lang, member.mention, reason),
        )

    @QUOTA.command(name="unblock")
    @app_commands.describe(member="The member who may make videos again")
    async def quota_unblock(self, interaction: discord.Interaction, member: discord.Member) -> None:
        """Let a blocked member make videos again."""

        async def unblock(guild_id: int, before: Allowance) -> None:
            if before.blocked:  # else nothing to change, and nothing for the history
                await self._services.quotas.unblock(
                    guild_id, member.id, actor_id=interaction.user.id
                )

        await self._change_member(
            interaction,
            member,
            unblock,
            lambda lang, changed: moderator.unblocked(
                lang, member.mention, changed.before, changed.after
            ),
        )

    @QUOTA.command(name="role")
    @app_commands.describe(
        role="The role whose members get this allowance",
        seconds="Seconds of video per period; leave empty to remove the role's allowance",
    )
    async def quota_role(
        self,
        interaction: discord.Interaction,
        role: discord.Role,
        seconds: Seconds | None = None,
    ) -> None:
        """Give a role's members an allowance (the most generous one applies; empty: remove)."""

        async def set_role(guild_id: int, before: GuildQuotaSettings) -> None:
            if seconds is not None or role.id in before.role_defaults:  # else nothing to remove
                await self._services.quotas.set_role_default(
                    guild_id, role.id, seconds, actor_id=interaction.user.id
                )

        await self._change_quota(
            interaction,
            self._services.quotas.guild_settings,
            set_role,
            lambda lang, changed: moderator.role_allowance_set(lang, role, seconds, changed.before),
            check=lambda: check_seconds(seconds),
        )

    @QUOTA.command(name="default")
    @app_commands.choices(period=PERIOD_CHOICES)
    @app_commands.describe(
        seconds="Seconds of video every member gets per period",
        period="How often allowances renew (UTC); leave empty to keep the current one",
    )
    async def quota_default(
        self,
        interaction: discord.Interaction,
        seconds: Seconds,
        period: str | None = None,
    ) -> None:
        """Set the allowance every member gets, and optionally how often it renews."""

        def check() -> None:
            check_seconds(seconds)
            if period is not None:
                check_period(period)

        await self._change_quota(
            interaction,
            self._services.quotas.guild_settings,
            lambda guild_id, _before: self._services.quotas.set_guild_default(
                guild_id,
                seconds=seconds,
                period=None if period is None else Period(period),
                actor_id=interaction.user.id,
            ),
            lambda lang, changed: moderator.default_allowance_set(
                lang, changed.before, changed.after
            ),
            check=check,
        )

    @QUOTA.command(name="budget")
    @app_commands.describe(
        seconds="Seconds of video the whole server may make per period; leave empty for no budget"
    )
    async def quota_budget(
        self, interaction: discord.Interaction, seconds: Seconds | None = None
    ) -> None:
        """Cap the seconds the whole server may use per period (empty: no cap)."""
        await self._change_quota(
            interaction,
            self._services.quotas.guild_settings,
            lambda guild_id, _before: self._services.quotas.set_budget(
                guild_id, seconds, actor_id=interaction.user.id
            ),
            lambda lang, changed: moderator.budget_set(lang, seconds, changed.before),
            check=lambda: check_seconds(seconds),
        )
