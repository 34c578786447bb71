"""Embeds and messages: one look for progress, results, errors and reports everywhere."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import discord

from bot.catalog import DEFAULT_MODEL, MODELS, MediaType
from bot.engine.delivery import Progress
from bot.errors import WanbotError
from storage.allowances import (
    Allowance,
    GuildQuotaSettings,
    LedgerEntry,
    Period,
    QuotaExceeded,
    UsageReport,
)
from storage.guild_settings import GuildSettings
from storage.jobs import Job, JobState

BRAND = discord.Colour.from_rgb(88, 101, 242)
GOOD = discord.Colour.green()
BAD = discord.Colour.red()
PROMPT_EXCERPT = 200

_STATE_TEXT = {
    JobState.QUEUED: "Waiting in line",
    JobState.SUBMITTING: "Sending to the provider",
    JobState.PENDING: "Queued at the provider",
    JobState.RUNNING: "Being made",
    JobState.DOWNLOADING: "Fetching the video",
    JobState.DELIVERING: "Posting the video",
    JobState.DELIVERED: "Done",
    JobState.FAILED: "Failed",
    JobState.CANCELED: "Canceled",
    JobState.EXPIRED: "Expired",
}


def timestamp(epoch: float, style: str = "R") -> str:
    """Discord's timestamp markup: shown in each reader's own time zone and language."""
    return f"<t:{int(epoch)}:{style}>"


def duration_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return (
        f"{minutes} min {rest:02d} s"
        if minutes < 60
        else f"{minutes // 60} h {minutes % 60:02d} min"
    )


def excerpt(text: str | None, limit: int = PROMPT_EXCERPT) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def mode_of(job: Job) -> str:
    """What kind of video a job makes, in a word or two."""
    request = job.request
    types = request.media_types
    if request.template:
        return f"Effect ({request.template})"
    if MediaType.FIRST_CLIP in types:
        return "Continue" + (" to a last frame" if MediaType.LAST_FRAME in types else "")
    if MediaType.LAST_FRAME in types:
        return "Interpolate" + (" with audio" if MediaType.DRIVING_AUDIO in types else "")
    return "Animate" + (" with audio" if MediaType.DRIVING_AUDIO in types else "")


def problem(message: str) -> discord.Embed:
    """A friendly refusal: what is wrong and what to change."""
    return discord.Embed(description=message, colour=BAD)


def apology(error_id: str) -> discord.Embed:
    return discord.Embed(
        title="Sorry, something went wrong",
        description=f"It has been logged. If it keeps happening, tell a moderator the error id `{error_id}`.",
        colour=BAD,
    )


def progress(job: Job, update: Progress, *, reason: str | None = None) -> discord.Embed:
    """The status message of a job, edited as it moves on."""
    state = update.state
    colour = GOOD if state is JobState.DELIVERED else BAD if state.is_final else BRAND
    embed = discord.Embed(title=f"Video #{job.id} · {mode_of(job)}", colour=colour)
    if prompt := excerpt(job.request.prompt):
        embed.description = f"“{prompt}”"
    status = _STATE_TEXT[state]
    if state is JobState.QUEUED and update.queue_position is not None:
        status += f" (#{update.queue_position + 1})"
    embed.add_field(name="Status", value=status, inline=True)
    embed.add_field(
        name="Model", value=f"{job.model} · {job.resolution} · {job.duration} s", inline=True
    )
    embed.add_field(name="Elapsed", value=duration_text(update.elapsed), inline=True)
    if update.expected_end and not state.is_final:
        embed.add_field(name="Expected", value=timestamp(update.expected_end), inline=True)
    if update.note:
        embed.add_field(name="Note", value=update.note, inline=False)
    if reason:
        embed.add_field(name="Why", value=reason, inline=False)
    embed.set_footer(text=f"Asked by user {job.user_id}")
    return embed


def result_text(job: Job) -> str:
    return f"<@{job.user_id}> your video #{job.id} is ready."


def link_text(job: Job, url: str, expires_at: float | None) -> str:
    until = f" The link works until {timestamp(expires_at, 'f')}." if expires_at else ""
    return (
        f"<@{job.user_id}> your video #{job.id} is ready, but it is too large to post here even "
        f"after shrinking it: [download it]({url}).{until}"
    )


def failed_text(job: Job, reason: str) -> str:
    return f"<@{job.user_id}> video #{job.id} did not work out. {reason}"


def quota(allowance: Allowance, *, who: str = "You") -> discord.Embed:
    embed = discord.Embed(title="Video quota", colour=BRAND)
    if allowance.blocked:
        embed.description = (
            f"{who} may not make videos here: {allowance.block_reason or 'blocked by a moderator'}."
        )
        embed.colour = BAD
        return embed
    embed.description = (
        f"**{allowance.remaining_seconds} s** of video left this {allowance.period.value}, "
        f"renews {timestamp(allowance.renews_at)}."
    )
    embed.add_field(
        name="Allowance", value=f"{allowance.base_seconds} s ({_source(allowance.source)})"
    )
    if allowance.granted_seconds:
        embed.add_field(name="Granted", value=f"+{allowance.granted_seconds} s")
    embed.add_field(name="Used", value=f"{allowance.used_seconds - allowance.held_seconds} s")
    if allowance.held_seconds:
        embed.add_field(name="In progress", value=f"{allowance.held_seconds} s")
    if allowance.budget_remaining is not None:
        embed.add_field(name="Server budget left", value=f"{max(0, allowance.budget_remaining)} s")
    return embed


_PERIOD_PHRASE = {Period.DAY: "today", Period.WEEK: "this week", Period.MONTH: "this month"}


def renewal_text(at: float) -> str:
    """A renewal time the way the messages say it: 'Mon 30 Nov at 00:00 UTC'."""
    moment = datetime.fromtimestamp(at, UTC)
    return f"{moment:%a} {moment.day} {moment:%b} at {moment:%H:%M} UTC"


def quota_refusal(refused: QuotaExceeded) -> str:
    """Why a video was refused for lack of quota, for the member who asked."""
    period = _PERIOD_PHRASE[refused.allowance.period]
    renews = renewal_text(refused.renews_at)
    if refused.reason == "blocked":
        why = refused.allowance.block_reason
        if why:
            return f"You are blocked from making videos here: {why}."
        return "You are blocked from making videos here by a moderator."
    if refused.reason == "budget":
        return (
            f"The server's video budget for {period} is used up ({refused.remaining} s left, "
            f"this video needs {refused.needed} s); it renews on {renews}."
        )
    return (
        f"This video needs {refused.needed} s of your quota but you have {refused.remaining} s "
        f"left {period}; it renews on {renews}."
    )


def error_text(error: WanbotError) -> str:
    """What a member reads for one of our errors."""
    if isinstance(error, QuotaExceeded):
        return quota_refusal(error)
    return str(error)


def _source(source: str) -> str:
    if source.startswith("role:"):
        return f"from <@&{source.removeprefix('role:')}>"
    return {"override": "set for you", "default": "server default"}.get(source, source)


def jobs_list(jobs: list[Job]) -> discord.Embed:
    embed = discord.Embed(title="Your recent videos", colour=BRAND)
    if not jobs:
        embed.description = "No videos yet. Try `/video animate`."
        return embed
    lines = []
    for job in jobs:
        prompt = excerpt(job.request.prompt, 60)
        lines.append(
            f"**#{job.id}** {mode_of(job)} · {_STATE_TEXT[job.state]} · {timestamp(job.created_at)}"
            + (f"\n  “{prompt}”" if prompt else "")
        )
    embed.description = "\n".join(lines)
    return embed


def job_detail(job: Job, responses: list[dict[str, Any]]) -> discord.Embed:
    embed = discord.Embed(title=f"Video #{job.id} · {mode_of(job)}", colour=BRAND)
    if prompt := excerpt(job.request.prompt, 1000):
        embed.description = f"“{prompt}”"
    embed.add_field(name="Status", value=_STATE_TEXT[job.state])
    embed.add_field(name="Model", value=f"{job.model} · {job.resolution} · {job.duration} s")
    embed.add_field(name="Asked", value=timestamp(job.created_at))
    if job.request.seed is not None:
        embed.add_field(name="Seed", value=str(job.request.seed))
    if job.billed_seconds is not None:
        embed.add_field(name="Counted", value=f"{job.billed_seconds} s")
    if job.task_id:
        embed.add_field(name="Provider task", value=f"`{job.task_id}`", inline=False)
    if job.error_message and job.state is not JobState.DELIVERED:
        embed.add_field(name="Why", value=excerpt(job.error_message, 1000), inline=False)
    calls = ", ".join(r["call"] for r in responses[-12:])
    if calls:
        embed.set_footer(text=f"Provider responses kept: {len(responses)} ({calls})")
    return embed


def models() -> discord.Embed:
    embed = discord.Embed(
        title="Models",
        description="Quota is counted in seconds of video: a 5 s video uses 5 s.",
        colour=BRAND,
    )
    for spec in MODELS.values():
        extras = f"\nEffects: {', '.join(spec.templates)}" if spec.templates else ""
        embed.add_field(
            name=spec.name,
            value=(
                f"{spec.summary}.\n{', '.join(spec.resolutions)} · {spec.duration_text} · "
                f"{'with sound' if spec.has_sound else 'silent'}{extras}"
            ),
            inline=False,
        )
    return embed


def usage(
    report: UsageReport,
    cost_per_second: float | None = None,
    by_key: Sequence[tuple[str, int, int]] = (),
) -> discord.Embed:
    """The period's usage; `by_key`: seconds and videos per DashScope key, when there are several."""
    embed = discord.Embed(
        title=f"Video usage this {report.period.value}",
        description=(
            f"From {timestamp(report.period_start, 'D')} to {timestamp(report.period_end, 'D')}: "
            f"**{report.total_seconds} s** in {report.jobs} video{'' if report.jobs == 1 else 's'}"
            + (f" ({report.held_seconds} s still being made)" if report.held_seconds else "")
            + "."
        ),
        colour=BRAND,
    )
    if report.budget_seconds is not None:
        embed.add_field(name="Server budget", value=f"{report.budget_seconds} s")
    if cost_per_second is not None:
        embed.add_field(
            name="Estimated cost",
            value=f"about ${math.ceil(report.total_seconds * cost_per_second * 100) / 100:.2f}",
        )
    if report.top_users:
        embed.add_field(
            name="Top members",
            value="\n".join(
                f"<@{user}>: {seconds} s in {jobs} video{'' if jobs == 1 else 's'}"
                for user, seconds, jobs in report.top_users
            ),
            inline=False,
        )
    if by_key:
        embed.add_field(
            name="By DashScope key",
            value="\n".join(
                f"`{name}`: {seconds} s in {jobs} video{'' if jobs == 1 else 's'}"
                for name, seconds, jobs in by_key
            ),
            inline=False,
        )
    return embed


