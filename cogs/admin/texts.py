"""What moderators read: usage, quota history, settings, and the words of /videoadmin's replies."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.domain.catalog import DEFAULT_MODEL
from bot.domain.guild import GuildSettings
from bot.domain.quota import Allowance, GuildQuotaSettings, LedgerEntry, Period, UsageReport
from bot.i18n import LANGUAGE_NAMES, N_, Language, _
from bot.usage.words import estimated_cost, usage_title, videos_text
from cogs.render import BRAND, excerpt, timestamp


def usage(
    lang: Language,
    report: UsageReport,
    cost_per_second: float | None = None,
    by_key: Sequence[tuple[str, int, int]] = (),
    *,
    previous: bool = False,
) -> discord.Embed:
    """The period's usage; `by_key`: seconds and videos per DashScope key, when there are several."""
    title = usage_title(lang, report.period, previous=previous)
    summary = lang.ngettext(
        "From {start} to {end}: **{s} s** in {n} video",
        "From {start} to {end}: **{s} s** in {n} videos",
        report.jobs,
        start=timestamp(report.period_start, "D"),
        end=timestamp(report.period_end, "D"),
        s=report.total_seconds,
    )
    if report.held_seconds:
        summary += " " + lang.gettext("({s} s still being made)", s=report.held_seconds)
    embed = discord.Embed(title=title, description=summary + ".", colour=BRAND)
    if report.budget_seconds is not None:
        embed.add_field(
            name=lang.gettext("Server budget"), value=lang.gettext("{s} s", s=report.budget_seconds)
        )
    if cost_per_second is not None:
        embed.add_field(
            name=lang.gettext("Estimated cost"),
            value=lang.gettext("about ${amount}", amount=estimated_cost(report, cost_per_second)),
        )
    if report.top_users:
        embed.add_field(
            name=lang.gettext("Top members"),
            value="\n".join(
                f"<@{user}>: {videos_text(lang, seconds, jobs)}"
                for user, seconds, jobs in report.top_users
            ),
            inline=False,
        )
    if by_key:
        embed.add_field(
            name=lang.gettext("By DashScope key"),
            value="\n".join(
                f"`{name}`: {videos_text(lang, seconds, jobs)}" for name, seconds, jobs in by_key
            ),
            inline=False,
        )
    return embed


NOT_MODERATOR = _("Only moderators (Manage Server, or the moderator role) can use /videoadmin.")
RENEWALS = {
    Period.DAY: N_("Allowances now renew every day at 00:00 UTC."),
    Period.WEEK: N_("Allowances now renew every Monday at 00:00 UTC."),
    Period.MONTH: N_("Allowances now renew on the 1st of each month at 00:00 UTC."),
}


_PERIOD_NOUN = {Period.DAY: N_("day"), Period.WEEK: N_("week"), Period.MONTH: N_("month")}


def period_noun(lang: Language, period: Period) -> str:
    return lang.gettext(_PERIOD_NOUN[period])


def base_text(lang: Language, allowance: Allowance) -> str:
    """Where a member's allowance comes from, for "was …" in replies."""
    seconds, source = allowance.base_seconds, allowance.source
    if source == "override":
        return lang.gettext("their own {s} s", s=seconds)
    if source.startswith("role:"):
        return lang.gettext(
            "{s} s from {role}", s=seconds, role=f"<@&{source.removeprefix('role:')}>"
        )
    if source == "blocked":
        return lang.gettext("blocked")
    return lang.gettext("the server default, {s} s", s=seconds)


_LEDGER_VERBS = {
    "reserve": N_("held {s} s"),
    "commit": N_("charged {s} s"),
    "refund": N_("gave back {s} s"),
    "grant": N_("granted +{s} s"),
    "reset": N_("forgave {s} s"),
    "set_override": N_("own allowance set to {s} s"),
    "block": N_("blocked"),
    "unblock": N_("unblocked"),
}


def ledger_line(lang: Language, entry: LedgerEntry) -> str:
    if entry.kind == "set_override" and entry.reason == "override removed":
        what = lang.gettext("own allowance removed")
    elif entry.kind in _LEDGER_VERBS:
        seconds = -entry.seconds if entry.kind in {"refund", "reset"} else entry.seconds
        what = lang.gettext(_LEDGER_VERBS[entry.kind], s=seconds)
    else:
        what = entry.kind
    line = f"{timestamp(entry.at)} {what}"
    if entry.job_id is not None:
        line += " " + lang.gettext("(video #{id})", id=entry.job_id)
    if entry.actor_id is not None:
        line += " " + lang.gettext("by {mention}", mention=f"<@{entry.actor_id}>")
    if entry.reason and entry.kind in {"grant", "reset", "block", "refund"}:
        line += f": {excerpt(entry.reason, 80)}"
    return line


