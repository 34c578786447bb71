"""Remix: the Remix button under a posted video, its form, and the form's submit.

The button opens a form (a Discord modal) with the video's prompt and negative prompt to edit;
its submit makes a new video with the same model, inputs and settings (resolution, duration,
ratio, shot type, prompt_extend, watermark) and the same seed when the video had one, so the
words are the only change (`bot/intake/follow_up.py` `remix`). It goes the way of every new
video (`Flow.make`: the server's rules as they are now, the presser's quota, the waiting line),
and only the requester, or a moderator of the job's server, may use it, as for Retry
(`JobButtons._own_job`, checked when the button is pressed and again on submit).

Before the form opens, what can be known without waiting is checked, so nobody writes a prompt
for nothing: an effect template's video has no prompt; a prompt longer than a form holds (4000
characters, Discord's limit) cannot be edited in one, and is refused rather than cut; and the
inputs must be at hand (their uploads still usable, or their bytes kept: `Admission`).

The form is not kept in memory: its custom_id carries the job (`wanbot:remixed:<job id>`) and
its submit is read from the raw interaction (`on_interaction`), so a form opened before a
restart still works after it.
"""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import ui
from discord.ext import commands

from bot.domain.errors import InvalidInput
from bot.intake.follow_up import again, remix
from cogs.errors import report
from cogs.languages import member_language
from cogs.render import member
from cogs.video.buttons import JobButtons
from cogs.video.options import Place

SUBMIT = re.compile(r"wanbot:remixed:(?P<job>[0-9]+)")
TEXT_LIMIT = 4000  # the most a form's text box holds (Discord's limit)
PROMPT, NEGATIVE_PROMPT = "prompt", "negative_prompt"


class RemixActions(JobButtons):
    """Remix, mixed into the /video cog with the other buttons."""

    async def remix(self, interaction: discord.Interaction, job_id: int) -> None:
        """Open the form with the video's words, after what can be checked at once."""
        job = await self._own_job(interaction, job_id)
        original = job.request
        if original.template:
            raise InvalidInput(member.nothing_to_remix(job.id))
        spec = original.spec
        if len(original.prompt or "") > TEXT_LIMIT:
            raise InvalidInput(member.prompt_too_long_to_edit(job.id, TEXT_LIMIT))
        await Place.for_job(self.bot, interaction, job)  # a member who left is refused now
        self.flow.admission.inputs_at_hand(again(job, seed=None))  # inputs gone: said now
        lang = member_language(interaction)
        form = ui.Modal(
            title=member.remix_title(lang, job.id), custom_id=f"wanbot:remixed:{job.id}"
        )
        form.add_item(
            ui.TextInput(
                label=lang.gettext(member.REMIX_PROMPT),
                custom_id=PROMPT,
                style=discord.TextStyle.paragraph,
                default=original.prompt,
                required=spec.prompt_required,
                max_length=min(TEXT_LIMIT, spec.prompt_max),
            )
        )
        form.add_item(
            ui.TextInput(
                label=lang.gettext(member.REMIX_NEGATIVE_PROMPT),
                custom_id=NEGATIVE_PROMPT,
                style=discord.TextStyle.paragraph,
                default=original.negative_prompt,
                required=False,
                max_length=min(TEXT_LIMIT, spec.negative_prompt_max),
            )
        )
        form.stop()  # not kept in memory: the submit is read from the raw interaction
        await interaction.response.send_modal(form)

    @commands.Cog.listener("on_interaction")
    async def remix_submitted(self, interaction: discord.Interaction) -> None:
        """A Remix form sent back (now or after a restart): make the video with its words."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        match = SUBMIT.fullmatch(str(data.get("custom_id", "")))
        if match is None:
            return
        job_id = int(match["job"])
        try:
            await self.make_remix(interaction, job_id, submitted(data))
        except Exception as error:
            interaction.extras["job_id"] = job_id
            await report(interaction, error)

    async def make_remix(
        self, interaction: discord.Interaction, job_id: int, values: dict[str, str]
    ) -> None:
        """The new video with the words the form gave (checked again: who, where, inputs)."""
        job = await self._own_job(interaction, job_id)
        place = await Place.for_job(self.bot, interaction, job)
        ask = remix(job, values.get(PROMPT) or None, values.get(NEGATIVE_PROMPT) or None)
        await self.flow.make(interaction, place, ask, note=member.remix_of(job.id), earlier=job)


def submitted(data: Any) -> dict[str, str]:
    """The text boxes' values of a form's submit, by custom_id, however they are nested (rows
    or labels)."""
    values: dict[str, str] = {}

    def walk(component: Any) -> None:
        if not isinstance(component, dict):
            return
        if "custom_id" in component and isinstance(component.get("value"), str):
            values[str(component["custom_id"])] = component["value"]
        for child in component.get("components") or ():
            walk(child)
        walk(component.get("component"))

    for component in (data or {}).get("components") or ():
        walk(component)
    return values
