"""Embeds and messages: one look for progress, results, errors and reports everywhere."""

from __future__ import annotations

import math

import discord

from bot.catalog import MODELS, MediaType
from bot.engine.delivery import Progress
from storage.jobs import Job, JobState
from storage.quotas import Allowance, UsageReport

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


def job_detail(job: Job, responses: list[dict]) -> discord.Embed:
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


def usage(report: UsageReport, cost_per_second: float | None = None) -> discord.Embed:
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
    return embed
