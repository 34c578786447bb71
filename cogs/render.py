"""Embeds and messages: one look for progress, results, errors and reports everywhere."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import discord

from bot.domain.catalog import MODELS, MediaType
from bot.domain.errors import QuotaExceeded, WanbotError
from bot.domain.jobs import Job, JobState
from bot.domain.quota import Allowance, Period
from bot.engine.notifier import Progress
from bot.i18n import N_, Language, Text

BRAND = discord.Colour.from_rgb(88, 101, 242)
GOOD = discord.Colour.green()
BAD = discord.Colour.red()
PROMPT_EXCERPT = 200

_STATE_TEXT = {
    JobState.QUEUED: N_("Waiting in line"),
    JobState.SUBMITTING: N_("Sending to the provider"),
    JobState.PENDING: N_("Queued at the provider"),
    JobState.RUNNING: N_("Being made"),
    JobState.DOWNLOADING: N_("Fetching the video"),
    JobState.DELIVERING: N_("Posting the video"),
    JobState.DELIVERED: N_("Done"),
    JobState.FAILED: N_("Failed"),
    JobState.CANCELED: N_("Canceled"),
    JobState.EXPIRED: N_("Expired"),
}


def state_text(lang: Language, state: JobState) -> str:
    return lang.gettext(_STATE_TEXT[state])


def timestamp(epoch: float, style: str = "R") -> str:
    """Discord's timestamp markup: shown in each reader's own time zone and language."""
    return f"<t:{int(epoch)}:{style}>"


def duration_text(lang: Language, seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return lang.gettext("{s} s", s=seconds)
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return lang.gettext("{m} min {s} s", m=minutes, s=f"{rest:02d}")
    return lang.gettext("{h} h {m} min", h=minutes // 60, m=f"{minutes % 60:02d}")


def excerpt(text: str | None, limit: int = PROMPT_EXCERPT) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def quoted(lang: Language, text: str) -> str:
    """A member's prompt in the quotation marks of the reader's language."""
    return lang.gettext("“{text}”", text=text)


def mode_of(lang: Language, job: Job) -> str:
    """What kind of video a job makes, in a word or two."""
    request = job.request
    types = request.media_types
    if request.template:
        return lang.gettext("Effect ({template})", template=request.template)
    if MediaType.FIRST_CLIP in types:
        if MediaType.LAST_FRAME in types:
            return lang.gettext("Continue to a last frame")
        return lang.gettext("Continue")
    if MediaType.LAST_FRAME in types:
        if MediaType.DRIVING_AUDIO in types:
            return lang.gettext("Interpolate with audio")
        return lang.gettext("Interpolate")
    if MediaType.DRIVING_AUDIO in types:
        return lang.gettext("Animate with audio")
    return lang.gettext("Animate")


def problem(message: str) -> discord.Embed:
    """A friendly refusal: what is wrong and what to change."""
    return discord.Embed(description=message, colour=BAD)


def apology(lang: Language, error_id: str) -> discord.Embed:
    return discord.Embed(
        title=lang.gettext("Sorry, something went wrong"),
        description=lang.gettext(
            "It has been logged. If it keeps happening, tell a moderator the error id `{id}`.",
            id=error_id,
        ),
        colour=BAD,
    )


def video_title(lang: Language, job: Job) -> str:
    return lang.gettext("Video #{id} · {mode}", id=job.id, mode=mode_of(lang, job))


def model_line(lang: Language, job: Job) -> str:
    return lang.gettext(
        "{model} · {resolution} · {seconds} s",
        model=job.model,
        resolution=job.resolution,
        seconds=job.duration,
    )


def progress(
    lang: Language, job: Job, update: Progress, *, reason: Text | str | None = None
) -> discord.Embed:
    """The status message of a job, edited as it moves on."""
    state = update.state
    colour = GOOD if state is JobState.DELIVERED else BAD if state.is_final else BRAND
    embed = discord.Embed(title=video_title(lang, job), colour=colour)
    if prompt := excerpt(job.request.prompt):
        embed.description = quoted(lang, prompt)
    status = state_text(lang, state)
    if state is JobState.QUEUED and update.queue_position is not None:
        status = lang.gettext("{status} (#{place})", status=status, place=update.queue_position + 1)
    embed.add_field(name=lang.gettext("Status"), value=status, inline=True)
    embed.add_field(name=lang.gettext("Model"), value=model_line(lang, job), inline=True)
    embed.add_field(
        name=lang.gettext("Elapsed"), value=duration_text(lang, update.elapsed), inline=True
    )
    # A mention in a field shows the member's name (and, in an embed, notifies nobody).
    embed.add_field(name=lang.gettext("Asked by"), value=f"<@{job.user_id}>", inline=True)
    if update.expected_end and not state.is_final:
        embed.add_field(
            name=lang.gettext("Expected"), value=timestamp(update.expected_end), inline=True
        )
    if update.note:
        embed.add_field(name=lang.gettext("Note"), value=lang.render(update.note), inline=False)
    if reason:
        embed.add_field(name=lang.gettext("Why"), value=lang.render(reason), inline=False)
    return embed


def result_text(lang: Language, job: Job) -> str:
    return lang.gettext(
        "{mention} your video #{id} is ready.", mention=f"<@{job.user_id}>", id=job.id
    )


def link_text(lang: Language, job: Job, url: str, expires_at: float | None) -> str:
    text = lang.gettext(
        "{mention} your video #{id} is ready, but it is too large to post here even after "
        "shrinking it: [download it]({url}).",
        mention=f"<@{job.user_id}>",
        id=job.id,
        url=url,
    )
    if expires_at:
        text += " " + lang.gettext("The link works until {time}.", time=timestamp(expires_at, "f"))
    return text


def failed_text(lang: Language, job: Job, reason: Text | str) -> str:
    return lang.gettext(
        "{mention} video #{id} did not work out. {reason}",
        mention=f"<@{job.user_id}>",
        id=job.id,
        reason=lang.render(reason),
    )


_LEFT_THIS = {
    Period.DAY: N_("**{s} s** of video left today, renews {when}."),
    Period.WEEK: N_("**{s} s** of video left this week, renews {when}."),
    Period.MONTH: N_("**{s} s** of video left this month, renews {when}."),
}
_USED_THIS = {
    Period.DAY: N_("Used today"),
    Period.WEEK: N_("Used this week"),
    Period.MONTH: N_("Used this month"),
}
BAR_CELLS = 12


def bar(fraction: float, cells: int = BAR_CELLS) -> str:
    """A bar of `cells` blocks, filled to `fraction` (0–1): how much of a quota is used."""
    filled = round(min(1.0, max(0.0, fraction)) * cells)
    return "█" * filled + "░" * (cells - filled)


def quota(lang: Language, allowance: Allowance, *, who: str | None = None) -> discord.Embed:
    """A member's quota: what is left, a bar of what is used, and when it renews."""
    embed = discord.Embed(title=lang.gettext("Video quota"), colour=BRAND)
    if allowance.blocked:
        why = allowance.block_reason or lang.gettext("blocked by a moderator")
        embed.description = (
            lang.gettext("{who} may not make videos here: {why}.", who=who, why=why)
            if who
            else lang.gettext("You may not make videos here: {why}.", why=why)
        )
        embed.colour = BAD
        return embed
    embed.description = lang.gettext(
        _LEFT_THIS[allowance.period],
        s=allowance.remaining_seconds,
        when=timestamp(allowance.renews_at),
    )
    total = allowance.base_seconds + allowance.granted_seconds
    used = allowance.used_seconds
    share = used / total if total else 1.0
    embed.add_field(
        name=lang.gettext(_USED_THIS[allowance.period]),
        value=lang.gettext(
            "`{bar}` {percent}% · {used} s of {total} s",
            bar=bar(share),
            percent=round(min(share, 1.0) * 100),
            used=used,
            total=total,
        ),
        inline=False,
    )
    embed.add_field(
        name=lang.gettext("Allowance"),
        value=lang.gettext(
            "{s} s ({source})", s=allowance.base_seconds, source=_source(lang, allowance.source)
        ),
    )
    if allowance.granted_seconds:
        embed.add_field(
            name=lang.gettext("Granted"), value=lang.gettext("+{s} s", s=allowance.granted_seconds)
        )
    embed.add_field(
        name=lang.gettext("Used"),
        value=lang.gettext("{s} s", s=allowance.used_seconds - allowance.held_seconds),
    )
    if allowance.held_seconds:
        embed.add_field(
            name=lang.gettext("In progress"), value=lang.gettext("{s} s", s=allowance.held_seconds)
        )
    if allowance.budget_remaining is not None:
        embed.add_field(
            name=lang.gettext("Server budget left"),
            value=lang.gettext("{s} s", s=max(0, allowance.budget_remaining)),
        )
    embed.add_field(
        name=lang.gettext("Renews"),
        value=f"{timestamp(allowance.renews_at, 'f')} ({timestamp(allowance.renews_at)})",
    )
    return embed