# -- /videoadmin: what moderators read -----------------------------------------------------------

NOT_MODERATOR = "Only moderators (Manage Server, or the moderator role) can use /videoadmin."
RENEWALS = {
    Period.DAY: "every day at 00:00 UTC",
    Period.WEEK: "every Monday at 00:00 UTC",
    Period.MONTH: "on the 1st of each month at 00:00 UTC",
}


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
    line = f"{timestamp(entry.at)} {what}"
    if entry.job_id is not None:
        line += f" (video #{entry.job_id})"
    if entry.actor_id is not None:
        line += f" by <@{entry.actor_id}>"
    if entry.reason and entry.kind in {"grant", "reset", "block", "refund"}:
        line += f": {excerpt(entry.reason, 80)}"
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


def guild_settings(settings: GuildSettings, quota: GuildQuotaSettings) -> discord.Embed:
    """Every video setting of a server, for /videoadmin settings show."""
    embed = discord.Embed(title="Video settings", colour=BRAND)
    moderators = "Manage Server"
    if settings.moderator_role_id is not None:
        moderators += f", or <@&{settings.moderator_role_id}>"
    embed.add_field(name="Moderators", value=moderators)
    embed.add_field(name="Channels", value=channels_text(settings.allowed_channels))
    embed.add_field(name="Banned words", value=words_text(settings.banned_words))
    embed.add_field(name="Default model", value=model_text(settings.default_model))
    embed.add_field(name="Default resolution", value=resolution_text(settings.default_resolution))
    embed.add_field(name="Longest video", value=duration_limit_text(settings.max_duration))
    embed.add_field(name="Watermark", value=watermark_text(settings.force_watermark))
    period = quota.period.value
    embed.add_field(name="Quota", value=f"{quota.default_seconds} s per {period}")
    embed.add_field(
        name="Server budget",
        value="None" if quota.budget_seconds is None else f"{quota.budget_seconds} s per {period}",
    )
    if quota.role_defaults:
        roles = "\n".join(f"<@&{role}>: {s} s" for role, s in quota.role_defaults.items())
        embed.add_field(name="Role allowances", value=fit(roles), inline=False)
    return embed
