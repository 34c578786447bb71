"""/videoadmin: moderators manage quotas and the server's settings.

Discord hides the command from members without Manage Server (`default_member_permissions`), but a
server can change that in its integration settings, and the moderator role is ours, not Discord's:
so every command also checks `is_moderator` at run time before it reads or changes anything.

Conventions: every reply is ephemeral; every change answers with one line saying what it did and
what it was before; an option that is left out means "none" (no override, no budget, no limit).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import DEFAULT_MODEL, MODELS
from bot.errors import InvalidInput
from cogs import render
from cogs.checks import is_moderator, role_ids
from cogs.errors import send_private
from storage.guild_settings import GuildSettings, normalise_words
from storage.quotas import Allowance, LedgerEntry, Period

if TYPE_CHECKING:
    from bot.app import Services, WanBot

log = logging.getLogger(__name__)

MOST_SECONDS = 86_400
Seconds = app_commands.Range[int, 0, MOST_SECONDS]
GrantSeconds = app_commands.Range[int, 1, MOST_SECONDS]
Reason = app_commands.Range[str, 1, 200]
Duration = app_commands.Range[int, 2, 15]
SHORTEST_VIDEO, LONGEST_VIDEO = 2, 15
LEDGER_LINES = 8
MOST_CHANNELS = 50
MOST_BANNED_WORDS = 200
LONGEST_BANNED_WORD = 50

RESOLUTIONS: tuple[str, ...] = tuple(
    sorted({r for spec in MODELS.values() for r in spec.resolutions}, key=lambda r: int(r[:-1]))
)
MODEL_CHOICES = [app_commands.Choice(name=name, value=name) for name in MODELS]
RESOLUTION_CHOICES = [app_commands.Choice(name=r, value=r) for r in RESOLUTIONS]

RENEWALS = {
    Period.DAY: "every day at 00:00 UTC",
    Period.WEEK: "every Monday at 00:00 UTC",
    Period.MONTH: "on the 1st of each month at 00:00 UTC",
}
NOT_MODERATOR = "Only moderators (Manage Server, or the moderator role) can use /videoadmin."


class AdminCog(commands.Cog):
    """Quota and settings commands for moderators."""

    videoadmin = app_commands.Group(
        name="videoadmin",
        description="Moderators: manage video quotas and this server's video settings",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )
    quota = app_commands.Group(
        name="quota", description="Members' video quotas and the server budget", parent=videoadmin
    )
    settings = app_commands.Group(
        name="settings", description="Where and how videos are made here", parent=videoadmin
    )

    def __init__(self, bot: WanBot) -> None:
        self.bot = bot

    # -- helpers ----------------------------------------------------------------------------

    @property
    def _services(self) -> Services:
        return self.bot.services

    async def _authorise(self, interaction: discord.Interaction) -> tuple[int, GuildSettings]:
        """Return the server id and its settings, or refuse anyone who is not a moderator."""
        guild_id = interaction.guild_id
        if guild_id is None:
            raise InvalidInput("/videoadmin works only in a server.")
        settings = await self._services.guild_settings.get(guild_id)
        if not is_moderator(interaction.user, settings):
            log.info("Refused /videoadmin to %s in guild %s", interaction.user.id, guild_id)
            raise InvalidInput(NOT_MODERATOR)
        return guild_id, settings

    async def _allowance(self, guild_id: int, user: discord.Member) -> Allowance:
        return await self._services.quotas.allowance(
            guild_id=guild_id, user_id=user.id, role_ids=role_ids(user)
        )

    # -- /videoadmin quota ------------------------------------------------------------------

    @quota.command(name="show")
    @app_commands.describe(member="The member whose quota to show")
    async def quota_show(self, interaction: discord.Interaction, member: discord.Member) -> None:
        """Show a member's quota this period and their latest quota changes."""
        guild_id, _ = await self._authorise(interaction)
        allowance = await self._allowance(guild_id, member)
        entries = await self._services.quotas.ledger(
            guild_id, user_id=member.id, limit=LEDGER_LINES
        )
        embed = render.quota(allowance, who=member.mention)
        embed.add_field(name="Latest changes", value=ledger_text(entries), inline=False)
        await send_private(interaction, embed=embed)

    @quota.command(name="set")
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
                line += f": they get {base_text(after)} per {period}"
        else:
            line = f"{who} now has {seconds} s per {period}"
        line += "." if before.blocked else f" (was {base_text(before)})."
        if after.blocked:
            line += " They are still blocked: `/videoadmin quota unblock` lets them make videos."
        await send_private(interaction, content=line)

    @quota.command(name="grant")
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

    @quota.command(name="reset")
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

    @quota.command(name="block")
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

    @quota.command(name="unblock")
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

    @quota.command(name="role")
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

    @quota.command(name="default")
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
            line += f" Allowances now renew {RENEWALS[now]}."
        await send_private(interaction, content=line)

    @quota.command(name="budget")
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

    @quota.command(name="usage")
    @app_commands.describe(period="This period, or the one before it")
    async def quota_usage(
        self,
        interaction: discord.Interaction,
        period: Literal["current", "previous"] = "current",
    ) -> None:
        """Show who used how many seconds, the totals and the estimated cost."""
        guild_id, _ = await self._authorise(interaction)
        if period not in ("current", "previous"):
            raise InvalidInput("Choose the current or the previous period.", field="period")
        quotas = self._services.quotas
        report = await quotas.usage(guild_id)
        if period == "previous":
            report = await quotas.usage(guild_id, at=report.period_start - 1)
        embed = render.usage(report, self._services.settings.cost_per_second_usd)
        if period == "previous":
            embed.title = f"Video usage last {report.period.value}"
        await send_private(interaction, embed=embed)

    # -- /videoadmin settings ---------------------------------------------------------------

    @settings.command(name="show")
    async def settings_show(self, interaction: discord.Interaction) -> None:
        """Show every video setting of this server."""
        guild_id, settings = await self._authorise(interaction)
        quota = await self._services.quotas.guild_settings(guild_id)
        embed = discord.Embed(title="Video settings", colour=render.BRAND)
        moderators = "Manage Server"
        if settings.moderator_role_id is not None:
            moderators += f", or <@&{settings.moderator_role_id}>"
        embed.add_field(name="Moderators", value=moderators)
        embed.add_field(name="Channels", value=channels_text(settings.allowed_channels))
        embed.add_field(name="Banned words", value=words_text(settings.banned_words))
        embed.add_field(name="Default model", value=model_text(settings.default_model))
        embed.add_field(
            name="Default resolution", value=resolution_text(settings.default_resolution)
        )
        embed.add_field(name="Longest video", value=duration_limit_text(settings.max_duration))
        embed.add_field(name="Watermark", value=watermark_text(settings.force_watermark))
        period = quota.period.value
        embed.add_field(name="Quota", value=f"{quota.default_seconds} s per {period}")
        embed.add_field(
            name="Server budget",
            value="None"
            if quota.budget_seconds is None
            else f"{quota.budget_seconds} s per {period}",
        )
        if quota.role_defaults:
            roles = "\n".join(f"<@&{role}>: {s} s" for role, s in quota.role_defaults.items())
            embed.add_field(name="Role allowances", value=fit(roles), inline=False)
        await send_private(interaction, embed=embed)

    @settings.command(name="channel_add")
    @app_commands.describe(channel="A channel where members may make videos")
    async def settings_channel_add(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | discord.VoiceChannel | discord.ForumChannel,
    ) -> None:
        """Allow videos in a channel (once any is added, only listed channels allow them)."""
        guild_id, settings = await self._authorise(interaction)
        old = settings.allowed_channels
        if channel.id in old:
            await send_private(
                interaction, content=f"{channel.mention} is already allowed; nothing changed."
            )
            return
        if len(old) >= MOST_CHANNELS:
            raise InvalidInput(f"At most {MOST_CHANNELS} channels can be listed; remove one first.")
        await self._update(interaction, guild_id, allowed_channels=old | {channel.id})
        if old:
            line = f"Videos can now also be made in {channel.mention} ({len(old) + 1} channels)."
        else:
            line = f"Videos can now be made only in {channel.mention} (was every channel)."
        await send_private(interaction, content=line)

    @settings.command(name="channel_remove")
    @app_commands.describe(channel="A listed channel where videos should no longer be made")
    async def settings_channel_remove(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | discord.VoiceChannel | discord.ForumChannel,
    ) -> None:
        """Stop allowing videos in a listed channel (an empty list allows every channel)."""
        guild_id, settings = await self._authorise(interaction)
        old = settings.allowed_channels
        if channel.id not in old:
            await send_private(
                interaction, content=f"{channel.mention} is not on the list; nothing changed."
            )
            return
        left = old - {channel.id}
        await self._update(interaction, guild_id, allowed_channels=left)
        if left:
            left_text = plural(len(left), "channel")
            line = f"Videos can no longer be made in {channel.mention} ({left_text} left)."
        else:
            line = (
                f"Removed {channel.mention}, the last listed channel: videos can be made in "
                "every channel again."
            )
        await send_private(interaction, content=line)

    @settings.command(name="channels_clear")
    async def settings_channels_clear(self, interaction: discord.Interaction) -> None:
        """Allow videos in every channel again (empties the channel list)."""
        guild_id, settings = await self._authorise(interaction)
        if not settings.allowed_channels:
            await send_private(
                interaction, content="Videos can already be made in every channel; nothing changed."
            )
            return
        await self._update(interaction, guild_id, allowed_channels=frozenset())
        await send_private(
            interaction,
            content=(
                "Videos can be made in every channel again "
                f"(was only {channels_text(settings.allowed_channels)})."
            ),
        )

    @settings.command(name="banned_words")
    @app_commands.describe(
        action="Add the words to the list, or remove them from it",
        words="Words or phrases, separated by commas (case does not matter)",
    )
    async def settings_banned_words(
        self,
        interaction: discord.Interaction,
        action: Literal["add", "remove"],
        words: app_commands.Range[str, 1, 1000],
    ) -> None:
        """Add or remove words that prompts may not contain."""
        guild_id, settings = await self._authorise(interaction)
        given = normalise_words(words.split(","))
        if not given:
            raise InvalidInput("Give one or more words, separated by commas.", field="words")
        old = settings.banned_words
        if action == "add":
            if too_long := [w for w in given if len(w) > LONGEST_BANNED_WORD]:
                raise InvalidInput(
                    f"A banned word or phrase can be at most {LONGEST_BANNED_WORD} characters "
                    f"(“{too_long[0][:20]}…” is longer).",
                    field="words",
                )
            new = normalise_words([*old, *given])
            if len(new) > MOST_BANNED_WORDS:
                raise InvalidInput(f"At most {MOST_BANNED_WORDS} banned words; remove some first.")
            changed = [w for w in given if w not in old]
            verb = "Banned"
        elif action == "remove":
            new = tuple(w for w in old if w not in given)
            changed = [w for w in given if w in old]
            verb = "Unbanned"
        else:
            raise InvalidInput("Choose to add or to remove words.", field="action")
        if not changed:
            await send_private(interaction, content="The list already says that; nothing changed.")
            return
        await self._update(interaction, guild_id, banned_words=new)
        await send_private(
            interaction,
            content=(
                f"{verb} {spoiler(changed)} ({plural(len(new), 'banned word')} in all, "
                f"was {len(old)})."
            ),
        )

    @settings.command(name="defaults")
    @app_commands.describe(
        model="The model new videos use unless the member picks one; leave empty for the bot's",
        resolution="Used when the video's model makes it; leave empty for each model's own",
    )
    @app_commands.choices(model=MODEL_CHOICES, resolution=RESOLUTION_CHOICES)
    async def settings_defaults(
        self,
        interaction: discord.Interaction,
        model: str | None = None,
        resolution: str | None = None,
    ) -> None:
        """Set the model and resolution new videos use by default (empty: the built-in ones)."""
        guild_id, settings = await self._authorise(interaction)
        check_defaults(model, resolution)
        await self._update(
            interaction, guild_id, default_model=model, default_resolution=resolution
        )
        line = (
            f"New videos now default to {model_text(model)} at {resolution_text(resolution)} "
            f"(was {model_text(settings.default_model)} at "
            f"{resolution_text(settings.default_resolution)})."
        )
        spec = MODELS[model or DEFAULT_MODEL]
        if resolution is not None and resolution not in spec.resolutions:
            line += f" {spec.name} cannot make {resolution}, so it keeps its own default."
        await send_private(interaction, content=line)

    @settings.command(name="watermark")
    @app_commands.describe(forced="True: every video carries the provider's watermark")
    async def settings_watermark(self, interaction: discord.Interaction, forced: bool) -> None:
        """Choose whether every video must carry the provider's watermark."""
        guild_id, settings = await self._authorise(interaction)
        await self._update(interaction, guild_id, force_watermark=bool(forced))
        await send_private(
            interaction,
            content=(
                f"Watermark: {watermark_text(forced).lower()} "
                f"(was {watermark_text(settings.force_watermark).lower()})."
            ),
        )

    @settings.command(name="longest_duration")
    @app_commands.describe(
        seconds="The longest video members may ask for (2–15 s); empty: each model's limit"
    )
    async def settings_longest_duration(
        self, interaction: discord.Interaction, seconds: Duration | None = None
    ) -> None:
        """Limit how long a video may be (empty: each model's own limit)."""
        guild_id, settings = await self._authorise(interaction)
        if seconds is not None and not SHORTEST_VIDEO <= seconds <= LONGEST_VIDEO:
            raise InvalidInput(
                f"The longest video must be {SHORTEST_VIDEO}–{LONGEST_VIDEO} s, not {seconds}.",
                field="seconds",
            )
        await self._update(interaction, guild_id, max_duration=seconds)
        await send_private(
            interaction,
            content=(
                f"Longest video: {duration_limit_text(seconds).lower()} "
                f"(was {duration_limit_text(settings.max_duration).lower()})."
            ),
        )

    @settings.command(name="moderator_role")
    @app_commands.describe(
        role="Members with this role may use /videoadmin; leave empty for Manage Server only"
    )
    async def settings_moderator_role(
        self, interaction: discord.Interaction, role: discord.Role | None = None
    ) -> None:
        """Choose the role whose members may use /videoadmin (empty: Manage Server only)."""
        guild_id, settings = await self._authorise(interaction)
        # The role hands out moderator rights, so only those Discord trusts with the server pick it.
        if not interaction.user.guild_permissions.manage_guild:  # type: ignore[union-attr]
            raise InvalidInput("Only members with Manage Server can change the moderator role.")
        if role is not None and role.is_default():
            raise InvalidInput("Choose a role other than @everyone: every member would moderate.")
        await self._update(
            interaction, guild_id, moderator_role_id=None if role is None else role.id
        )
        old = settings.moderator_role_id
        was = "Manage Server only" if old is None else f"<@&{old}>"
        if role is None:
            line = f"Only members with Manage Server can use /videoadmin now (was {was})."
        else:
            line = f"Members with {role.mention} can now use /videoadmin (was {was})."
        await send_private(interaction, content=line)

    async def _update(
        self, interaction: discord.Interaction, guild_id: int, **changes: object
    ) -> None:
        await self._services.guild_settings.update(
            guild_id, actor_id=interaction.user.id, **changes
        )
        log.info(
            "Guild %s settings changed by %s: %s", guild_id, interaction.user.id, sorted(changes)
        )