def quota_refusal(lang: Language, refused: QuotaExceeded) -> str:
    """Why a video was refused for lack of quota, for the member who asked: the domain's
    message, with a Discord timestamp (in the reader's own time zone) for when it renews."""
    text = refused.text
    if "renews" in text.params:
        text = replace(text, params={**text.params, "renews": timestamp(refused.renews_at, "f")})
    return lang.render(text)


def error_text(lang: Language, error: WanbotError) -> str:
    """What a member reads for one of our errors, in their language."""
    if isinstance(error, QuotaExceeded):
        return quota_refusal(lang, error)
    return lang.render(error.text)


def _source(lang: Language, source: str) -> str:
    if source.startswith("role:"):
        return lang.gettext("from {role}", role=f"<@&{source.removeprefix('role:')}>")
    if source == "override":
        return lang.gettext("set for you")
    if source == "default":
        return lang.gettext("server default")
    return source


def jobs_list(lang: Language, jobs: list[Job]) -> discord.Embed:
    embed = discord.Embed(title=lang.gettext("Your recent videos"), colour=BRAND)
    if not jobs:
        embed.description = lang.gettext("No videos yet. Try `/video animate`.")
        return embed
    lines = []
    for job in jobs:
        prompt = excerpt(job.request.prompt, 60)
        lines.append(
            f"**#{job.id}** {mode_of(lang, job)} · {state_text(lang, job.state)} · "
            f"{timestamp(job.created_at)}" + (f"\n  {quoted(lang, prompt)}" if prompt else "")
        )
    embed.description = "\n".join(lines)
    return embed


