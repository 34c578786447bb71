"""The /video command group: animate, interpolate, continue, text, effect, quota, jobs, job,
cancel, delete, models, settings (cogs/video/settings.py).

Discord glue only: each video-making command turns its options into one `Ask` (`ask_from`) and
hands it to the flow (cogs/video/flow.py); the buttons' work is mixed in from
cogs/video/buttons.py, so cogs/views.py finds it on this cog by name.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.catalog import MediaType
from bot.domain.jobs import Job, JobState
from bot.i18n import _
from bot.intake.ask import Ask
from cogs import choices
from cogs.checks import role_ids
from cogs.choices import (
    ANIMATE,
    CONTINUE,
    EDIT,
    EFFECT,
    INTERPOLATE,
    REFERENCE,
    TEXT,
    optional_help,
)
from cogs.errors import send_private
from cogs.languages import member_language
from cogs.render import member
from cogs.served import ServedBot
from cogs.video.flow import Flow
from cogs.video.options import (
    COMMON_OPTIONS,
    COUNT_HELP,
    EDIT_OPTIONS,
    REFERENCE_OPTIONS,
    Count,
    Place,
    Seed,
    ask_from,
    references_from,
)
from cogs.video.remix import RemixActions
from cogs.video.settings import RESET_CHOICES, member_settings
from cogs.views import result_view

FIRST, LAST = MediaType.FIRST_FRAME, MediaType.LAST_FRAME
AUDIO, CLIP = MediaType.DRIVING_AUDIO, MediaType.FIRST_CLIP


class VideoCog(RemixActions, commands.Cog):
    video = app_commands.Group(
        name="video",
        description="Make AI videos from your images, audio and clips.",
        guild_only=True,
    )

    def __init__(self, bot: ServedBot) -> None:
        self.bot = bot
        self.flow = Flow(bot)

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
        shot_type: str | None = None,
        count: Count = 1,
    ) -> None:
        """Turn an image into a video, optionally driven by an audio track."""
        await self.make(interaction, ask_from(locals(), {FIRST: image, AUDIO: audio}, model=model))

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
        count: Count = 1,
    ) -> None:
        """Make a video that moves from a first frame to a last frame."""
        await self.make(
            interaction, ask_from(locals(), {FIRST: first, LAST: last, AUDIO: audio}, model=model)
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
        count: Count = 1,
    ) -> None:
        """Continue a video clip, optionally to a given last frame."""
        await self.make(
            interaction,
            ask_from(locals(), {CLIP: clip, LAST: last_frame}, model=CONTINUE.default.name),
        )

    @video.command(name="text", description=choices.text_help())
    @app_commands.describe(
        **COMMON_OPTIONS | choices.option_help(TEXT),
        prompt="What the video shows: the scene, the action, the shots",
        audio=optional_help(TEXT, AUDIO, _("A voice or song (wav/mp3, 3–30 s) the video follows")),
    )
    @app_commands.choices(**choices.option_choices(TEXT))
    async def text(
        self,
        interaction: discord.Interaction,
        prompt: str,
        audio: discord.Attachment | None = None,
        ratio: str | None = None,
        resolution: str | None = None,
        duration: choices.TextDuration | None = None,
        seed: Seed | None = None,
        negative_prompt: str | None = None,
        prompt_extend: bool = True,
        watermark: bool = False,
        count: Count = 1,
    ) -> None:
        """Make a video from words alone, no picture needed."""
        await self.make(interaction, ask_from(locals(), {AUDIO: audio}, model=TEXT.default.name))

    @video.command(name="reference", description=choices.reference_help())
    @app_commands.describe(
        **COMMON_OPTIONS
        | choices.option_help(REFERENCE)
        | REFERENCE_OPTIONS
        | {"duration": choices.reference_duration_help()},
    )
    @app_commands.choices(**choices.option_choices(REFERENCE))
    async def reference(
        self,
        interaction: discord.Interaction,
        prompt: str,
        reference1: discord.Attachment,
        reference2: discord.Attachment | None = None,
        reference3: discord.Attachment | None = None,
        reference4: discord.Attachment | None = None,
        reference5: discord.Attachment | None = None,
        voice1: discord.Attachment | None = None,
        voice2: discord.Attachment | None = None,
        voice3: discord.Attachment | None = None,
        voice4: discord.Attachment | None = None,
        voice5: discord.Attachment | None = None,
        first_frame: discord.Attachment | None = None,
        ratio: str | None = None,
        resolution: str | None = None,
        duration: choices.ReferenceDuration | None = None,
        seed: Seed | None = None,
        negative_prompt: str | None = None,
        prompt_extend: bool = True,
        watermark: bool = False,
        count: Count = 1,
    ) -> None:
        """Put people, pets or things from your pictures and clips in a new scene."""
        references = (reference1, reference2, reference3, reference4, reference5)
        voices = (voice1, voice2, voice3, voice4, voice5)
        media = {FIRST: first_frame, **references_from(references, voices)}
        await self.make(interaction, ask_from(locals(), media, model=REFERENCE.default.name))

    @video.command(name="edit", description=choices.edit_help())
    @app_commands.describe(
        **COMMON_OPTIONS
        | choices.option_help(EDIT)
        | EDIT_OPTIONS
        | {"duration": choices.edit_duration_help()},
    )
    @app_commands.choices(**choices.option_choices(EDIT))
    async def edit(
        self,
        interaction: discord.Interaction,
        clip: discord.Attachment,
        prompt: str,
        reference1: discord.Attachment | None = None,
        reference2: discord.Attachment | None = None,
        reference3: discord.Attachment | None = None,
        reference4: discord.Attachment | None = None,
        keep_sound: bool = False,
        ratio: str | None = None,
        resolution: str | None = None,
        duration: choices.EditDuration | None = None,
        seed: Seed | None = None,
        negative_prompt: str | None = None,
        prompt_extend: bool = True,
        watermark: bool = False,
        count: Count = 1,
    ) -> None:
        """Restyle or change your clip by instruction, optionally guided by pictures."""
        references = (reference1, reference2, reference3, reference4)
        media = {MediaType.VIDEO: clip, **references_from(references, ())}
        ask = ask_from(locals(), media, model=EDIT.default.name)
        ask.audio_setting = "origin" if keep_sound else None  # None: the model decides (auto)
        await self.make(interaction, ask)

    @video.command(name="effect", description=choices.effect_help())
    @app_commands.describe(
        image="The picture to apply the effect to",
        template="The effect",
        watermark="Add an 'AI generated' mark",
        count=COUNT_HELP,
    )
    @app_commands.choices(template=choices.template_choices(EFFECT))
    async def effect(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        template: str,
        watermark: bool = False,
        count: Count = 1,
    ) -> None:
        """Apply a ready-made effect to a picture."""
        model = EFFECT.model_for(template).name
        await self.make(interaction, ask_from(locals(), {FIRST: image}, model=model))

    # -- about my videos -------------------------------------------------------------------------

    @video.command(name="quota")
    async def quota(self, interaction: discord.Interaction) -> None:
        """How many seconds of video you have left, and when it renews."""
        allowance = await self.bot.services.quotas.allowance(
            guild_id=interaction.guild_id,
            user_id=interaction.user.id,
            role_ids=role_ids(interaction.user),
        )
        await send_private(interaction, embed=member.quota(member_language(interaction), allowance))

    @video.command(name="jobs")
    async def jobs(self, interaction: discord.Interaction) -> None:
        """Your recent videos and where they are."""
        recent = await self.bot.services.jobs.for_user(
            interaction.guild_id, interaction.user.id, limit=10
        )
        await send_private(
            interaction, embed=member.jobs_list(member_language(interaction), recent)
        )

    @video.command(name="job")
    @app_commands.describe(id="The video's number, e.g. 12 for #12")
    async def job(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        """Details of one of your videos; posts it again with its buttons if it is done."""
        job = await self._own_job(interaction, id, deleted_too=True)
        lang = member_language(interaction)
        responses = await self.bot.services.jobs.responses(job.id)
        await interaction.response.send_message(
            embed=member.job_detail(lang, job, responses),
            file=member.evidence_file(job, responses),
            ephemeral=True,
        )
        if job.state is JobState.DELIVERED and job.delivered_message_id and not job.deleted:
            await interaction.followup.send(
                member.video_link(lang, job),
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

    @video.command(name="delete")
    @app_commands.describe(id="The video's number, e.g. 12 for #12")
    async def delete(
        self, interaction: discord.Interaction, id: app_commands.Range[int, 1]
    ) -> None:
        """Delete one of your posted videos and its status message; asks first."""
        await self.ask_delete(interaction, id)

    @video.command(name="models")
    async def models(self, interaction: discord.Interaction) -> None:
        """The models, what each takes, and what each costs in quota."""
        unavailable = self.bot.engine.retired_models
        if interaction.guild_id is not None:
            rules = await self.bot.services.guild_settings.get(interaction.guild_id)
            unavailable |= rules.hidden_models
        await send_private(
            interaction, embed=member.models(member_language(interaction), unavailable)
        )

    @video.command(name="settings")
    @app_commands.describe(
        model="Your default model on this server",
        resolution="Your default resolution (used when the video's model makes it)",
        duration="Your default length in seconds (used when the video's model can make it)",
        private="True: your videos come to your DMs, not the channel (if the server allows it)",
        reset="Clear one of your settings (or all of them) back to the server's default",
    )
    @app_commands.choices(
        model=choices.MODEL_CHOICES, resolution=choices.RESOLUTION_CHOICES, reset=RESET_CHOICES
    )
    async def settings(
        self,
        interaction: discord.Interaction,
        model: str | None = None,
        resolution: str | None = None,
        duration: choices.Duration | None = None,
        private: bool | None = None,
        reset: str | None = None,
    ) -> None:
        """Your own defaults here (model, resolution, length, videos by DM); empty: show them."""
        await member_settings(
            self.bot,
            interaction,
            model=model,
            resolution=resolution,
            duration=duration,
            private=private,
            reset=reset,
        )

    # -- the flow --------------------------------------------------------------------------------

    async def make(self, interaction: discord.Interaction, ask: Ask) -> Job:
        """Check, defer, download, check again, upload and queue; reply privately with the job number."""
        return await self.flow.make(interaction, Place.of(interaction), ask)