def ledger_text(lang: Language, entries: list[LedgerEntry]) -> str:
    if not entries:
        return lang.gettext("None yet.")
    return fit("\n".join(ledger_line(lang, e) for e in entries))


def fit(text: str, limit: int = 1024) -> str:
    """Cut text to an embed field's limit at a line break."""
    if len(text) <= limit:
        return text
    return text[: limit - 2].rsplit("\n", 1)[0] + "\n…"


def channels_text(lang: Language, channels: frozenset[int]) -> str:
    if not channels:
        return lang.gettext("Every channel")
    return fit(", ".join(f"<#{c}>" for c in sorted(channels)))


def spoiler(words: list[str] | tuple[str, ...]) -> str:
    """Banned words hidden behind a spoiler: moderators may not want to read them by accident."""
    return "||" + ", ".join(words).replace("|", "") + "||"


def words_text(lang: Language, words: tuple[str, ...]) -> str:
    if not words:
        return lang.gettext("None")
    shown = spoiler(words)
    if len(shown) < 1000:
        return f"{len(words)}: {shown}"
    return lang.gettext("{n} (too many to show)", n=len(words))


def model_text(lang: Language, model: str | None) -> str:
    return model or lang.gettext("the bot's default ({model})", model=DEFAULT_MODEL)


def resolution_text(lang: Language, resolution: str | None) -> str:
    return resolution or lang.gettext("each model's default resolution")


def duration_limit_text(lang: Language, seconds: int | None) -> str:
    if seconds is None:
        return lang.gettext("each model's limit")
    return lang.gettext("{s} s", s=seconds)


def watermark_text(lang: Language, forced: bool) -> str:
    return lang.gettext("always added") if forced else lang.gettext("members choose")


def language_text(lang: Language, code: str | None) -> str:
    """A server's language setting as moderators read it."""
    if code is None:
        return lang.gettext("Discord's server language")
    return LANGUAGE_NAMES.get(code, code)


def per_period(lang: Language, seconds: int, period: Period) -> str:
    return lang.gettext("{s} s per {period}", s=seconds, period=period_noun(lang, period))


def guild_settings(
    lang: Language, settings: GuildSettings, quota: GuildQuotaSettings
) -> discord.Embed:
    """Every video setting of a server, for /videoadmin settings show."""
    embed = discord.Embed(title=lang.gettext("Video settings"), colour=BRAND)
    moderators = lang.gettext("Manage Server")
    if settings.moderator_role_id is not None:
        moderators = lang.gettext(
            "Manage Server, or {role}", role=f"<@&{settings.moderator_role_id}>"
        )
    embed.add_field(name=lang.gettext("Moderators"), value=moderators)
    embed.add_field(
        name=lang.gettext("Channels"), value=channels_text(lang, settings.allowed_channels)
    )
    embed.add_field(
        name=lang.gettext("Banned words"), value=words_text(lang, settings.banned_words)
    )
    embed.add_field(
        name=lang.gettext("Default model"), value=model_text(lang, settings.default_model)
    )
    embed.add_field(
        name=lang.gettext("Default resolution"),
        value=resolution_text(lang, settings.default_resolution),
    )
    embed.add_field(
        name=lang.gettext("Longest video"), value=duration_limit_text(lang, settings.max_duration)
    )
    embed.add_field(
        name=lang.gettext("Watermark"), value=watermark_text(lang, settings.force_watermark)
    )
    embed.add_field(name=lang.gettext("Language"), value=language_text(lang, settings.language))
    embed.add_field(
        name=lang.gettext("Quota"), value=per_period(lang, quota.default_seconds, quota.period)
    )
    embed.add_field(
        name=lang.gettext("Server budget"),
        value=lang.gettext("None")
        if quota.budget_seconds is None
        else per_period(lang, quota.budget_seconds, quota.period),
    )
    if quota.role_defaults:
        roles = "\n".join(
            f"<@&{role}>: " + lang.gettext("{s} s", s=s) for role, s in quota.role_defaults.items()
        )
        embed.add_field(name=lang.gettext("Role allowances"), value=fit(roles), inline=False)
    return embed
