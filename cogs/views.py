"""Buttons that keep working after a restart: each `custom_id` carries what it acts on.

`wanbot:<action>:<job id>` is decoded by discord.py's DynamicItem machinery, so no view has to
be in memory when the button is pressed. The work itself lives in cogs/video/buttons.py, mixed
into VideoCog; only the requester or a moderator may use a job's buttons (it checks).

A posted video has two rows: what makes a new video from it (Retry, Remix, Extend, Animate last
frame; Discord allows five buttons a row), then Delete on its own. Remix answers with a form
(a modal) whose submit carries `wanbot:remixed:<job id>`: cogs/video/remix.py handles it from
the raw interaction, so a form opened before a restart still works after it. Delete asks first, in a private reply with Delete and Keep (persistent
too, so a confirmation survives a restart).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Protocol, runtime_checkable

import discord
from discord import ui
from discord.ext import commands

from bot.i18n import ENGLISH, Language
from cogs.errors import report
from cogs.render import channel


@runtime_checkable
class JobActions(Protocol):
    """What the buttons ask of VideoCog (a protocol, so this module need not import the cog)."""

    async def cancel_job(self, interaction: discord.Interaction, job_id: int) -> object: ...
    async def retry(self, interaction: discord.Interaction, job_id: int) -> object: ...
    async def extend(self, interaction: discord.Interaction, job_id: int) -> object: ...
    async def animate_last_frame(self, interaction: discord.Interaction, job_id: int) -> object: ...
    async def remix(self, interaction: discord.Interaction, job_id: int) -> object: ...
    async def ask_delete(self, interaction: discord.Interaction, job_id: int) -> object: ...
    async def delete_video(self, interaction: discord.Interaction, job_id: int) -> object: ...
    async def keep_video(self, interaction: discord.Interaction, job_id: int) -> object: ...


class _JobButton(
    ui.DynamicItem[ui.Button[Any]], template=r"wanbot:(?P<action>[a-z]+):(?P<job>[0-9]+)"
):
    """Shared parts; each subclass sets its own template, label and cog method."""

    action: ClassVar[str]
    label: ClassVar[str]  # English, from cogs/render/channel.py; shown in the reader's language
    style: ClassVar[discord.ButtonStyle] = discord.ButtonStyle.secondary
    emoji: ClassVar[str | None] = None
    line: ClassVar[int | None] = None  # the row it goes on; None: the first with room

    def __init__(self, job_id: int, lang: Language = ENGLISH) -> None:
        super().__init__(
            ui.Button(
                label=lang.gettext(self.label),
                style=self.style,
                emoji=self.emoji,
                custom_id=f"wanbot:{self.action}:{job_id}",
                row=self.line,
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: Any, /
    ) -> _JobButton:
        return cls(int(match["job"]))

    def work(self, cog: JobActions) -> Callable[[discord.Interaction, int], Awaitable[object]]:
        raise NotImplementedError

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        cog: object = client.get_cog("VideoCog") if isinstance(client, commands.Bot) else None
        try:
            if not isinstance(cog, JobActions):
                raise RuntimeError("VideoCog is not loaded")
            await self.work(cog)(interaction, self.job_id)
        except Exception as error:
            interaction.extras["job_id"] = self.job_id
            await report(interaction, error)


class CancelButton(_JobButton, template=r"wanbot:cancel:(?P<job>[0-9]+)"):
    action, label, style = "cancel", channel.CANCEL, discord.ButtonStyle.danger

    def work(self, cog: JobActions) -> Callable[[discord.Interaction, int], Awaitable[object]]:
        return cog.cancel_job


class RetryButton(_JobButton, template=r"wanbot:retry:(?P<job>[0-9]+)"):
    action, label, emoji = "retry", channel.RETRY, "🔁"

    def work(self, cog: JobActions) -> Callable[[discord.Interaction, int], Awaitable[object]]:
        return cog.retry


class ExtendButton(_JobButton, template=r"wanbot:extend:(?P<job>[0-9]+)"):
    action, label, emoji = "extend", channel.EXTEND, "⏩"

    def work(self, cog: JobActions) -> Callable[[discord.Interaction, int], Awaitable[object]]:
        return cog.extend


class LastFrameButton(_JobButton, template=r"wanbot:lastframe:(?P<job>[0-9]+)"):
    action, label, emoji = "lastframe", channel.LAST_FRAME, "🖼️"

    def work(self, cog: JobActions) -> Callable[[discord.Interaction, int], Awaitable[object]]:
        return cog.animate_last_frame


class RemixButton(_JobButton, template=r"wanbot:remix:(?P<job>[0-9]+)"):
    """Opens a form with the video's prompt to edit; its submit is `wanbot:remixed:<job id>`."""

    action, label, emoji = "remix", channel.REMIX, "✏️"

    def work(self, cog: JobActions) -> Callable[[discord.Interaction, int], Awaitable[object]]:
        return cog.remix


class DeleteButton(_JobButton, template=r"wanbot:delete:(?P<job>[0-9]+)"):
    """On the posted video, apart from the buttons that make something: asks first."""

    action, label, emoji, line = "delete", channel.DELETE, "🗑️", 1

    def work(self, cog: JobActions) -> Callable[[discord.Interaction, int], Awaitable[object]]:
        return cog.ask_delete


class ConfirmDeleteButton(_JobButton, template=r"wanbot:confirmdelete:(?P<job>[0-9]+)"):
    action, label, style = "confirmdelete", channel.DELETE, discord.ButtonStyle.danger

    def work(self, cog: JobActions) -> Callable[[discord.Interaction, int], Awaitable[object]]:
        return cog.delete_video


class KeepButton(_JobButton, template=r"wanbot:keep:(?P<job>[0-9]+)"):
    action, label = "keep", channel.KEEP

    def work(self, cog: JobActions) -> Callable[[discord.Interaction, int], Awaitable[object]]:
        return cog.keep_video


DYNAMIC_ITEMS: tuple[type[_JobButton], ...] = (
    CancelButton,
    RetryButton,
    ExtendButton,
    LastFrameButton,
    RemixButton,
    DeleteButton,
    ConfirmDeleteButton,
    KeepButton,
)


def progress_view(job_id: int, lang: Language) -> ui.View:
    view = ui.View(timeout=None)
    view.add_item(CancelButton(job_id, lang))
    return view


def result_view(job_id: int, lang: Language) -> ui.View:
    view = ui.View(timeout=None)
    for button in (RetryButton, RemixButton, ExtendButton, LastFrameButton, DeleteButton):
        view.add_item(button(job_id, lang))
    return view


def confirm_delete_view(job_id: int, lang: Language) -> ui.View:
    """Delete or Keep, under the private question before a video is deleted."""
    view = ui.View(timeout=None)
    view.add_item(ConfirmDeleteButton(job_id, lang))
    view.add_item(KeepButton(job_id, lang))
    return view