# -- checks and text --------------------------------------------------------------------------


def check_seconds(seconds: int, *, lowest: int = 0) -> None:
    """Discord enforces the option's range; a call from elsewhere is checked here again."""
    if not lowest <= seconds <= MOST_SECONDS:
        raise InvalidInput(
            f"Seconds must be {lowest}–{MOST_SECONDS}, not {seconds}.", field="seconds"
        )


def check_period(period: str) -> Period:
    try:
        return Period(period)
    except ValueError:
        raise InvalidInput("The period is a day, a week or a month.", field="period") from None


def check_defaults(model: str | None, resolution: str | None) -> None:
    """Refuse an unknown model, or a resolution the model (with none: every model) cannot make."""
    if model is not None and model not in MODELS:
        raise InvalidInput(
            f"There is no model {model!r}; choose one of {', '.join(MODELS)}.", field="model"
        )
    if resolution is None:
        return
    makers = MODELS[model].resolutions if model is not None else RESOLUTIONS
    if resolution not in makers:
        whose = model or "any model"
        raise InvalidInput(
            f"{whose} cannot make {resolution}; choose one of {', '.join(makers)}.",
            field="resolution",
        )


def clean(reason: str | None) -> str | None:
    """A reason as stored: trimmed, at most 200 characters, None when blank."""
    reason = " ".join((reason or "").split())
    return reason[:200] or None


