"""What every audience's words are built from: colours, times, excerpts, a job in a few words."""

from __future__ import annotations

import discord

from bot.domain.catalog import MediaType
from bot.domain.jobs import Job, JobState
from bot.i18n import N_, Language

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
    if MediaType.VIDEO in types:
        # Translators: the kind of a video made by restyling or changing a member's clip.
        return lang.gettext("Edit")
    if request.references:
        # Translators: the kind of a video made from pictures and clips of people, pets or
        # things the member gave (reference-to-video).
        return lang.gettext("From references")
    if MediaType.FIRST_CLIP in types:
        if MediaType.LAST_FRAME in types:
            return lang.gettext("Continue to a last frame")
        return lang.gettext("Continue")
    if not types - {MediaType.DRIVING_AUDIO}:  # no picture: made from the prompt (text to video)
        if MediaType.DRIVING_AUDIO in types:
            # Translators: the kind of a video made from a prompt alone, driven by an audio.
            return lang.gettext("From text with audio")
        # Translators: the kind of a video made from a prompt alone, no picture.
        return lang.gettext("From text")
    if MediaType.LAST_FRAME in types:
        if MediaType.DRIVING_AUDIO in types:
            return lang.gettext("Interpolate with audio")
        return lang.gettext("Interpolate")
    if MediaType.DRIVING_AUDIO in types:
        return lang.gettext("Animate with audio")
    return lang.gettext("Animate")


def video_title(lang: Language, job: Job) -> str:
    return lang.gettext("Video #{id} · {mode}", id=job.id, mode=mode_of(lang, job))


def model_line(lang: Language, job: Job) -> str:
    return lang.gettext(
        "{model} · {resolution} · {seconds} s",
        model=job.model,
        resolution=job.resolution,
        seconds=job.duration,
    )
