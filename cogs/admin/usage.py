"""/videoadmin quota usage: who used how many seconds, as numbers and as a chart, and the ledger.

The chart is drawn in a thread (it takes a few hundred milliseconds of CPU), after the defer.
Members' names come from the caches, which cost no request: the server's member cache, else the
bot's user cache; a member in neither is `user <id>` on the chart.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterable

import discord
from discord import app_commands

from bot.domain.errors import InvalidInput
from bot.usage.chart import render_usage_chart
from bot.usage.report import (
    CHART_NAME,
    PERIODS,
    csv_name,
    ledger_csv,
    period_ledger,
    period_usage,
)
from cogs.admin.base import QUOTA, AdminBase
from cogs.languages import member_language
from cogs.render import moderator

PERIOD_CHOICES = [
    app_commands.Choice(name=app_commands.locale_str("This period"), value="current"),
    app_commands.Choice(name=app_commands.locale_str("The one before"), value="previous"),
]


class UsageCommands(AdminBase):
    @QUOTA.command(name="usage")
    @app_commands.describe(
        period="This period, or the one before it",
        export="Also attach the period's quota history as a CSV file",
    )
    @app_commands.choices(period=PERIOD_CHOICES)
    async def quota_usage(
        self,
        interaction: discord.Interaction,
        period: str = "current",
        export: bool = False,
    ) -> None:
        """Show who used how many seconds, the totals and the estimated cost, with a chart."""
        guild_id, _settings = await self._authorise(interaction)
        if period not in PERIODS:
            raise InvalidInput(moderator.CURRENT_OR_PREVIOUS, field="period")
        await interaction.response.defer(ephemeral=True, thinking=True)
        services = self._services
        cost = services.settings.cost_per_second_usd
        usage = await period_usage(services.quotas, guild_id, period)
        report = usage.report
        by_key: list[tuple[str, int, int]] = []
        if len(services.keys) > 1:  # one key: the totals say it all
            by_key = await services.jobs.usage_per_key(
                guild_id, report.period_start, report.period_end, first_key=services.keys.first.name
            )
        lang = member_language(interaction)
        embed = moderator.usage(lang, report, cost, by_key, previous=period == "previous")
        chart = await asyncio.to_thread(
            render_usage_chart,
            report,
            usage.days,
            names=self._names(interaction.guild, {day.user_id for day in usage.days}),
            cost_per_second=cost,
            lang=lang,
        )
        embed.set_image(url=f"attachment://{CHART_NAME}")
        files = [discord.File(io.BytesIO(chart), filename=CHART_NAME)]
        if export:
            entries = await period_ledger(services.quotas, report)
            files.append(discord.File(io.BytesIO(ledger_csv(entries)), filename=csv_name(report)))
        await interaction.followup.send(embed=embed, files=files, ephemeral=True)

    def _names(self, guild: discord.Guild | None, user_ids: Iterable[int]) -> dict[int, str]:
        """The display names the caches know, without asking Discord."""
        names = {}
        for user_id in user_ids:
            member = guild.get_member(user_id) if guild is not None else None
            user = member or self.bot.get_user(user_id)
            if user is not None:
                names[user_id] = user.display_name
        return names