def base_text(allowance: Allowance) -> str:
    """Where a member's allowance comes from, for "was …" in replies."""
    seconds, source = allowance.base_seconds, allowance.source
    if source == "override":
        return f"their own {seconds} s"
    if source.startswith("role:"):
        return f"{seconds} s from <@&{source.removeprefix('role:')}>"
    if source == "blocked":
        return "blocked"
    return f"the server default, {seconds} s"


_LEDGER_VERBS = {
    "reserve": "held {s} s",
    "commit": "charged {s} s",
    "refund": "gave back {r} s",
    "grant": "granted +{s} s",
    "reset": "forgave {r} s",
    "set_override": "own allowance set to {s} s",
    "block": "blocked",
    "unblock": "unblocked",
}


def ledger_line(entry: LedgerEntry) -> str:
    if entry.kind == "set_override" and entry.reason == "override removed":
        what = "own allowance removed"
    else:
        what = _LEDGER_VERBS.get(entry.kind, entry.kind).format(s=entry.seconds, r=-entry.seconds)
    line = f"{render.timestamp(entry.at)} {what}"
    if entry.job_id is not None:
        line += f" (video #{entry.job_id})"
    if entry.actor_id is not None:
        line += f" by <@{entry.actor_id}>"
    if entry.reason and entry.kind in {"grant", "reset", "block", "refund"}:
        line += f": {render.excerpt(entry.reason, 80)}"
    return line


