"""What a member reads in replies only they see: their quota, their videos, one video in detail
with its evidence file, and the models."""

from __future__ import annotations

import io
import json
from typing import Any

import discord

from bot.domain.catalog import MODELS, RETIRED
from bot.domain.guild import GuildSettings
from bot.domain.jobs import Job, JobState
from bot.domain.member import MemberSettings
from bot.domain.quota import Allowance, Period
from bot.i18n import N_, Language, Text, _, _n
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
    if job.by_dm:  # private mode: the link to a DM needs its channel; the member knows where
        return lang.gettext("Video #{id} was sent to your DMs.", id=job.id)
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


# -- message menus (cogs/video/menus.py) ----------------------------------------------------------

# The modal's field for what the video should not show (the negative prompt).
NEGATIVE_PROMPT = _("What to avoid")


def picked_from(filename: str, among: int, family: str) -> Text | None:
    """Which file of a message a menu takes, when it has several of that kind (None: one only)."""
    if among < 2:
        return None
    if family == "video/":
        # Translators: in the window that asks for the prompt: the message a member chose has
        # {n} videos, and the first, named {filename}, is the one continued.
        return _n(
            "That message has {n} video: the first, “{filename}”, is used.",
            "That message has {n} videos: the first, “{filename}”, is used.",
            among,
            filename=filename,
        )
    # Translators: in the window that asks for the prompt: the message a member chose has {n}
    # images, and the first, named {filename}, is the one used.
    return _n(
        "That message has {n} image: the first, “{filename}”, is used.",
        "That message has {n} images: the first, “{filename}”, is used.",
        among,
        filename=filename,
    )


def window_expired(lang: Language) -> str:
    """A prompt window sent after it expired, or after the bot restarted."""
    # Translators: the window that asks for a prompt, opened from a message's menu (right-click
    # → Apps), was sent too late or the bot restarted while it was open.
    return lang.gettext(
        "That window has expired (or the bot restarted while it was open), so nothing was made "
        "or charged. Choose the message's menu again: right-click it → Apps."
    )


# Remix: the form that edits a video's prompt, and what is said about it.
# Translators: the labels of the two boxes in the Remix form (at most 45 characters).
REMIX_PROMPT = N_("Prompt")
REMIX_NEGATIVE_PROMPT = N_("Negative prompt (what to avoid)")


def remix_title(lang: Language, job_id: int) -> str:
    """The Remix form's title (Discord shows at most 45 characters)."""
    # Translators: the title of the form that edits a video's prompt; at most 45 characters.
    return lang.render(_("Remix video #{id}", id=job_id))[:45]


def remix_of(job_id: int) -> Text:
    return _("a remix of #{id}", id=job_id)


def nothing_to_remix(job_id: int) -> Text:
    # Translators: an effect template (like "mech1") makes its video without a prompt.
    return _(
        "Video #{id} was made with an effect template, which takes no prompt: there is nothing "
        "to remix. Retry makes it again.",
        id=job_id,
    )


def prompt_too_long_to_edit(job_id: int, limit: int) -> Text:
    # Translators: Discord's forms hold at most {limit} characters in a box.
    return _(
        "The prompt of video #{id} is longer than a Discord form can hold ({limit} characters), "
        "so it cannot be edited here: make the new video with /video and your edited prompt.",
        id=job_id,
        limit=limit,
    )


# -- personal defaults and private mode (/video settings) ---------------------------------------


def queued_by_dm(lang: Language, jobs: list[Job], note: Text | None = None) -> str:
    """The private reply once a video (or several variations) in private mode is in line."""
    if len(jobs) > 1:
        return lang.gettext(
            # Translators: {ids} lists the videos' numbers, e.g. "#12, #13, #14".
            "Queued as videos {ids} ({s} s of your quota). Private mode: each comes to your DMs"
            " as it finishes.",
            ids=", ".join(f"#{job.id}" for job in jobs),
            s=sum(job.duration for job in jobs),
        )
    job = jobs[0]
    if note:
        return lang.gettext(
            "Queued as video #{id}, {note}. Private mode: it comes to your DMs.",
            id=job.id,
            note=lang.render(note),
        )
    return lang.gettext(
        "Queued as video #{id} ({s} s of your quota). Private mode: its progress and the video"
        " come to your DMs.",
        id=job.id,
        s=job.duration,
    )


def with_notes(lang: Language, reply: str, notes: tuple[Text, ...]) -> str:
    """A reply with what it should say of the member's own defaults, one line each."""
    return "\n".join([reply, *(lang.render(note) for note in notes)])


def my_settings(
    lang: Language, mine: MemberSettings, guild: GuildSettings, *, saved: bool = False
) -> discord.Embed:
    """A member's own defaults in this server (/video settings), and what applies where they
    set none."""
    embed = discord.Embed(title=lang.gettext("Your video settings on this server"), colour=BRAND)
    lines = [
        lang.gettext(
            "What you type in a command comes first, then these, then the server's defaults."
        )
    ]
    if saved:
        lines.insert(0, lang.gettext("Saved."))
    embed.description = "\n".join(lines)
    server_default = guild.default_model or lang.gettext("the bot's choice for your inputs")
    embed.add_field(
        name=lang.gettext("Model"),
        value=mine.model
        or lang.gettext("not set (the server's default: {model})", model=server_default),
    )
    embed.add_field(
        name=lang.gettext("Resolution"),
        value=mine.resolution
        or lang.gettext(
            "not set (the server's default: {resolution})",
            resolution=guild.default_resolution or lang.gettext("the model's own"),
        ),
    )
    embed.add_field(
        name=lang.gettext("Duration"),
        value=lang.gettext("{s} s", s=mine.duration)
        if mine.duration
        else lang.gettext("not set (the model's default)"),
    )
    if not guild.private_mode:
        private = lang.gettext("not allowed on this server (videos are posted in the channel)")
    elif mine.private:
        private = lang.gettext("on: your videos come to your DMs")
    else:
        private = lang.gettext("off: your videos are posted in the channel")
    embed.add_field(name=lang.gettext("Private mode"), value=private, inline=False)
    return embed


SETTINGS_ONLY_IN_A_SERVER = _("Your video settings are kept per server: use this in a server.")
NO_SUCH_SETTING = _("Choose what to reset from the list: a setting, or everything.")
