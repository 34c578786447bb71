"""What the buttons on a video do: Retry, Extend, Animate last frame, Cancel, Delete (Remix, with
its form, is in cogs/video/remix.py).

Buttons that make a video go through the same flow as the commands (`Flow.make`: the intake's
admission, then stage and queue); in a DM, they act in the job's server, for a member of it now
(`Place.for_job`). Only the requester, or a moderator of the job's server, may use a job's
buttons. cogs/views.py finds these on the cog by name (its `JobActions`).

Delete asks first (Delete or Keep, privately), then removes the posted video and its status
message wherever they were delivered, and marks the job deleted: the job and its charge stay,
and its buttons refuse from then on (`_own_job`).
"""

from __future__ import annotations

import random

import discord

from bot.domain.errors import InvalidInput
from bot.domain.guild import GuildSettings
from bot.domain.jobs import Job, JobState
from bot.domain.requests import SEED_MAX
from bot.intake.follow_up import again
from cogs.checks import is_moderator
from cogs.errors import send_private
from cogs.languages import member_language
from cogs.render import member
from cogs.served import ServedBot
from cogs.video.flow import Flow
from cogs.video.options import Place, delete_posted, posted_video
from cogs.views import confirm_delete_view


class JobButtons:
    """The work of a job's buttons, mixed into the /video cog (which sets `bot` and `flow`)."""

    bot: ServedBot
    flow: Flow

    async def cancel_job(self, interaction: discord.Interaction, job_id: int) -> None:
        """Cancel a job: answer Discord first (a cancel may take a moment), then say what happened."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._own_job(interaction, job_id, deleted_too=True)
        outcome = await self.bot.engine.cancel(job_id)
        await send_private(
            interaction, content=member_language(interaction).render(outcome.message)
        )

    async def retry(self, interaction: discord.Interaction, job_id: int) -> Job:
        """The same request with a new seed, for whoever pressed (their quota), on the inputs the
        first take uploaded (so on its key) while they have a day left, else on the kept copies
        uploaded again (the intake's `Admission.inputs_at_hand`)."""
        job = await self._own_job(interaction, job_id)
        place = await Place.for_job(self.bot, interaction, job)
        ask = again(job, seed=random.randint(0, SEED_MAX))
        return await self.flow.make(
            interaction, place, ask, note=member.new_take(job.id), earlier=job
        )

    async def extend(self, interaction: discord.Interaction, job_id: int) -> Job:
        """Continue a finished video with wan2.7's first clip, from its last 10 s at most."""
        job, place = await self._finished(interaction, job_id)
        ask = await self.flow.admission.continuation(job, lambda: posted_video(self.bot, job))
        return await self.flow.make(
            interaction, place, ask, note=member.continuing(job.id), earlier=job
        )

    async def animate_last_frame(self, interaction: discord.Interaction, job_id: int) -> Job:
        """Start a new video from the last frame of a finished one."""
        job, place = await self._finished(interaction, job_id)
        ask = await self.flow.admission.from_last_frame(job, lambda: posted_video(self.bot, job))
        return await self.flow.make(
            interaction,
            place,
            ask,
            note=member.from_last_frame(job.id),
            earlier=job,
        )

    async def ask_delete(self, interaction: discord.Interaction, job_id: int) -> None:
        """Ask before deleting a posted video (a misclick must not destroy it): Delete or Keep."""
        job = await self._deletable(interaction, job_id)
        lang = member_language(interaction)
        await interaction.response.send_message(
            member.confirm_delete(lang, job), view=confirm_delete_view(job.id, lang), ephemeral=True
        )

    async def delete_video(self, interaction: discord.Interaction, job_id: int) -> None:
        """Delete the posted video and its status message, then mark the job deleted (a message
        already gone counts as deleted). The question loses its buttons at once, so a second
        press cannot come from it."""
        job = await self._deletable(interaction, job_id)
        lang = member_language(interaction)
        await interaction.response.edit_message(content=member.deleting(lang, job.id), view=None)
        for message_id in (job.delivered_message_id, job.progress_message_id):
            if message_id:
                await delete_posted(self.bot, job, message_id)
        if not await self.bot.services.jobs.mark_deleted(job.id, by=interaction.user.id):
            raise InvalidInput(member.already_deleted(job.id))  # deleted meanwhile, elsewhere
        await send_private(interaction, content=member.deleted(lang, job.id))

    async def keep_video(self, interaction: discord.Interaction, job_id: int) -> None:
        """The member thought better of it: the question goes, the video stays."""
        lang = member_language(interaction)
        await interaction.response.edit_message(content=member.kept(lang, job_id), view=None)

    async def _deletable(self, interaction: discord.Interaction, job_id: int) -> Job:
        """A posted video the user may delete, not deleted yet."""
        job = await self._own_job(interaction, job_id, deleted_too=True)
        if job.deleted:
            raise InvalidInput(member.already_deleted(job.id))
        if job.state is not JobState.DELIVERED:
            if job.state.is_final:
                raise InvalidInput(member.never_posted(job.id))
            raise InvalidInput(member.not_posted_yet(job.id))
        return job

    async def _finished(self, interaction: discord.Interaction, job_id: int) -> tuple[Job, Place]:
        """A finished video to build on, and where the new one counts (a member who left is
        refused here, before the video is fetched)."""
        job = await self._own_job(interaction, job_id)
        if job.state is not JobState.DELIVERED:
            raise InvalidInput(member.not_finished(job.id))
        place = await Place.for_job(self.bot, interaction, job)
        await interaction.response.defer(ephemeral=True, thinking=True)
        return job, place

    async def _own_job(
        self, interaction: discord.Interaction, job_id: int, *, deleted_too: bool = False
    ) -> Job:
        """A job the user may act on: their own, or any in this server for a moderator. In a DM
        (a video delivered there), only the requester's own. One whose video was deleted is
        refused (its buttons stop working) unless `deleted_too`."""
        job = await self.bot.services.jobs.get(job_id)
        in_dm = interaction.guild_id is None
        if job is None or (job.guild_id != interaction.guild_id and not in_dm):
            raise InvalidInput(member.no_such_video(job_id))
        if job.user_id != interaction.user.id:
            guild = await self._guild_settings(interaction.guild_id)
            if in_dm or not is_moderator(interaction.user, guild):
                raise InvalidInput(member.not_yours(job_id))
        if job.deleted and not deleted_too:
            raise InvalidInput(member.was_deleted(job.id))
        return job

    async def _guild_settings(self, guild_id: int | None) -> GuildSettings:
        if guild_id is None:
            return GuildSettings(0)
        return await self.bot.services.guild_settings.get(guild_id)