def job_detail(lang: Language, job: Job, responses: list[dict[str, Any]]) -> discord.Embed:
    embed = discord.Embed(title=video_title(lang, job), colour=BRAND)
    if prompt := excerpt(job.request.prompt, 1000):
        embed.description = quoted(lang, prompt)
    embed.add_field(name=lang.gettext("Status"), value=state_text(lang, job.state))
    embed.add_field(name=lang.gettext("Model"), value=model_line(lang, job))
    embed.add_field(name=lang.gettext("Asked"), value=timestamp(job.created_at))
    if job.request.seed is not None:
        embed.add_field(name=lang.gettext("Seed"), value=str(job.request.seed))
    if job.billed_seconds is not None:
        embed.add_field(
            name=lang.gettext("Counted"), value=lang.gettext("{s} s", s=job.billed_seconds)
        )
    if job.task_id:
        embed.add_field(name=lang.gettext("Provider task"), value=f"`{job.task_id}`", inline=False)
    why = lang.render(job.reason) if job.reason else job.error_message
    if why and job.state is not JobState.DELIVERED:
        embed.add_field(name=lang.gettext("Why"), value=excerpt(why, 1000), inline=False)
    calls = ", ".join(r["call"] for r in responses[-12:])
    if calls:
        embed.set_footer(
            text=lang.gettext(
                "Provider responses kept: {count} ({calls})", count=len(responses), calls=calls
            )
        )
    return embed


def evidence_file(job: Job, responses: list[dict[str, Any]]) -> discord.File:
    """What was asked and what the provider answered, as JSON, for a member to keep or show."""
    evidence = {
        "job": job.id,
        "request": job.request.body(),
        "task_id": job.task_id,
        "state": job.state.value,
        "responses": responses,
    }
    return discord.File(
        io.BytesIO(json.dumps(evidence, indent=2, ensure_ascii=False).encode()),
        filename=f"video-{job.id}-evidence.json",
    )


def models(lang: Language) -> discord.Embed:
    embed = discord.Embed(
        title=lang.gettext("Models"),
        description=lang.gettext("Quota is counted in seconds of video: a 5 s video uses 5 s."),
        colour=BRAND,
    )
    for spec in MODELS.values():
        sound = lang.gettext("with sound") if spec.has_sound else lang.gettext("silent")
        value = lang.gettext(
            "{summary}.\n{resolutions} · {durations} · {sound}",
            summary=lang.render(spec.summary),
            resolutions=", ".join(spec.resolutions),
            durations=lang.render(spec.duration_text),
            sound=sound,
        )
        if spec.templates:
            value += "\n" + lang.gettext("Effects: {names}", names=", ".join(spec.templates))
        embed.add_field(name=spec.name, value=value, inline=False)
    return embed
