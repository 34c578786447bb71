"""What the channel reads: a job's status message, and the words that come with its video.

These are in the server's language (a DM's, when the channel could not be reached); the buttons
under them are labelled here too.
"""

from __future__ import annotations

import discord

from bot.domain.jobs import Job, JobState
from bot.engine.notifier import Progress
from bot.i18n import N_, Language, Text
from cogs.render.pieces import (
    BAD,
    BRAND,
    GOOD,
    duration_text,
    excerpt,
    model_line,
    quoted,
    state_text,
    timestamp,
    video_title,
)

# The buttons' labels, in English and marked for the catalogs; each shows in the reader's language.
CANCEL = N_("Cancel")
RETRY = N_("Retry")
EXTEND = N_("Extend")
LAST_FRAME = N_("Animate last frame")
# Translators: the button that makes a video again with its prompt edited (same inputs and
# settings).
REMIX = N_("Remix")
DELETE = N_("Delete")
# Translators: the button that answers "Delete video #12?" with no, leave it there.
KEEP = N_("Keep")


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


def dm_closed(lang: Language, job: Job) -> str:
    """Said in the channel above what private mode meant for the requester's DM, when their DM
    could not be sent (they closed it to the server's members, or blocked the bot)."""
    return lang.gettext(
        "{mention} your DMs are closed to me, so video #{id} is posted here instead of in private.",
        mention=f"<@{job.user_id}>",
        id=job.id,
    )
