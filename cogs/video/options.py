"""What Discord hands /video, as the intake and the engine take it: options, places, files.

Option choices come from the catalogue (cogs/choices.py); a command's options become one `Ask`
(`ask_from`); the channel and the member's roles become a `Place` (a button on a video delivered
by DM counts in the job's own server, for a member of it now, looked up over REST); attachments,
given or found on a posted video, become intake `Attachment`s. Nothing here downloads or checks a
file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import discord
from discord import app_commands

from bot.domain.catalog import Slot
from bot.domain.errors import InvalidInput
from bot.domain.jobs import Job, Requester
from bot.domain.requests import MAX_VARIATIONS, SEED_MAX
from bot.intake.ask import Ask, Attachment
from bot.intake.references import reference_options
from cogs.checks import role_ids
from cogs.render import member

log = logging.getLogger(__name__)


Seed = app_commands.Range[int, 0, SEED_MAX]
Count = app_commands.Range[int, 1, MAX_VARIATIONS]

# The `count` option, on every video-making command.
COUNT_HELP = "How many videos to make (1–4)"


# Options every video-making command shares, described once (the resolution and duration, which
# depend on the models a command offers, are described from the catalogue: cogs/choices.py).
COMMON_OPTIONS = {
    "seed": "Fix it to make the same video again",
    "negative_prompt": "What to avoid",
    "prompt_extend": "Let the model enrich your prompt (default: yes)",
    "watermark": "Add an 'AI generated' mark",
    "count": COUNT_HELP,
}


# /video reference's own options (its resolution, ratio and duration are the catalogue's).
REFERENCE_OPTIONS = {
    "prompt": 'What happens; name them "Image 1", "Video 1"… (counted per kind, in order)',
    "reference1": "A picture or clip (mp4/mov, 1–30 s) of someone or something to put in it",
    "reference2": "Another picture or clip",
    "reference3": "Another picture or clip",
    "reference4": "Another picture or clip",
    "reference5": "Another picture or clip",
    "voice1": "A voice for reference1 (wav/mp3, 1–10 s): only how it sounds is used",
    "voice2": "A voice for reference2 (wav/mp3, 1–10 s)",
    "voice3": "A voice for reference3 (wav/mp3, 1–10 s)",
    "voice4": "A voice for reference4 (wav/mp3, 1–10 s)",
    "voice5": "A voice for reference5 (wav/mp3, 1–10 s)",
    "first_frame": "A picture the video starts from (its shape then wins over ratio)",
}


# /video edit's own options (its resolution, ratio and duration are the catalogue's).
EDIT_OPTIONS = {
    "clip": "The clip to edit (mp4/mov, 2–10 s)",
    "prompt": "The edit: what to change, or the style to give it",
    "reference1": "A picture to guide the edit (a style, a garment, a face…)",
    "reference2": "Another picture to guide the edit",
    "reference3": "Another picture to guide the edit",
    "reference4": "Another picture to guide the edit",
    "keep_sound": "Keep the clip's own sound (default: the model decides from your prompt)",
    "ratio": "The video's shape, width:height (default: close to the clip's)",
}


@dataclass(frozen=True)
class Place:
    """Where a request counts: the server whose rules and quota apply, and the channel that gets
    the video. A button pressed on a video delivered by DM acts in the job's own server."""

    guild_id: int | None
    channel_id: int | None
    parent_id: int | None = None  # the thread's channel, for the allowed-channels rule
    role_ids: tuple[int, ...] = ()

    @classmethod
    def of(cls, interaction: discord.Interaction) -> Place:
        return cls(
            interaction.guild_id,
            interaction.channel_id,
            getattr(interaction.channel, "parent_id", None),
            role_ids(interaction.user),
        )

    @classmethod
    async def for_job(
        cls, client: discord.Client, interaction: discord.Interaction, job: Job
    ) -> Place:
        """Where a button's new video counts: here, or for a DM, the job's server and channel,
        for a member of that server now (with their roles there, for role quotas). A member who
        left or was banned is refused: the server's quota is not theirs to spend any more."""
        if interaction.guild_id is not None or job.guild_id is None:
            return cls.of(interaction)
        now = await _member_now(client, job.guild_id, interaction.user.id, job.id)
        channel = client.get_channel(job.channel_id) if job.channel_id else None
        parent_id = getattr(channel, "parent_id", None)  # a thread: its channel's rule applies
        return cls(job.guild_id, job.channel_id, parent_id, role_ids(now))

    def requester(self, interaction: discord.Interaction, *, locale: str | None) -> Requester:
        """Who asks; `locale`: the language of the job's messages in the channel."""
        return Requester(
            user_id=interaction.user.id,
            guild_id=self.guild_id,
            channel_id=self.channel_id,
            role_ids=self.role_ids,
            filesize_limit=interaction.filesize_limit,
            locale=locale,
            member_locale=interaction.locale.value if interaction.locale else None,
        )


