"""/videoadmin quota: members' allowances, grants, blocks, the server default and budget.

Every reply is ephemeral; every change answers with one line saying what it did and what it was
before; an option that is left out means "none" (no override, no budget).
"""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands

from cogs import render
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

LEDGER_LINES = 8


class QuotaCommands(AdminBase):
    @QUOTA.command(name="show")
    @app_commands.describe(member="The member whose quota to show")
    async def quota_show(self, interaction: discord.Interaction, member: discord.Member) -> None:
        """Show a member's quota this period and their latest quota changes."""
        guild_id, _ = await self._authorise(interaction)
        allowance = await self._allowance(guild_id, member)
        entries = await self._services.quotas.ledger(
            guild_id, user_id=member.id, limit=LEDGER_LINES
        )
        embed = render.quota(allowance, who=member.mention)
        embed.add_field(name="Latest changes", value=render.ledger_text(entries), inline=False)
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
        guild_id, _ = await self._authorise(interaction)
        if seconds is not None:
            check_seconds(seconds)
        before = await self._allowance(guild_id, member)
        await self._services.quotas.set_override(
            guild_id, member.id, seconds, actor_id=interaction.user.id
        )
        after = await self._allowance(guild_id, member)
        who, period = member.mention, after.period.value
        if seconds is None:
            line = f"{who} has no allowance of their own now"
            if not after.blocked:
                line += f": they get {render.base_text(after)} per {period}"
        else:
            line = f"{who} now has {seconds} s per {period}"
        line += "." if before.blocked else f" (was {render.base_text(before)})."
        if after.blocked:
            line += " They are still blocked: `/videoadmin quota unblock` lets them make videos."
        await send_private(interaction, content=line)

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
        guild_id, _ = await self._authorise(interaction)
        check_seconds(seconds, lowest=1)
        await self._services.quotas.grant(
            guild_id, member.id, seconds, actor_id=interaction.user.id, reason=clean(reason)
        )
        after = await self._allowance(guild_id, member)
        await send_private(
            interaction,
            content=(
                f"Granted {member.mention} {seconds} s this {after.period.value}: they have "
                f"{after.remaining_seconds} s left until {render.timestamp(after.renews_at, 'f')}."
            ),
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
        guild_id, _ = await self._authorise(interaction)
        forgiven = await self._services.quotas.reset(
            guild_id, member.id, actor_id=interaction.user.id, reason=clean(reason)
        )
        after = await self._allowance(guild_id, member)
        period = after.period.value
        done = (
            f"Forgave the {forgiven} s {member.mention} used this {period}"
            if forgiven
            else f"{member.mention} had used nothing this {period} to forgive"
        )
        await send_private(
            interaction, content=f"{done}: they have {after.remaining_seconds} s left."
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
        guild_id, _ = await self._authorise(interaction)
        reason = clean(reason)
        await self._services.quotas.block(
            guild_id, member.id, actor_id=interaction.user.id, reason=reason
        )
        because = f": {reason}" if reason else ""
        await send_private(
            interaction, content=f"{member.mention} can no longer make videos here{because}."
        )

    @QUOTA.command(name="unblock")
    @app_commands.describe(member="The member who may make videos again")
    async def quota_unblock(self, interaction: discord.Interaction, member: discord.Member) -> None:
        """Let a blocked member make videos again."""
        guild_id, _ = await self._authorise(interaction)
        if not (await self._allowance(guild_id, member)).blocked:
            await send_private(
                interaction, content=f"{member.mention} is not blocked; nothing changed."
            )
            return
        await self._services.quotas.unblock(guild_id, member.id, actor_id=interaction.user.id)
        after = await self._allowance(guild_id, member)
        await send_private(
            interaction,
            content=(
                f"{member.mention} can make videos again: {after.remaining_seconds} s left "
                f"this {after.period.value}."
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
        guild_id, _ = await self._authorise(interaction)
        if seconds is not None:
            check_seconds(seconds)
        current = await self._services.quotas.guild_settings(guild_id)
        old = current.role_defaults.get(role.id)
        if seconds is None and old is None:
            await send_private(
                interaction,
                content=f"{role.mention} gives no allowance of its own; nothing changed.",
            )
            return
        await self._services.quotas.set_role_default(
            guild_id, role.id, seconds, actor_id=interaction.user.id
        )
        was = "nothing of its own" if old is None else f"{old} s"
        if seconds is None:
            line = f"{role.mention} no longer gives an allowance of its own (was {was})."
        else:
            line = f"{role.mention} now gives {seconds} s per {current.period.value} (was {was})."
            if seconds <= current.default_seconds:
                line += f" It only matters above the server default ({current.default_seconds} s)."
        await send_private(interaction, content=line)

    @QUOTA.command(name="default")
    @app_commands.describe(
        seconds="Seconds of video every member gets per period",
        period="How often allowances renew (UTC); leave empty to keep the current one",
    )
    async def quota_default(
        self,
        interaction: discord.Interaction,
        seconds: Seconds,
        period: Literal["day", "week", "month"] | None = None,
    ) -> None:
        """Set the allowance every member gets, and optionally how often it renews."""
        guild_id, _ = await self._authorise(interaction)
        check_seconds(seconds)
        new_period = None if period is None else check_period(period)
        old = await self._services.quotas.guild_settings(guild_id)
        await self._services.quotas.set_guild_default(
            guild_id, seconds=seconds, period=new_period, actor_id=interaction.user.id
        )
        now = new_period or old.period
        line = (
            f"Every member now gets {seconds} s per {now.value} by default "
            f"(was {old.default_seconds} s per {old.period.value})."
        )
        if now is not old.period:
            line += f" Allowances now renew {render.RENEWALS[now]}."
        await send_private(interaction, content=line)

    @QUOTA.command(name="budget")
    @app_commands.describe(
        seconds="Seconds of video the whole server may make per period; leave empty for no budget"
    )
    async def quota_budget(
        self, interaction: discord.Interaction, seconds: Seconds | None = None
    ) -> None:
        """Cap the seconds the whole server may use per period (empty: no cap)."""
        guild_id, _ = await self._authorise(interaction)
        if seconds is not None:
            check_seconds(seconds)
        old = await self._services.quotas.guild_settings(guild_id)
        await self._services.quotas.set_budget(guild_id, seconds, actor_id=interaction.user.id)
        period = old.period.value
        was = "no budget" if old.budget_seconds is None else f"{old.budget_seconds} s"
        if seconds is None:
            line = f"The server has no video budget now (was {was})."
        else:
            line = f"The whole server may now make {seconds} s of video per {period} (was {was})."
        await send_private(interaction, content=line)
