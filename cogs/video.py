"""/video: what members use. Discord glue only: options → request, defer, engine, replies.

Order matters for the 3-second window and for "bad input costs nothing": everything that needs no
download is checked first (channel, words, options, attachment sizes and types from metadata,
quota), then the interaction is deferred, then the attachments are downloaded at once (their
signed URLs expire), checked from their bytes, uploaded, and the job is queued.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import MB, MODELS, MediaType, ModelSpec
from bot.errors import InvalidInput
from bot.inputs import (
    InputFile,
    check_inputs_fit,
    dedup_key,
    download,
    from_bytes,
    limit_bytes,
    stage,
)
from bot.media import at_least
from bot.requests import SEED_MAX, GenerationRequest, MediaItem, continuation_duration
from bot.video_edit import last_frame_png, tail_clip
from cogs import render
from cogs.checks import is_moderator, role_ids
from cogs.errors import send_private
from cogs.views import result_view
from storage.guild_settings import GuildSettings
from storage.jobs import Job, JobState, Requester
from storage.quotas import check_fits

if TYPE_CHECKING:
    from bot.app import WanBot

log = logging.getLogger(__name__)

FIRST, LAST = MediaType.FIRST_FRAME, MediaType.LAST_FRAME
AUDIO, CLIP = MediaType.DRIVING_AUDIO, MediaType.FIRST_CLIP
DEFAULT_MODEL = "wan2.7-i2v"
_CONTENT_FAMILY = {FIRST: "image/", LAST: "image/", AUDIO: "audio/", CLIP: "video/"}


def _model_choices(*, takes: frozenset[MediaType]) -> list[app_commands.Choice[str]]:
    """Models with a combination that includes `takes`, from the catalogue."""
    return [
        app_commands.Choice(name=f"{spec.name} — {spec.summary}"[:100], value=spec.name)
        for spec in MODELS.values()
        if any(takes <= combination for combination in spec.combinations)
    ]


RESOLUTIONS = [
    app_commands.Choice(name=r, value=r)
    for r in sorted(
        {r for spec in MODELS.values() for r in spec.resolutions}, key=lambda r: int(r[:-1])
    )
]
LONGEST = max(d for spec in MODELS.values() for d in spec.durations)
SHORTEST = min(d for spec in MODELS.values() for d in spec.durations)
Duration = app_commands.Range[int, SHORTEST, LONGEST]
Seed = app_commands.Range[int, 0, SEED_MAX]


# Options every video-making command shares, described once.
COMMON_OPTIONS = {
    "resolution": "720P or 1080P (480P on some models)",
    "duration": "Length in seconds",
    "seed": "Fix the seed to get the same result again",
    "negative_prompt": "What to avoid",
    "prompt_extend": "Let the model rewrite your prompt in more detail (default: yes)",
    "watermark": "Add an 'AI generated' mark",
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


@dataclass
class Ask:
    """What a member asked for, before anything is downloaded."""

    model: str | None
    media: dict[MediaType, discord.Attachment | None]
    prompt: str | None = None
    negative_prompt: str | None = None
    template: str | None = None
    resolution: str | None = None
    duration: int | None = None
    seed: int | None = None
    prompt_extend: bool = True
    watermark: bool = False
    given: dict[MediaType, bytes] = field(default_factory=dict)  # inputs the bot already holds


class VideoCog(commands.Cog):
    video = app_commands.Group(
        name="video",
        description="Make AI videos from your images, audio and clips.",
        guild_only=True,
    )

    def __init__(self, bot: WanBot) -> None:
        self.bot = bot

    # -- making videos ---------------------------------------------------------------------------

    @video.command(name="animate")
    @app_commands.describe(
        **COMMON_OPTIONS,
        image="The first frame: JPEG, PNG (no transparency), BMP or WEBP",
        prompt="What should happen in the video",
        audio="A voice or song (wav/mp3) to drive the motion and lip sync",
        model="Which model makes it (default: the server's, or wan2.7-i2v)",
    )
    @app_commands.choices(model=_model_choices(takes=frozenset({FIRST})), resolution=RESOLUTIONS)
    async def animate(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        prompt: str | None = None,
        audio: discord.Attachment | None = None,
        model: str | None = None,
        resolution: str | None = None,
        duration: Duration | None = None,
        seed: Seed | None = None,
        negative_prompt: str | None = None,
        prompt_extend: bool = True,
        watermark: bool = False,
    ) -> None:
        """Turn an image into a video, optionally driven by an audio track."""
        await self.make(
            interaction,
            Ask(
                model=model,
                media={FIRST: image, AUDIO: audio},
                prompt=prompt,
                negative_prompt=negative_prompt,
                resolution=resolution,
                duration=duration,
                seed=seed,
                prompt_extend=prompt_extend,
                watermark=watermark,
            ),
        )

    @video.command(name="interpolate")
    @app_commands.describe(
        **COMMON_OPTIONS | {"duration": "Length in seconds (wan2.7-i2v only)"},
        first="The first frame",
        last="The last frame",
        prompt="How to get from the first frame to the last",
        audio="A voice or song (wav/mp3) to drive it (wan2.7-i2v only)",
        model="wan2.7-i2v (2–15 s, sound) or wan2.2-kf2v-flash (5 s, silent)",
    )
    @app_commands.choices(
        model=_model_choices(takes=frozenset({FIRST, LAST})), resolution=RESOLUTIONS
    )
    async def interpolate(
        self,
        interaction: discord.Interaction,
        first: discord.Attachment,
        last: discord.Attachment,
        prompt: str | None = None,
        audio: discord.Attachment | None = None,
        model: str | None = None,
        resolution: str | None = None,
        duration: Duration | None = None,
        seed: Seed | None = None,
        negative_prompt: str | None = None,
        prompt_extend: bool = True,
        watermark: bool = False,
    ) -> None:
        """Make a video that moves from a first frame to a last frame."""
        await self.make(
            interaction,
            Ask(
                model=model,
                media={FIRST: first, LAST: last, AUDIO: audio},
                prompt=prompt,
                negative_prompt=negative_prompt,
                resolution=resolution,
                duration=duration,
                seed=seed,
                prompt_extend=prompt_extend,
                watermark=watermark,
            ),
        )

    @video.command(name="continue")
    @app_commands.describe(
        **COMMON_OPTIONS
        | {"duration": "Total length in seconds, the clip included (default: the clip + 5 s)"},
        clip="The clip to continue (mp4/mov, 2–10 s)",
        prompt="What happens next",
        last_frame="An image the video should end on",
    )
    @app_commands.choices(resolution=RESOLUTIONS)
    async def continue_(
        self,
        interaction: discord.Interaction,
        clip: discord.Attachment,
        prompt: str | None = None,
        last_frame: discord.Attachment | None = None,
        resolution: str | None = None,
        duration: Duration | None = None,
        seed: Seed | None = None,
        negative_prompt: str | None = None,
        prompt_extend: bool = True,
        watermark: bool = False,
    ) -> None:
        """Continue a video clip, optionally to a given last frame (wan2.7-i2v)."""
        await self.make(
            interaction,
            Ask(
                model=DEFAULT_MODEL,
                media={CLIP: clip, LAST: last_frame},
                prompt=prompt,
                negative_prompt=negative_prompt,
                resolution=resolution,
                duration=duration,
                seed=seed,
                prompt_extend=prompt_extend,
                watermark=watermark,
            ),
        )

    @video.command(name="effect")
    @app_commands.describe(
        image="The picture to apply the effect to",
        template="The effect",
        watermark="Add an 'AI generated' mark",
    )
    async def effect(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        template: str,
        watermark: bool = False,
    ) -> None:
        """Apply a ready-made effect to a picture (wanx2.1-kf2v-plus, 5 s)."""
        spec = next(m for m in MODELS.values() if m.templates)
        await self.make(
            interaction, Ask(spec.name, {FIRST: image}, template=template, watermark=watermark)
        )

    @effect.autocomplete("template")
    async def _templates(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        names = [t for spec in MODELS.values() for t in spec.templates]
        return [
            app_commands.Choice(name=t, value=t) for t in names if current.lower() in t.lower()
        ][:25]

    # -- about my videos -------------------------------------------------------------------------

    @video.command(name="quota")
    async def quota(self, interaction: discord.Interaction) -> None:
        """How many seconds of video you have left, and when it renews."""
        allowance = await self.bot.services.quotas.allowance(
            guild_id=interaction.guild_id,
            user_id=interaction.user.id,
            role_ids=role_ids(interaction.user),
        )
        await send_private(interaction, embed=render.quota(allowance))

    @video.command(name="jobs")
    async def jobs(self, interaction: discord.Interaction) -> None:
        """Your recent videos and where they are."""
        recent = await self.bot.services.jobs.for_user(
            interaction.guild_id, interaction.user.id, limit=10
        )
        await send_private(interaction, embed=render.jobs_list(recent))

    @video.command(name="job")
    @app_commands.describe(id="The video's number, e.g. 12 for #12")
    async def job(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        """Details of one of your videos; posts it again with its buttons if it is done."""
        job = await self._own_job(interaction, id)
        responses = await self.bot.services.jobs.responses(job.id)
        evidence = {
            "job": job.id,
            "request": job.request.body(),
            "task_id": job.task_id,
            "state": job.state.value,
            "responses": responses,
        }
        await interaction.response.send_message(
            embed=render.job_detail(job, responses),
            file=discord.File(
                io.BytesIO(json.dumps(evidence, indent=2, ensure_ascii=False).encode()),
                filename=f"video-{job.id}-evidence.json",
            ),
            ephemeral=True,
        )
        if job.state is JobState.DELIVERED and job.delivered_message_id:
            link = f"https://discord.com/channels/{job.guild_id}/{job.channel_id}/{job.delivered_message_id}"
            await interaction.followup.send(
                f"Video #{job.id}: {link}", view=result_view(job.id), ephemeral=True
            )

    @video.command(name="cancel")
    @app_commands.describe(job="The video's number, e.g. 12 for #12")
    async def cancel(
        self, interaction: discord.Interaction, job: app_commands.Range[int, 1]
    ) -> None:
        """Cancel one of your videos if it has not started yet."""
        await self.cancel_job(interaction, job)

    @video.command(name="models")
    async def models(self, interaction: discord.Interaction) -> None:
        """The models, what each takes, and what each costs in quota."""
        await send_private(interaction, embed=render.models())

    # -- the flow --------------------------------------------------------------------------------

    async def make(self, interaction: discord.Interaction, ask: Ask) -> Job:
        """Check, defer, download, check again, upload and queue; reply privately with the job number."""
        services = self.bot.services
        place = Place.of(interaction)
        guild = await self._guild_settings(place)
        draft = self._check_without_downloading(place, ask, guild)
        await self._check_quota(interaction, place, draft)

        await interaction.response.defer(ephemeral=True, thinking=True)
        inputs = await self._fetch_and_check(ask, draft)
        if (
            CLIP in inputs
            and ask.duration is None
            and inputs[CLIP].info
            and inputs[CLIP].info.duration
        ):
            longest = min(guild.max_duration or LONGEST, LONGEST)
            default = min(continuation_duration(inputs[CLIP].info.duration, draft.spec), longest)
            draft = draft.model_copy(update={"duration": default})
        check_inputs_fit(draft, inputs)
        request = await stage(services.client, draft, inputs)
        job = await self.bot.engine.enqueue(
            request, _requester(interaction, place), dedup_key=dedup_key(request, inputs)
        )
        interaction.extras["job_id"] = job.id
        await interaction.followup.send(
            f"Queued as video #{job.id} ({job.duration} s of your quota). Progress is posted in this channel.",
            ephemeral=True,
        )
        return job

    async def _guild_settings(self, place: Place) -> GuildSettings:
        if place.guild_id is None:
            return GuildSettings(0)
        return await self.bot.services.guild_settings.get(place.guild_id)

    def _check_without_downloading(
        self, place: Place, ask: Ask, guild: GuildSettings
    ) -> GenerationRequest:
        if not guild.channel_allowed(place.channel_id, place.parent_id):
            where = ", ".join(f"<#{c}>" for c in sorted(guild.allowed_channels))
            raise InvalidInput(f"Videos can be made in {where} on this server.")
        if word := guild.banned_word_in(ask.prompt, ask.negative_prompt):
            raise InvalidInput(
                f"The prompt uses “{word}”, which this server does not allow. Please rephrase it."
            )
        model = ask.model or guild.default_model or DEFAULT_MODEL
        spec = MODELS.get(model)
        resolution = ask.resolution
        if (
            resolution is None
            and guild.default_resolution
            and spec
            and guild.default_resolution in spec.resolutions
        ):
            resolution = guild.default_resolution
        duration = ask.duration
        if guild.max_duration:
            if duration is not None and duration > guild.max_duration:
                raise InvalidInput(
                    f"This server allows videos of at most {guild.max_duration} s.",
                    field="duration",
                )
            if (
                duration is None
                and spec
                and spec.duration_settable
                and spec.default_duration > guild.max_duration
            ):
                duration = max(d for d in spec.durations if d <= guild.max_duration)
        given = {t: a for t, a in ask.media.items() if a is not None}
        draft = GenerationRequest.build(
            model=model,
            prompt=ask.prompt,
            negative_prompt=ask.negative_prompt,
            media=tuple(MediaItem(type=t, url=a.url) for t, a in given.items())
            + tuple(MediaItem(type=t, url=f"attachment:{t.value}") for t in ask.given),
            template=ask.template,
            resolution=resolution,
            duration=duration,
            seed=ask.seed,
            prompt_extend=ask.prompt_extend,
            watermark=ask.watermark or guild.force_watermark,
        )
        for media_type, attachment in given.items():
            _check_metadata(media_type, attachment, draft.spec)
        return draft

    async def _check_quota(
        self, interaction: discord.Interaction, place: Place, draft: GenerationRequest
    ) -> None:
        """Refuse early, before any download, when the member's quota or waiting line is full."""
        services = self.bot.services
        allowance = await services.quotas.allowance(
            guild_id=place.guild_id, user_id=interaction.user.id, role_ids=place.role_ids
        )
        check_fits(allowance, draft.resolved_duration)
        cap = services.settings.max_waiting_per_user
        if self.bot.engine.waiting(place.guild_id, interaction.user.id) >= cap:
            raise InvalidInput(
                f"You already have {cap} videos waiting; wait for one to start before asking for more."
            )

    async def _fetch_and_check(
        self, ask: Ask, draft: GenerationRequest
    ) -> dict[MediaType, InputFile]:
        """Download every attachment at once and check the bytes, not the names."""
        spec = draft.spec
        given = {t: a for t, a in ask.media.items() if a is not None}
        session = self.bot.services.session
        downloads = await asyncio.gather(
            *(download(session, t, a.url, limit_bytes(t, spec)) for t, a in given.items())
        )
        blobs = dict(zip(given, downloads, strict=True)) | ask.given
        names = {t: a.filename for t, a in given.items()}
        checked = await asyncio.gather(
            *(
                asyncio.to_thread(from_bytes, t, names.get(t, f"{t.value}"), data, spec)
                for t, data in blobs.items()
            )
        )
        return dict(zip(blobs, checked, strict=True))

    # -- buttons ---------------------------------------------------------------------------------

    async def _own_job(self, interaction: discord.Interaction, job_id: int) -> Job:
        """A job the user may act on: their own, or any in this server for a moderator. In a DM
        (a video delivered there), only the requester's own."""
        job = await self.bot.services.jobs.get(job_id)
        in_dm = interaction.guild_id is None
        if job is None or (job.guild_id != interaction.guild_id and not in_dm):
            raise InvalidInput(f"There is no video #{job_id} in this server.")
        if job.user_id != interaction.user.id:
            guild = await self._guild_settings(Place.of(interaction))
            if in_dm or not is_moderator(interaction.user, guild):
                raise InvalidInput(
                    f"Video #{job_id} belongs to someone else; only they or a moderator can do that."
                )
        return job

    async def _place_for(self, interaction: discord.Interaction, job: Job) -> Place:
        """Where a button's new video counts: here, or for a DM, the job's server and channel
        (with the member's roles there, for role quotas)."""
        if interaction.guild_id is not None or job.guild_id is None:
            return Place.of(interaction)
        roles: tuple[int, ...] = ()
        guild = self.bot.get_guild(job.guild_id)
        if guild is not None:
            try:
                member = guild.get_member(job.user_id) or await guild.fetch_member(job.user_id)
                roles = role_ids(member)
            except discord.HTTPException:
                log.info("Could not read the roles of %s in %s", job.user_id, job.guild_id)
        return Place(job.guild_id, job.channel_id, None, roles)

    async def cancel_job(self, interaction: discord.Interaction, job_id: int) -> None:
        """Cancel a job: answer Discord first (a cancel may take a moment), then say what happened."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._own_job(interaction, job_id)
        outcome = await self.bot.engine.cancel(job_id)
        await send_private(interaction, content=outcome.message)

    async def retry(self, interaction: discord.Interaction, job_id: int) -> Job:
        """The same request with a new seed, for whoever pressed (their quota)."""
        job = await self._own_job(interaction, job_id)
        place = await self._place_for(interaction, job)
        original = job.request
        await self._check_quota(interaction, place, original)
        await interaction.response.defer(ephemeral=True, thinking=True)
        request = original.model_copy(update={"seed": random.randint(0, SEED_MAX)})
        return await self._queue_derived(
            interaction, place, request, note=f"a new take on #{job.id}"
        )

    async def extend(self, interaction: discord.Interaction, job_id: int) -> Job:
        """Continue a finished video with wan2.7's first clip, from its last 10 s at most."""
        job = await self._finished(interaction, job_id)
        original = job.request
        with tempfile.TemporaryDirectory(prefix="wanbot-extend-") as folder:
            video = await self._fetch_result(job, Path(folder))
            clip = Path(folder) / "tail.mp4"
            seconds = await asyncio.to_thread(tail_clip, video, clip, seconds=10.0)
            data = clip.read_bytes()
        spec = MODELS[DEFAULT_MODEL]
        ask = Ask(
            DEFAULT_MODEL,
            {},
            original.prompt,
            original.negative_prompt,
            resolution=_fit_resolution(job.resolution, spec),
            duration=continuation_duration(seconds, spec),
            watermark=original.watermark,
            given={CLIP: data},
        )
        place = await self._place_for(interaction, job)
        return await self._queue_from_bytes(interaction, place, ask, note=f"continuing #{job.id}")

    async def animate_last_frame(self, interaction: discord.Interaction, job_id: int) -> Job:
        """Start a new video from the last frame of a finished one."""
        job = await self._finished(interaction, job_id)
        original = job.request
        with tempfile.TemporaryDirectory(prefix="wanbot-frame-") as folder:
            video = await self._fetch_result(job, Path(folder))
            frame = await asyncio.to_thread(last_frame_png, video)
        spec = MODELS[DEFAULT_MODEL]
        frame = await asyncio.to_thread(at_least, frame, spec.image.min_side)
        ask = Ask(
            DEFAULT_MODEL,
            {},
            original.prompt,
            original.negative_prompt,
            resolution=_fit_resolution(job.resolution, spec),
            watermark=original.watermark,
            given={FIRST: frame},
        )
        place = await self._place_for(interaction, job)
        return await self._queue_from_bytes(
            interaction, place, ask, note=f"from the last frame of #{job.id}"
        )

    async def _finished(self, interaction: discord.Interaction, job_id: int) -> Job:
        job = await self._own_job(interaction, job_id)
        if job.state is not JobState.DELIVERED:
            raise InvalidInput(f"Video #{job.id} is not finished.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        return job

    async def _fetch_result(self, job: Job, folder: Path) -> Path:
        """The finished video: from the provider while its link lives, else from the posted message."""
        target = folder / "result.mp4"
        url = (
            job.result_url
            if job.result_url and (job.result_expires_at or 0) > time.time()
            else None
        )
        if url is not None:
            await self.bot.services.client.download(url, target)  # the provider's, bounded
            return target
        posted = await self._posted_video(job)
        if posted is None:
            raise InvalidInput(f"Video #{job.id} is no longer available to build on.")
        target.write_bytes(await posted.read())  # Discord's copy: within its upload limit
        return target

    async def _posted_video(self, job: Job) -> discord.Attachment | None:
        """The video as posted (in its channel, or else the requester's DM), once the
        provider's link has expired."""
        if not job.delivered_message_id:
            return None
        places: list[int] = [job.channel_id] if job.channel_id else []
        user = self.bot.get_user(job.user_id)
        if user is not None and user.dm_channel is not None:
            places.append(user.dm_channel.id)
        for channel_id in places:
            try:
                channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(
                    channel_id
                )
                message = await channel.fetch_message(job.delivered_message_id)  # type: ignore[union-attr]
            except discord.HTTPException:
                continue
            return next((a for a in message.attachments if a.filename.endswith(".mp4")), None)
        return None

    async def _queue_from_bytes(
        self, interaction: discord.Interaction, place: Place, ask: Ask, *, note: str
    ) -> Job:
        guild = await self._guild_settings(place)
        draft = self._check_without_downloading(place, ask, guild)
        await self._check_quota(interaction, place, draft)
        inputs = await self._fetch_and_check(ask, draft)
        check_inputs_fit(draft, inputs)
        request = await stage(self.bot.services.client, draft, inputs)
        return await self._queue_derived(interaction, place, request, note=note, inputs=inputs)

    async def _queue_derived(
        self,
        interaction: discord.Interaction,
        place: Place,
        request: GenerationRequest,
        *,
        note: str,
        inputs: dict[MediaType, InputFile] | None = None,
    ) -> Job:
        job = await self.bot.engine.enqueue(
            request,
            _requester(interaction, place),
            dedup_key=dedup_key(request, inputs) if inputs else None,
        )
        interaction.extras["job_id"] = job.id
        await interaction.followup.send(f"Queued as video #{job.id}, {note}.", ephemeral=True)
        return job


def _requester(interaction: discord.Interaction, place: Place) -> Requester:
    return Requester(
        user_id=interaction.user.id,
        guild_id=place.guild_id,
        channel_id=place.channel_id,
        role_ids=place.role_ids,
        filesize_limit=interaction.filesize_limit,
    )


def _check_metadata(media_type: MediaType, attachment: discord.Attachment, spec: ModelSpec) -> None:
    """What Discord tells us for free: the size, and the kind of file it thinks it is."""
    label = media_type.label.capitalize()
    limit = limit_bytes(media_type, spec)
    if attachment.size > limit:
        raise InvalidInput(
            f"{label} is {attachment.size / MB:.1f} MB; {spec.name} takes at most {limit / MB:g} MB.",
            field=media_type.value,
        )
    if attachment.size == 0:
        raise InvalidInput(f"{label} is empty (0 bytes).", field=media_type.value)
    family = _CONTENT_FAMILY[media_type]
    if attachment.content_type and not attachment.content_type.startswith(family):
        kind = {"image/": "an image", "audio/": "an audio file", "video/": "a video"}[family]
        raise InvalidInput(
            f"{label} should be {kind}, but “{attachment.filename}” is {attachment.content_type}.",
            field=media_type.value,
        )


def _fit_resolution(resolution: str, spec: ModelSpec) -> str:
    return resolution if resolution in spec.resolutions else spec.default_resolution