def ledger_text(entries: list[LedgerEntry]) -> str:
    return fit("\n".join(ledger_line(e) for e in entries)) if entries else "None yet."


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def fit(text: str, limit: int = 1024) -> str:
    """Cut text to an embed field's limit at a line break."""
    if len(text) <= limit:
        return text
    return text[: limit - 2].rsplit("\n", 1)[0] + "\n…"


def channels_text(channels: frozenset[int]) -> str:
    if not channels:
        return "Every channel"
    return fit(", ".join(f"<#{c}>" for c in sorted(channels)))


def spoiler(words: list[str] | tuple[str, ...]) -> str:
    """Banned words hidden behind a spoiler: moderators may not want to read them by accident."""
    return "||" + ", ".join(words).replace("|", "") + "||"


def words_text(words: tuple[str, ...]) -> str:
    if not words:
        return "None"
    shown = spoiler(words)
    return f"{len(words)}: {shown}" if len(shown) < 1000 else f"{len(words)} (too many to show)"


def model_text(model: str | None) -> str:
    return model or f"the bot's default ({DEFAULT_MODEL})"


def resolution_text(resolution: str | None) -> str:
    return resolution or "each model's default resolution"


def duration_limit_text(seconds: int | None) -> str:
    return "Each model's limit" if seconds is None else f"{seconds} s"


def watermark_text(forced: bool) -> str:
    return "Always added" if forced else "Members choose"
