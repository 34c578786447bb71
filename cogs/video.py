"""/video: what members use. Discord glue only: options → intake, defer, engine, replies.

Order matters for the 3-second window and for "bad input costs nothing": everything that needs no
download is checked first (the intake's draft: channel, words, options, attachment sizes and types
from metadata; then the quota), then the interaction is deferred, then the intake downloads the
attachments at once (their signed URLs expire), checks their bytes and uploads them, and the job
is queued.

Buttons that make a video (Retry, Extend, Animate last frame) go through the same `_admit`; in a
DM, they act in the job's server, for a member of it now (`Place.for_job`).
"""

from __future__ import annotations

import random

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.catalog import MediaType
from bot.domain.errors import InvalidInput
from bot.domain.guild import GuildSettings
from bot.domain.jobs import Job, JobState
from bot.domain.quota import check_fits
from bot.domain.requests import SEED_MAX, GenerationRequest
from bot.engine.runner import QueueFull
from bot.i18n import Text, _
from bot.intake.intake import Ask, Intake, again
from cogs import choices, render
from cogs.checks import is_moderator, role_ids
from cogs.choices import ANIMATE, CONTINUE, EFFECT, INTERPOLATE, optional_help
from cogs.errors import send_private
from cogs.languages import member_language, server_locale
from cogs.options import COMMON_OPTIONS, Place, Seed, attached, posted_video
from cogs.served import ServedBot
from cogs.views import result_view

FIRST, LAST = MediaType.FIRST_FRAME, MediaType.LAST_FRAME
AUDIO, CLIP = MediaType.DRIVING_AUDIO, MediaType.FIRST_CLIP


