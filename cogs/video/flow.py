"""The way every new video goes, from a command or a button: admit → defer → stage → queue → reply.

Order matters for the 3-second window and for "bad input costs nothing": everything that needs no
download is checked first (the intake's `admit`: channel, words, options, attachment sizes and
types from metadata, then the engine's quota and waiting line), then the interaction is deferred,
then the intake's `stage` downloads the attachments at once (their signed URLs expire), checks
their bytes and uploads them, and the job is queued.
"""

from __future__ import annotations

import random
from dataclasses import replace

import discord

from bot.domain.errors import WanbotError
from bot.domain.jobs import Job
from bot.domain.requests import SEED_MAX, variation_seeds
from bot.i18n import Language, Text
from bot.intake.admission import Admission, Admitted
from bot.intake.ask import Ask
from cogs.languages import member_language, server_locale
from cogs.render import member
from cogs.served import ServedBot
from cogs.video.options import Place


class Flow:
    """Makes videos for the /video cog: the intake's admission, the engine, the private reply."""

    def __init__(self, bot: ServedBot) -> None:
        self.bot = bot

    @property
    def admission(self) -> Admission:
        services = self.bot.services
        return Admission(
            services.session,
            services.keys,
            workers=services.workers,
            engine=self.bot.engine,
            rules=services.guild_settings,
            inputs=services.inputs,
            members=services.member_settings,
        )

    async def make(
        self,
        interaction: discord.Interaction,
        place: Place,
        ask: Ask,
        *,
        note: Text | None = None,
        earlier: Job | None = None,
    ) -> Job:
        """Admit, answer Discord (unless a button already has, to fetch a finished video), stage,
        and queue on the key the inputs were uploaded with, the job's channel messages in the
        server's language; reply privately with its number (and `note`, for a button's, pressed
        on the `earlier` video). An ask for `count` variations queues that many jobs on the same
        uploads, each with its own seed, and lists their numbers; the first is returned."""
        admission = self.admission
        requester = place.requester(interaction, locale=None)
        admitted = await admission.admit(ask, requester, parent_id=place.parent_id)
        if not interaction.response.is_done():
            await interaction.response.defer(ephemeral=True, thinking=True)
        staged = await admission.stage(admitted)
        locale = server_locale(interaction, admitted.rules, earlier=earlier)
        requester = replace(requester, locale=locale, by_dm=admitted.by_dm)
        lang = member_language(interaction)
        # A continuation's length, and reference clips' billed seconds, are known only now: the
        # quota is asked again for all of them, or none.
        grew = staged.request.charged_seconds > admitted.request.charged_seconds
        if ask.count > 1 or grew:
            await self.bot.engine.admissible(staged.request, requester, count=ask.count)
        jobs: list[Job] = []
        seeds = variation_seeds(ask.seed, ask.count, drawn=random.randint(0, SEED_MAX))
        try:
            for seed in seeds:  # the inputs read and uploaded once, a job for each seed
                one = staged if len(seeds) == 1 else staged.with_seed(seed)
                jobs.append(
                    await self.bot.engine.enqueue(
                        one.request, requester, key=one.key, dedup_key=one.dedup_key
                    )
                )
        except WanbotError as error:  # another request took the room meanwhile: say what went
            if not jobs:
                raise
            reply = _queued(lang, jobs, None, admitted) + "\n" + lang.render(error.text)
            await interaction.followup.send(reply, ephemeral=True)
            return jobs[0]
        interaction.extras["job_id"] = jobs[0].id
        interaction.extras["job_ids"] = [job.id for job in jobs]
        await interaction.followup.send(_queued(lang, jobs, note, admitted), ephemeral=True)
        return jobs[0]


def _queued(lang: Language, jobs: list[Job], note: Text | None, admitted: Admitted) -> str:
    """The private reply: the videos' numbers, where they come (the channel, or the member's DM
    in private mode), and what became of the member's own defaults where it matters."""
    if admitted.by_dm:
        reply = member.queued_by_dm(lang, jobs, note)
    elif len(jobs) > 1:
        reply = member.queued_many(lang, jobs)
    else:
        reply = member.queued(lang, jobs[0], note)
    return member.with_notes(lang, reply, admitted.notes)
