"""What a member reads in replies only they see: their quota, their videos, one video in detail
with its evidence file, and the models."""

from __future__ import annotations

import io
import json
from typing import Any

import discord

from bot.domain.catalog import MODELS, RETIRED
from bot.domain.jobs import Job, JobState
from bot.domain.quota import Allowance, Period
from bot.i18n import N_, Language, Text, _
from cogs.render.pieces import (
    BAD,
    BRAND,
    excerpt,
    mode_of,
    model_line,
    quoted,
    state_text,
    timestamp,
    video_title,
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


def _source(lang: Language, source: str) -> str:
    if source.startswith("role:"):
        return lang.gettext("from {role}", role=f"<@&{source.removeprefix('role:')}>")
    if source == "override":
        return lang.gettext("set for you")
    if source == "default":
        return lang.gettext("server default")
    return source


def _status(lang: Language, job: Job) -> str:
    """Where a job is; a posted video that was deleted says so."""
    return lang.gettext("Deleted") if job.deleted else state_text(lang, job.state)


def jobs_list(lang: Language, jobs: list[Job]) -> discord.Embed:
    embed = discord.Embed(title=lang.gettext("Your recent videos"), colour=BRAND)
    if not jobs:
        embed.description = lang.gettext("No videos yet. Try `/video animate`.")
        return embed
    lines = []
    for job in jobs:
        prompt = excerpt(job.request.prompt, 60)
        lines.append(
            f"**#{job.id}** {mode_of(lang, job)} · {_status(lang, job)} · "
            f"{timestamp(job.created_at)}" + (f"\n  {quoted(lang, prompt)}" if prompt else "")
        )
    embed.description = "\n".join(lines)
    return embed


def job_detail(lang: Language, job: Job, responses: list[dict[str, Any]]) -> discord.Embed:
    embed = discord.Embed(title=video_title(lang, job), colour=BRAND)
    if prompt := excerpt(job.request.prompt, 1000):
        embed.description = quoted(lang, prompt)
    embed.add_field(name=lang.gettext("Status"), value=_status(lang, job))
    if job.deleted_at is not None:
        embed.add_field(
            name=lang.gettext("Deleted"),
            # Translators: when a posted video was deleted ("3 hours ago"), and who deleted it.
            value=lang.gettext(
                "{when} by {who}", when=timestamp(job.deleted_at), who=f"<@{job.deleted_by}>"
            ),
        )
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


def models(lang: Language, unavailable: frozenset[str] = RETIRED) -> discord.Embed:
    """The models a member can use (not the `unavailable` ones: retired, or hidden here)."""
    embed = discord.Embed(
        title=lang.gettext("Models"),
        description=lang.gettext("Quota is counted in seconds of video: a 5 s video uses 5 s."),
        colour=BRAND,
    )
    for spec in MODELS.values():
        if spec.name in unavailable:
            continue
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
        if spec.billed_input_cap is not None:
            value += "\n" + lang.gettext(
                # Translators: the clips a member gives this model (references, or the clip to
                # edit) count in their quota too, as the provider bills them; {seconds} is the
                # most they count for ("5").
                "Your clips' seconds count too (at most {seconds} s).",
                seconds=f"{spec.billed_input_cap:g}",
            )
        embed.add_field(name=spec.name, value=value, inline=False)
    return embed


# -- one's own videos: the reply to a new one, a link, and what stops a button -------------------


def queued(lang: Language, job: Job, note: Text | None = None) -> str:
    """The private reply once a video is in line (with `note`, for a button's new video)."""
    if note:
        return lang.gettext("Queued as video #{id}, {note}.", id=job.id, note=lang.render(note))
    return lang.gettext(
        "Queued as video #{id} ({s} s of your quota). Progress is posted in this channel.",
        id=job.id,
        s=_held(job),
    )


def queued_many(lang: Language, jobs: list[Job]) -> str:
    """The private reply once several variations are in line: their numbers, their seconds."""
    return lang.gettext(
        # Translators: {ids} lists the videos' numbers, e.g. "#12, #13, #14".
        "Queued as videos {ids} ({s} s of your quota). Each is posted in this channel as it "
        "finishes.",
        ids=", ".join(f"#{job.id}" for job in jobs),
        s=sum(_held(job) for job in jobs),
    )


def _held(job: Job) -> int:
    """The seconds a queued video holds of its requester's quota: its length, or more where
    its input clips are billed too (a reference-to-video); an earlier result reused holds none
    but is still told by its length."""
    return max(job.reserved_seconds, job.duration)


def video_link(lang: Language, job: Job) -> str:
    link = (
        f"https://discord.com/channels/{job.guild_id}/{job.channel_id}/{job.delivered_message_id}"
    )
    return lang.gettext("Video #{id}: {link}", id=job.id, link=link)


def new_take(job_id: int) -> Text:
    return _("a new take on #{id}", id=job_id)


def continuing(job_id: int) -> Text:
    return _("continuing #{id}", id=job_id)


def from_last_frame(job_id: int) -> Text:
    return _("from the last frame of #{id}", id=job_id)


def not_finished(job_id: int) -> Text:
    return _("Video #{id} is not finished.", id=job_id)


def no_such_video(job_id: int) -> Text:
    return _("There is no video #{id} in this server.", id=job_id)


def not_yours(job_id: int) -> Text:
    return _(
        "Video #{id} belongs to someone else; only they or a moderator can do that.", id=job_id
    )


def no_longer_member(job_id: int) -> Text:
    # Translators: a member pressed a button (Retry, Extend…) on a video sent to their
    # direct messages, after leaving (or being banned from) the server it was made in.
    return _(
        "You are no longer a member of the server where video #{id} was made, so its "
        "buttons cannot make new videos.",
        id=job_id,
    )


def membership_not_checked(job_id: int) -> Text:
    return _(
        "Could not check that you are still a member of the server where video #{id} was made; "
        "try again shortly.",
        id=job_id,
    )


def was_deleted(job_id: int) -> Text:
    # Translators: a member pressed Retry, Extend… on a video that was deleted.
    return _("Video #{id} was deleted, so its buttons no longer work.", id=job_id)


# -- deleting one's own video --------------------------------------------------------------------


def confirm_delete(lang: Language, job: Job) -> str:
    """The question before a video is deleted (a misclick must not destroy it)."""
    return lang.gettext(
        "Delete video #{id}? The video and its status message disappear for everyone, and this "
        "cannot be undone. The {s} s it used stay counted.",
        id=job.id,
        s=job.billed_seconds if job.billed_seconds is not None else job.duration,
    )


def deleting(lang: Language, job_id: int) -> str:
    return lang.gettext("Deleting video #{id}…", id=job_id)


def deleted(lang: Language, job_id: int) -> str:
    return lang.gettext("Video #{id} is deleted.", id=job_id)


def kept(lang: Language, job_id: int) -> str:
    return lang.gettext("Video #{id} stays.", id=job_id)


def already_deleted(job_id: int) -> Text:
    return _("Video #{id} is already deleted.", id=job_id)


def not_posted_yet(job_id: int) -> Text:
    return _(
        "Video #{id} has not been posted yet, so there is nothing to delete; to stop it, use "
        "its Cancel button or `/video cancel`.",
        id=job_id,
    )


def never_posted(job_id: int) -> Text:
    return _("Video #{id} was never posted, so there is nothing to delete.", id=job_id)


def cannot_delete(job_id: int) -> Text:
    # Translators: the bot may no longer see or manage the channel the video was posted in.
    return _(
        "Could not delete video #{id}: the bot cannot reach the channel it was posted in. Ask a "
        "moderator to remove the message, or try again later.",
        id=job_id,
    )