class VideoCog(commands.Cog):
    video = app_commands.Group(
        name="video",
        description="Make AI videos from your images, audio and clips.",
        guild_only=True,
    )

    def __init__(self, bot: ServedBot) -> None:
        self.bot = bot

    # -- making videos ---------------------------------------------------------------------------

    @video.command(name="animate")
    @app_commands.describe(
        **COMMON_OPTIONS | choices.option_help(ANIMATE),
        image="The first frame: JPEG, PNG (no transparency), BMP or WEBP",
        prompt="What should happen in the video",
        audio=optional_help(
            ANIMATE, AUDIO, _("A voice or song (wav/mp3) to drive the motion and lip sync")
        ),
    )
    @app_commands.choices(**choices.option_choices(ANIMATE))
    async def animate(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        prompt: str | None = None,
        audio: discord.Attachment | None = None,
        model: str | None = None,
        resolution: str | None = None,
        duration: choices.AnimateDuration | None = None,
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
                media=attached({FIRST: image, AUDIO: audio}),
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
        **COMMON_OPTIONS | choices.option_help(INTERPOLATE),
        first="The first frame",
        last="The last frame",
        prompt="How to get from the first frame to the last",
        audio=optional_help(INTERPOLATE, AUDIO, _("A voice or song (wav/mp3) to drive it")),
    )
    @app_commands.choices(**choices.option_choices(INTERPOLATE))
    async def interpolate(
        self,
        interaction: discord.Interaction,
        first: discord.Attachment,
        last: discord.Attachment,
        prompt: str | None = None,
        audio: discord.Attachment | None = None,
        model: str | None = None,
        resolution: str | None = None,
        duration: choices.InterpolateDuration | None = None,
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
                media=attached({FIRST: first, LAST: last, AUDIO: audio}),
                prompt=prompt,
                negative_prompt=negative_prompt,
                resolution=resolution,
                duration=duration,
                seed=seed,
                prompt_extend=prompt_extend,
                watermark=watermark,
            ),
        )

    @video.command(name="continue", description=choices.continue_help())
    @app_commands.describe(
        **COMMON_OPTIONS | choices.option_help(CONTINUE, continuation=True),
        clip="The clip to continue (mp4/mov, 2–10 s)",
        prompt="What happens next",
        last_frame=optional_help(CONTINUE, LAST, _("An image the video should end on")),
    )
    @app_commands.choices(**choices.option_choices(CONTINUE))
    async def continue_(
        self,
        interaction: discord.Interaction,
        clip: discord.Attachment,
        prompt: str | None = None,
        last_frame: discord.Attachment | None = None,
        resolution: str | None = None,
        duration: choices.ContinueDuration | None = None,
        seed: Seed | None = None,
        negative_prompt: str | None = None,
        prompt_extend: bool = True,
        watermark: bool = False,
    ) -> None:
        """Continue a video clip, optionally to a given last frame."""
        await self.make(
            interaction,
            Ask(
                model=CONTINUE.default.name,
                media=attached({CLIP: clip, LAST: last_frame}),
                prompt=prompt,
                negative_prompt=negative_prompt,
                resolution=resolution,
                duration=duration,
                seed=seed,
                prompt_extend=prompt_extend,
                watermark=watermark,
            ),
        )

    @video.command(name="effect", description=choices.effect_help())
    @app_commands.describe(
        image="The picture to apply the effect to",
        template="The effect",
        watermark="Add an 'AI generated' mark",
    )
    @app_commands.choices(template=choices.template_choices(EFFECT))
    async def effect(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        template: str,
        watermark: bool = False,
    ) -> None:
        """Apply a ready-made effect to a picture."""
        spec = EFFECT.model_for(template)
        await self.make(
            interaction,
            Ask(spec.name, attached({FIRST: image}), template=template, watermark=watermark),
        )

    # -- about my videos -------------------------------------------------------------------------

    @video.command(name="quota")
    async def quota(self, interaction: discord.Interaction) -> None:
        """How many seconds of video you have left, and when it renews."""
        allowance = await self.bot.services.quotas.allowance(
            guild_id=interaction.guild_id,
            user_id=interaction.user.id,
            role_ids=role_ids(interaction.user),
        )
        await send_private(interaction, embed=render.quota(member_language(interaction), allowance))

    @video.command(name="jobs")
    async def jobs(self, interaction: discord.Interaction) -> None:
        """Your recent videos and where they are."""
        recent = await self.bot.services.jobs.for_user(
            interaction.guild_id, interaction.user.id, limit=10
        )
        await send_private(
            interaction, embed=render.jobs_list(member_language(interaction), recent)
        )

    @video.command(name="job")
    @app_commands.describe(id="The video's number, e.g. 12 for #12")
    async def job(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        """Details of one of your videos; posts it again with its buttons if it is done."""
        job = await self._own_job(interaction, id)
        lang = member_language(interaction)
        responses = await self.bot.services.jobs.responses(job.id)
        await interaction.response.send_message(
            embed=render.job_detail(lang, job, responses),
            file=render.evidence_file(job, responses),
            ephemeral=True,
        )
        if job.state is JobState.DELIVERED and job.delivered_message_id:
            link = f"https://discord.com/channels/{job.guild_id}/{job.channel_id}/{job.delivered_message_id}"
            await interaction.followup.send(
                lang.gettext("Video #{id}: {link}", id=job.id, link=link),
                view=result_view(job.id, lang),
                ephemeral=True,
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
        await send_private(interaction, embed=render.models(member_language(interaction)))

    # -- the flow --------------------------------------------------------------------------------

    @property
    def intake(self) -> Intake:
        services = self.bot.services
        return Intake(services.session, services.keys, workers=services.workers)

    async def make(self, interaction: discord.Interaction, ask: Ask) -> Job:
        """Check, defer, download, check again, upload and queue; reply privately with the job number."""
        place = Place.of(interaction)
        guild, request = await self._admit(interaction, place, ask)

        await interaction.response.defer(ephemeral=True, thinking=True)
        staged = await self.intake.take_ask(request, ask, guild)
        return await self._queue(
            interaction, place, guild, staged.request, key=staged.key, dedup_key=staged.dedup_key
        )

    async def _admit(
        self, interaction: discord.Interaction, place: Place, ask: Ask
    ) -> tuple[GuildSettings, GenerationRequest]:
        """What every new video goes through before any download, from /video or a button: the
        server's settings as they are now (channels, banned words, watermark, longest duration,
        defaults), then the member's quota (a block included) and waiting line."""
        guild = await self._guild_settings(place)
        request = place.draft(ask, guild)
        await self._check_quota(interaction, place, request)
        return guild, request

    async def _guild_settings(self, place: Place) -> GuildSettings:
        if place.guild_id is None:
            return GuildSettings(0)
        return await self.bot.services.guild_settings.get(place.guild_id)

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
        if await self.bot.engine.waiting(place.guild_id, interaction.user.id) >= cap:
            raise QueueFull(cap)

    # -- buttons ---------------------------------------------------------------------------------

    async def _own_job(self, interaction: discord.Interaction, job_id: int) -> Job:
        """A job the user may act on: their own, or any in this server for a moderator. In a DM
        (a video delivered there), only the requester's own."""
        job = await self.bot.services.jobs.get(job_id)
        in_dm = interaction.guild_id is None
        if job is None or (job.guild_id != interaction.guild_id and not in_dm):
            raise InvalidInput(_("There is no video #{id} in this server.", id=job_id))
        if job.user_id != interaction.user.id:
            guild = await self._guild_settings(Place.of(interaction))
            if in_dm or not is_moderator(interaction.user, guild):
                raise InvalidInput(
                    _(
                        "Video #{id} belongs to someone else; only they or a moderator can do that.",
                        id=job_id,
                    )
                )
        return job

    async def cancel_job(self, interaction: discord.Interaction, job_id: int) -> None:
        """Cancel a job: answer Discord first (a cancel may take a moment), then say what happened."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._own_job(interaction, job_id)
        outcome = await self.bot.engine.cancel(job_id)
        await send_private(
            interaction, content=member_language(interaction).render(outcome.message)
        )

    async def retry(self, interaction: discord.Interaction, job_id: int) -> Job:
        """The same request with a new seed, for whoever pressed (their quota)."""
        job = await self._own_job(interaction, job_id)
        place = await Place.for_job(self.bot, interaction, job)
        guild, request = await self._admit(
            interaction, place, again(job, seed=random.randint(0, SEED_MAX))
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        # Its inputs were uploaded with the first take's key, so the new take goes there too.
        key = self.bot.services.keys.named(job.dashscope_key)
        return await self._queue(
            interaction,
            place,
            guild,
            request,
            key=job.dashscope_key if key is None else key.name,
            note=_("a new take on #{id}", id=job.id),
            earlier=job,
        )

    async def extend(self, interaction: discord.Interaction, job_id: int) -> Job:
        """Continue a finished video with wan2.7's first clip, from its last 10 s at most."""
        job, place = await self._finished(interaction, job_id)
        ask = await self.intake.continuation(job, lambda: posted_video(self.bot, job))
        return await self._build_on(
            interaction, job, place, ask, note=_("continuing #{id}", id=job.id)
        )

    async def animate_last_frame(self, interaction: discord.Interaction, job_id: int) -> Job:
        """Start a new video from the last frame of a finished one."""
        job, place = await self._finished(interaction, job_id)
        ask = await self.intake.from_last_frame(job, lambda: posted_video(self.bot, job))
        return await self._build_on(
            interaction, job, place, ask, note=_("from the last frame of #{id}", id=job.id)
        )

    async def _finished(self, interaction: discord.Interaction, job_id: int) -> tuple[Job, Place]:
        """A finished video to build on, and where the new one counts (a member who left is
        refused here, before the video is fetched)."""
        job = await self._own_job(interaction, job_id)
        if job.state is not JobState.DELIVERED:
            raise InvalidInput(_("Video #{id} is not finished.", id=job.id))
        place = await Place.for_job(self.bot, interaction, job)
        await interaction.response.defer(ephemeral=True, thinking=True)
        return job, place

    async def _build_on(
        self, interaction: discord.Interaction, job: Job, place: Place, ask: Ask, *, note: Text
    ) -> Job:
        """Queue what intake made of a finished video, where and for whom the button says."""
        guild, request = await self._admit(interaction, place, ask)
        staged = await self.intake.take_ask(request, ask, guild)
        return await self._queue(
            interaction,
            place,
            guild,
            staged.request,
            key=staged.key,
            dedup_key=staged.dedup_key,
            note=note,
            earlier=job,
        )

    async def _queue(
        self,
        interaction: discord.Interaction,
        place: Place,
        guild: GuildSettings,
        request: GenerationRequest,
        *,
        key: str | None,
        dedup_key: str | None = None,
        note: Text | None = None,
        earlier: Job | None = None,
    ) -> Job:
        """Queue the request on the key its inputs were uploaded with, its channel messages in
        `guild`'s language; reply privately with its number (and `note`, for a button's, pressed
        on the `earlier` video)."""
        locale = server_locale(interaction, guild, earlier=earlier)
        requester = place.requester(interaction, locale=locale)
        job = await self.bot.engine.enqueue(request, requester, key=key, dedup_key=dedup_key)
        interaction.extras["job_id"] = job.id
        lang = member_language(interaction)
        await interaction.followup.send(
            lang.gettext("Queued as video #{id}, {note}.", id=job.id, note=lang.render(note))
            if note
            else lang.gettext(
                "Queued as video #{id} ({s} s of your quota). Progress is posted in this channel.",
                id=job.id,
                s=job.duration,
            ),
            ephemeral=True,
        )
        return job
