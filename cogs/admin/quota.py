"""/videoadmin quota: members' allowances, grants, blocks, the server default and budget.

Every reply is ephemeral; every change answers with one line saying what it did and what it was
before; an option that is left out means "none" (no override, no budget).
"""

from __future__ import annotations

import discord
from discord import app_commands

from cogs import render
from cogs.admin import texts
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
        lang = member_language(interaction)
        embed = render.quota(lang, allowance, who=member.mention)
        embed.add_field(
            name=lang.gettext("Latest changes"),
            value=texts.ledger_text(lang, entries),
            inline=False,
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
        guild_id, _settings = await self._authorise(interaction)
        if seconds is not None:
            check_seconds(seconds)
        before = await self._allowance(guild_id, member)
        await self._services.quotas.set_override(
            guild_id, member.id, seconds, actor_id=interaction.user.id
        )
        after = await self._allowance(guild_id, member)
        lang = member_language(interaction)
        who, period = member.mention, texts.period_noun(lang, after.period)
        if seconds is None and after.blocked:
            line = lang.gettext("{member} has no allowance of their own now", member=who)
        elif seconds is None:
            line = lang.gettext(
                "{member} has no allowance of their own now: they get {allowance} per {period}",
                member=who,
                allowance=texts.base_text(lang, after),
                period=period,
            )
        else:
            line = lang.gettext(
                "{member} now has {s} s per {period}", member=who, s=seconds, period=period
            )
        if before.blocked:
            line = lang.gettext("{line}.", line=line)
        else:
            line = lang.gettext(
                "{line} (was {allowance}).", line=line, allowance=texts.base_text(lang, before)
            )
        if after.blocked:
            line += " " + lang.gettext(
                "They are still blocked: `/videoadmin quota unblock` lets them make videos."
            )
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
        guild_id, _settings = await self._authorise(interaction)
        check_seconds(seconds, lowest=1)
        await self._services.quotas.grant(
            guild_id, member.id, seconds, actor_id=interaction.user.id, reason=clean(reason)
        )
        after = await self._allowance(guild_id, member)
        lang = member_language(interaction)
        await send_private(
            interaction,
            content=lang.gettext(
                "Granted {member} {s} s for this period: they have {left} s left until {time}.",
                member=member.mention,
                s=seconds,
                left=after.remaining_seconds,
                time=render.timestamp(after.renews_at, "f"),
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
        guild_id, _settings = await self._authorise(interaction)
        forgiven = await self._services.quotas.reset(
            guild_id, member.id, actor_id=interaction.user.id, reason=clean(reason)
        )
        after = await self._allowance(guild_id, member)
        lang = member_language(interaction)
        left = after.remaining_seconds
        await send_private(
            interaction,
            content=lang.gettext(
                "Forgave the {s} s {member} used this period: they have {left} s left.",
                s=forgiven,
                member=member.mention,
                left=left,
            )
            if forgiven
            else lang.gettext(
                "{member} had used nothing this period to forgive: they have {left} s left.",
                member=member.mention,
                left=left,
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
        guild_id, _settings = await self._authorise(interaction)
        reason = clean(reason)
        await self._services.quotas.block(
            guild_id, member.id, actor_id=interaction.user.id, reason=reason
        )
        lang = member_language(interaction)
        await send_private(
            interaction,
            content=lang.gettext(
                "{member} can no longer make videos here: {reason}.",
                member=member.mention,
                reason=reason,
            )
            if reason
            else lang.gettext("{member} can no longer make videos here.", member=member.mention),
        )

    @QUOTA.command(name="unblock")
    @app_commands.describe(member="The member who may make videos again")
    async def quota_unblock(self, interaction: discord.Interaction, member: discord.Member) -> None:
        """Let a blocked member make videos again."""
        guild_id, _settings = await self._authorise(interaction)
        lang = member_language(interaction)
        if not (await self._allowance(guild_id, member)).blocked:
            await send_private(
                interaction,
                content=lang.gettext(
                    "{member} is not blocked; nothing changed.", member=member.mention
                ),
            )
            return
        await self._services.quotas.unblock(guild_id, member.id, actor_id=interaction.user.id)
        after = await self._allowance(guild_id, member)
        await send_private(
            interaction,
            content=lang.gettext(
                "{member} can make videos again: {left} s left this period.",
                member=member.mention,
                left=after.remaining_seconds,
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
        guild_id, _settings = await self._authorise(interaction)
        if seconds is not None:
            check_seconds(seconds)
        current = await self._services.quotas.guild_settings(guild_id)
        old = current.role_defaults.get(role.id)
        lang = member_language(interaction)
        if seconds is None and old is None:
            await send_private(
                interaction,
                content=lang.gettext(
                    "{role} gives no allowance of its own; nothing changed.", role=role.mention
                ),
            )
            return
        await self._services.quotas.set_role_default(
            guild_id, role.id, seconds, actor_id=interaction.user.id
        )
        was = lang.gettext("nothing of its own") if old is None else lang.gettext("{s} s", s=old)
        if seconds is None:
            line = lang.gettext(
                "{role} no longer gives an allowance of its own (was {was}).",
                role=role.mention,
                was=was,
            )
        else:
            line = lang.gettext(
                "{role} now gives {s} s per {period} (was {was}).",
                role=role.mention,
                s=seconds,
                period=texts.period_noun(lang, current.period),
                was=was,
            )
            if seconds <= current.default_seconds:
                line += " " + lang.gettext(
                    "It only matters above the server default ({s} s).",
                    s=current.default_seconds,
                )
        await send_private(interaction, content=line)

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
        guild_id, _settings = await self._authorise(interaction)
        check_seconds(seconds)
        new_period = None if period is None else check_period(period)
        old = await self._services.quotas.guild_settings(guild_id)
        await self._services.quotas.set_guild_default(
            guild_id, seconds=seconds, period=new_period, actor_id=interaction.user.id
        )
        now = new_period or old.period
        lang = member_language(interaction)
        line = lang.gettext(
            "Every member now gets {new} by default (was {old}).",
            new=texts.per_period(lang, seconds, now),
            old=texts.per_period(lang, old.default_seconds, old.period),
        )
        if now is not old.period:
            line += " " + lang.gettext(texts.RENEWALS[now])
        await send_private(interaction, content=line)

    @QUOTA.command(name="budget")
    @app_commands.describe(
        seconds="Seconds of video the whole server may make per period; leave empty for no budget"
    )
    async def quota_budget(
        self, interaction: discord.Interaction, seconds: Seconds | None = None
    ) -> None:
        """Cap the seconds the whole server may use per period (empty: no cap)."""
        guild_id, _settings = await self._authorise(interaction)
        if seconds is not None:
            check_seconds(seconds)
        old = await self._services.quotas.guild_settings(guild_id)
        await self._services.quotas.set_budget(guild_id, seconds, actor_id=interaction.user.id)
        lang = member_language(interaction)
        period = texts.period_noun(lang, old.period)
        was = (
            lang.gettext("no budget")
            if old.budget_seconds is None
            else lang.gettext("{s} s", s=old.budget_seconds)
        )
        if seconds is None:
            line = lang.gettext("The server has no video budget now (was {was}).", was=was)
        else:
            line = lang.gettext(
                "The whole server may now make {s} s of video per {period} (was {was}).",
                s=seconds,
                period=period,
                was=was,
            )
        await send_private(interaction, content=line)
