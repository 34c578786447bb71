"""What every /videoadmin command shares: its command groups, the moderator check, input checks,
and the one sequence every change follows (authorise, check, change, reply).

Discord hides the command from members without Manage Server (`default_member_permissions`), but a
server can change that in its integration settings, and the moderator role is ours, not Discord's:
so every command also checks `is_moderator` at run time before it reads or changes anything.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields, replace
from typing import Any, Generic, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.catalog import MODELS, RESOLUTIONS
from bot.domain.errors import InvalidInput
from bot.domain.guild import Change, GuildSettings
from bot.domain.quota import Allowance, Period
from bot.i18n import Language
from cogs.checks import is_moderator, role_ids
from cogs.errors import send_private
from cogs.languages import member_language
from cogs.render import moderator
from cogs.served import CogServices, ServedBot

log = logging.getLogger(__name__)

MOST_SECONDS = 86_400
Seconds = app_commands.Range[int, 0, MOST_SECONDS]
GrantSeconds = app_commands.Range[int, 1, MOST_SECONDS]
Reason = app_commands.Range[str, 1, 200]

VIDEOADMIN = app_commands.Group(
    name="videoadmin",
    description="Moderators: manage video quotas and this server's video settings",
    default_permissions=discord.Permissions(manage_guild=True),
    guild_only=True,
)
QUOTA = app_commands.Group(
    name="quota", description="Members' video quotas and the server budget", parent=VIDEOADMIN
)
SETTINGS = app_commands.Group(
    name="settings", description="Where and how videos are made here", parent=VIDEOADMIN
)

S = TypeVar("S")  # what a change is read as: a member's allowance, the server's settings
W = TypeVar("W")  # what its write answers (most answer nothing)


@dataclass(frozen=True)
class Changed(Generic[S, W]):
    """What a change did: the state just before and just after it, and what its write answered."""

    before: S
    after: S
    answer: W


Say = Callable[[Language, Changed[S, W]], str]


class AdminBase(commands.Cog):
    """The state and steps the quota and settings commands share (AdminCog is the cog loaded)."""

    videoadmin = VIDEOADMIN  # discord.py finds a cog's command groups on its class

    def __init__(self, bot: ServedBot) -> None:
        self.bot = bot

    @property
    def _services(self) -> CogServices:
        return self.bot.services

    async def _authorise(self, interaction: discord.Interaction) -> tuple[int, GuildSettings]:
        """Return the server id and its settings, or refuse anyone who is not a moderator."""
        guild_id = interaction.guild_id
        if guild_id is None:
            raise InvalidInput(moderator.ONLY_IN_A_SERVER)
        settings = await self._services.guild_settings.get(guild_id)
        if not is_moderator(interaction.user, settings):
            log.info("Refused /videoadmin to %s in guild %s", interaction.user.id, guild_id)
            raise InvalidInput(moderator.NOT_MODERATOR)
        return guild_id, settings

    async def _allowance(self, guild_id: int, user: discord.Member) -> Allowance:
        return await self._services.quotas.allowance(
            guild_id=guild_id, user_id=user.id, role_ids=role_ids(user)
        )

    async def _change(
        self, interaction: discord.Interaction, guild_id: int, change: Change
    ) -> tuple[GuildSettings, GuildSettings]:
        """Apply `change` to the server's settings as they are now (not as this command read
        them: another moderator may have changed them since); return them before and after."""
        before, after = await self._services.guild_settings.change(
            guild_id, change, actor_id=interaction.user.id
        )
        if changed := [
            f.name for f in fields(after) if getattr(after, f.name) != getattr(before, f.name)
        ]:
            log.info("Guild %s settings changed by %s: %s", guild_id, interaction.user.id, changed)
        return before, after

    async def _change_and_reply(
        self,
        interaction: discord.Interaction,
        apply: Callable[[int], Awaitable[Changed[S, W]]],
        say: Say[S, W],
        check: Callable[[], object] | None = None,
    ) -> None:
        """/videoadmin's one sequence: refuse anyone who is not a moderator, check the input,
        make the change (reading before and after), reply with one line in the moderator's
        language. `say` words that line, and tells when nothing changed."""
        guild_id, _settings = await self._authorise(interaction)
        if check is not None:
            check()
        changed = await apply(guild_id)
        await send_private(interaction, content=say(member_language(interaction), changed))

    async def _change_quota(
        self,
        interaction: discord.Interaction,
        read: Callable[[int], Awaitable[S]],
        write: Callable[[int, S], Awaitable[W]],
        say: Say[S, W],
        check: Callable[[], object] | None = None,
    ) -> None:
        """Change a quota: `read` (a member's allowance, the server's quota settings) before,
        `write` (which may see it and decide to do nothing), `read` after, reply."""

        async def apply(guild_id: int) -> Changed[S, W]:
            before = await read(guild_id)
            answer = await write(guild_id, before)
            return Changed(before, await read(guild_id), answer)

        await self._change_and_reply(interaction, apply, say, check)

    async def _change_member(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        write: Callable[[int, Allowance], Awaitable[W]],
        say: Say[Allowance, W],
        check: Callable[[], object] | None = None,
    ) -> None:
        """Change a member's quota: their allowance is what is read before and after."""
        await self._change_quota(
            interaction, lambda guild_id: self._allowance(guild_id, member), write, say, check
        )

    async def _change_settings(
        self,
        interaction: discord.Interaction,
        change: Change,
        say: Say[GuildSettings, None],
        check: Callable[[], object] | None = None,
    ) -> None:
        """Change the server's settings as they are when written (see `_change`), then reply."""

        async def apply(guild_id: int) -> Changed[GuildSettings, None]:
            before, after = await self._change(interaction, guild_id, change)
            return Changed(before, after, None)

        await self._change_and_reply(interaction, apply, say, check)


def setting(**values: Any) -> Change:
    """A change that sets some settings and leaves the others as they are."""
    return lambda current: replace(current, **values)


def check_seconds(seconds: int | None, *, lowest: int = 0) -> None:
    """Discord enforces the option's range; a call from elsewhere is checked here again.
    None (the option left out) passes: it means "none" to the command."""
    if seconds is not None and not lowest <= seconds <= MOST_SECONDS:
        raise InvalidInput(
            moderator.seconds_out_of_range(lowest, MOST_SECONDS, seconds),
            field="seconds",
        )


def check_period(period: str) -> Period:
    try:
        return Period(period)
    except ValueError:
        raise InvalidInput(moderator.PERIODS_OFFERED, field="period") from None


def check_model(model: str) -> None:
    """Refuse a model the catalogue does not know."""
    if model not in MODELS:
        raise InvalidInput(moderator.no_such_model(model, ", ".join(MODELS)), field="model")


def check_defaults(model: str | None, resolution: str | None) -> None:
    """Refuse an unknown model, or a resolution the model (with none: every model) cannot make."""
    if model is not None:
        check_model(model)
    if resolution is None:
        return
    makers = MODELS[model].resolutions if model is not None else RESOLUTIONS
    if resolution not in makers:
        raise InvalidInput(
            moderator.resolution_not_made(model, resolution, ", ".join(makers)),
            field="resolution",
        )


def clean(reason: str | None) -> str | None:
    """A reason as stored: trimmed, at most 200 characters, None when blank."""
    reason = " ".join((reason or "").split())
    return reason[:200] or None