async def _member_now(
    client: discord.Client, guild_id: int, user_id: int, job_id: int
) -> discord.Member:
    """The member as Discord has them now (never a cache that may not know they left)."""
    guild = client.get_guild(guild_id)
    if guild is None:  # not ready yet, or the bot itself is no longer there
        log.warning("Guild %s is not available to check member %s", guild_id, user_id)
        raise InvalidInput(member.membership_not_checked(job_id))
    try:
        return await guild.fetch_member(user_id)
    except discord.NotFound:
        raise InvalidInput(member.no_longer_member(job_id)) from None
    except discord.HTTPException as error:
        log.warning("Could not look up member %s of guild %s: %s", user_id, guild_id, error)
        raise InvalidInput(member.membership_not_checked(job_id)) from None


# The options of a video-making command that the Ask takes by name (its files go in `media`).
_ASK_OPTIONS = (
    "prompt",
    "negative_prompt",
    "template",
    "resolution",
    "duration",
    "ratio",
    "shot_type",
    "seed",
    "prompt_extend",
    "watermark",
    "count",
)


def ask_from(
    options: Mapping[str, Any],
    media: Mapping[Slot, discord.Attachment | None],
    *,
    model: str | None,
) -> Ask:
    """The Ask for a /video command: its files as `media`, the rest of its options (the
    command's `locals()`) by name; an option the command does not have keeps the Ask's default."""
    chosen = {name: options[name] for name in _ASK_OPTIONS if name in options}
    return Ask(model=model, media=attached(media), **chosen)


def references_from(
    references: tuple[discord.Attachment | None, ...],
    voices: tuple[discord.Attachment | None, ...],
) -> dict[Slot, discord.Attachment | None]:
    """/video reference's files by slot: the references filled in, numbered in order, each
    with its voice (told picture or clip from what Discord says of it)."""
    described = {id(a): a for a in (*references, *voices) if a is not None}
    slots = reference_options(
        [attachment(a) if a else None for a in references],
        [attachment(a) if a else None for a in voices],
    )
    by_url = {a.url: a for a in described.values()}
    return {slot: by_url[source.url] for slot, source in slots.items()}


def attachment(file: discord.Attachment) -> Attachment:
    return Attachment(file.url, file.filename, file.size, file.content_type)


def attached(
    media: Mapping[Slot, discord.Attachment | None],
) -> dict[Slot, Attachment | str]:
    """The options a member filled in, as the intake takes them."""
    return {t: attachment(a) for t, a in media.items() if a is not None}


async def posted_video(client: discord.Client, job: Job) -> Attachment | None:
    """The video as posted (in its channel, or else the requester's DM), once the
    provider's link has expired."""
    if not job.delivered_message_id:
        return None
    places: list[int] = [job.channel_id] if job.channel_id else []
    user = client.get_user(job.user_id)
    if user is not None and user.dm_channel is not None:
        places.append(user.dm_channel.id)
    for channel_id in places:
        try:
            channel = client.get_channel(channel_id) or await client.fetch_channel(channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                continue
            message = await channel.fetch_message(job.delivered_message_id)
        except discord.HTTPException:
            continue
        video = next((a for a in message.attachments if a.filename.endswith(".mp4")), None)
        return attachment(video) if video is not None else None
    return None


async def delete_posted(client: discord.Client, job: Job, message_id: int) -> None:
    """Delete a message the bot posted for `job` where it was posted: the job's channel or else
    the requester's DM (where the notifier falls back to). A message already gone counts as
    deleted; one in a channel the bot can no longer reach is refused with a word to the member."""
    unreachable = False
    if job.channel_id:
        try:
            await (
                client.get_partial_messageable(job.channel_id)
                .get_partial_message(message_id)
                .delete()
            )
            return
        except discord.NotFound:
            pass  # gone, or never here: it may be in the DM
        except discord.Forbidden:
            unreachable = True
    try:
        dm = await client.create_dm(discord.Object(id=job.user_id))
    except discord.HTTPException:
        dm = None  # no such user any more: nothing of theirs to look in
    if dm is not None:
        try:
            await dm.get_partial_message(message_id).delete()
            return
        except discord.NotFound:
            pass
    if unreachable:
        raise InvalidInput(member.cannot_delete(job.id))
