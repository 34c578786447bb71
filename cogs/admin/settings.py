"""/videoadmin settings: where videos may be made, banned words, defaults, the moderator role.

Every reply is ephemeral and says what changed and what it was before.
"""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands

from bot.catalog import DEFAULT_MODEL, LONGEST_SECONDS, MODELS, SHORTEST_SECONDS
from bot.errors import InvalidInput
from cogs import render
from cogs.admin.base import SETTINGS, AdminBase, check_defaults
from cogs.choices import MODEL_CHOICES, RESOLUTION_CHOICES, Duration
from cogs.errors import send_private
from storage.guild_settings import normalise_words

MOST_CHANNELS = 50
MOST_BANNED_WORDS = 200
LONGEST_BANNED_WORD = 50


class SettingsCommands(AdminBase):
    @SETTINGS.command(name="show")
    async def settings_show(self, interaction: discord.Interaction) -> None:
        """Show every video setting of this server."""
        guild_id, settings = await self._authorise(interaction)
        quota = await self._services.quotas.guild_settings(guild_id)
        embed = render.guild_settings(settings, quota)
        await send_private(interaction, embed=embed)

    @SETTINGS.command(name="channel_add")
    @app_commands.describe(channel="A channel where members may make videos")
    async def settings_channel_add(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | discord.VoiceChannel | discord.ForumChannel,
    ) -> None:
        """Allow videos in a channel (once any is added, only listed channels allow them)."""
        guild_id, settings = await self._authorise(interaction)
        old = settings.allowed_channels
        if channel.id in old:
            await send_private(
                interaction, content=f"{channel.mention} is already allowed; nothing changed."
            )
            return
        if len(old) >= MOST_CHANNELS:
            raise InvalidInput(f"At most {MOST_CHANNELS} channels can be listed; remove one first.")
        await self._update(interaction, guild_id, allowed_channels=old | {channel.id})
        if old:
            line = f"Videos can now also be made in {channel.mention} ({len(old) + 1} channels)."
        else:
            line = f"Videos can now be made only in {channel.mention} (was every channel)."
        await send_private(interaction, content=line)

    @SETTINGS.command(name="channel_remove")
    @app_commands.describe(channel="A listed channel where videos should no longer be made")
    async def settings_channel_remove(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | discord.VoiceChannel | discord.ForumChannel,
    ) -> None:
        """Stop allowing videos in a listed channel (an empty list allows every channel)."""
        guild_id, settings = await self._authorise(interaction)
        old = settings.allowed_channels
        if channel.id not in old:
            await send_private(
                interaction, content=f"{channel.mention} is not on the list; nothing changed."
            )
            return
        left = old - {channel.id}
        await self._update(interaction, guild_id, allowed_channels=left)
        if left:
            left_text = render.plural(len(left), "channel")
            line = f"Videos can no longer be made in {channel.mention} ({left_text} left)."
        else:
            line = (
                f"Removed {channel.mention}, the last listed channel: videos can be made in "
                "every channel again."
            )
        await send_private(interaction, content=line)

    @SETTINGS.command(name="channels_clear")
    async def settings_channels_clear(self, interaction: discord.Interaction) -> None:
        """Allow videos in every channel again (empties the channel list)."""
        guild_id, settings = await self._authorise(interaction)
        if not settings.allowed_channels:
            await send_private(
                interaction, content="Videos can already be made in every channel; nothing changed."
            )
            return
        await self._update(interaction, guild_id, allowed_channels=frozenset())
        await send_private(
            interaction,
            content=(
                "Videos can be made in every channel again "
                f"(was only {render.channels_text(settings.allowed_channels)})."
            ),
        )

    @SETTINGS.command(name="banned_words")
    @app_commands.describe(
        action="Add the words to the list, or remove them from it",
        words="Words or phrases, separated by commas (case does not matter)",
    )
    async def settings_banned_words(
        self,
        interaction: discord.Interaction,
        action: Literal["add", "remove"],
        words: app_commands.Range[str, 1, 1000],
    ) -> None:
        """Add or remove words that prompts may not contain."""
        guild_id, settings = await self._authorise(interaction)
        given = normalise_words(words.split(","))
        if not given:
            raise InvalidInput("Give one or more words, separated by commas.", field="words")
        old = settings.banned_words
        if action == "add":
            if too_long := [w for w in given if len(w) > LONGEST_BANNED_WORD]:
                raise InvalidInput(
                    f"A banned word or phrase can be at most {LONGEST_BANNED_WORD} characters "
                    f"(“{too_long[0][:20]}…” is longer).",
                    field="words",
                )
            new = normalise_words([*old, *given])
            if len(new) > MOST_BANNED_WORDS:
                raise InvalidInput(f"At most {MOST_BANNED_WORDS} banned words; remove some first.")
            changed = [w for w in given if w not in old]
            verb = "Banned"
        elif action == "remove":
            new = tuple(w for w in old if w not in given)
            changed = [w for w in given if w in old]
            verb = "Unbanned"
        else:
            raise InvalidInput("Choose to add or to remove words.", field="action")
        if not changed:
            await send_private(interaction, content="The list already says that; nothing changed.")
            return
        await self._update(interaction, guild_id, banned_words=new)
        await send_private(
            interaction,
            content=(
                f"{verb} {render.spoiler(changed)} ({render.plural(len(new), 'banned word')} in all, "
                f"was {len(old)})."
            ),
        )

    @SETTINGS.command(name="defaults")
    @app_commands.describe(
        model="The model new videos use unless the member picks one; leave empty for the bot's",
        resolution="Used when the video's model makes it; leave empty for each model's own",
    )
    @app_commands.choices(model=MODEL_CHOICES, resolution=RESOLUTION_CHOICES)
    async def settings_defaults(
        self,
        interaction: discord.Interaction,
        model: str | None = None,
        resolution: str | None = None,
    ) -> None:
        """Set the model and resolution new videos use by default (empty: the built-in ones)."""
        guild_id, settings = await self._authorise(interaction)
        check_defaults(model, resolution)
        await self._update(
            interaction, guild_id, default_model=model, default_resolution=resolution
        )
        line = (
            f"New videos now default to {render.model_text(model)} at {render.resolution_text(resolution)} "
            f"(was {render.model_text(settings.default_model)} at "
            f"{render.resolution_text(settings.default_resolution)})."
        )
        spec = MODELS[model or DEFAULT_MODEL]
        if resolution is not None and resolution not in spec.resolutions:
            line += f" {spec.name} cannot make {resolution}, so it keeps its own default."
        await send_private(interaction, content=line)

    @SETTINGS.command(name="watermark")
    @app_commands.describe(forced="True: every video carries the provider's watermark")
    async def settings_watermark(self, interaction: discord.Interaction, forced: bool) -> None:
        """Choose whether every video must carry the provider's watermark."""
        guild_id, settings = await self._authorise(interaction)
        await self._update(interaction, guild_id, force_watermark=bool(forced))
        await send_private(
            interaction,
            content=(
                f"Watermark: {render.watermark_text(forced).lower()} "
                f"(was {render.watermark_text(settings.force_watermark).lower()})."
            ),
        )

    @SETTINGS.command(name="longest_duration")
    @app_commands.describe(
        seconds=f"The longest video members may ask for ({SHORTEST_SECONDS}–{LONGEST_SECONDS} s); "
        "empty: each model's limit"
    )
    async def settings_longest_duration(
        self, interaction: discord.Interaction, seconds: Duration | None = None
    ) -> None:
        """Limit how long a video may be (empty: each model's own limit)."""
        guild_id, settings = await self._authorise(interaction)
        if seconds is not None and not SHORTEST_SECONDS <= seconds <= LONGEST_SECONDS:
            raise InvalidInput(
                f"The longest video must be {SHORTEST_SECONDS}–{LONGEST_SECONDS} s, not {seconds}.",
                field="seconds",
            )
        await self._update(interaction, guild_id, max_duration=seconds)
        await send_private(
            interaction,
            content=(
                f"Longest video: {render.duration_limit_text(seconds).lower()} "
                f"(was {render.duration_limit_text(settings.max_duration).lower()})."
            ),
        )

    @SETTINGS.command(name="moderator_role")
    @app_commands.describe(
        role="Members with this role may use /videoadmin; leave empty for Manage Server only"
    )
    async def settings_moderator_role(
        self, interaction: discord.Interaction, role: discord.Role | None = None
    ) -> None:
        """Choose the role whose members may use /videoadmin (empty: Manage Server only)."""
        guild_id, settings = await self._authorise(interaction)
        # The role hands out moderator rights, so only those Discord trusts with the server pick it.
        user = interaction.user
        if not isinstance(user, discord.Member) or not user.guild_permissions.manage_guild:
            raise InvalidInput("Only members with Manage Server can change the moderator role.")
        if role is not None and role.is_default():
            raise InvalidInput("Choose a role other than @everyone: every member would moderate.")
        await self._update(
            interaction, guild_id, moderator_role_id=None if role is None else role.id
        )
        old = settings.moderator_role_id
        was = "Manage Server only" if old is None else f"<@&{old}>"
        if role is None:
            line = f"Only members with Manage Server can use /videoadmin now (was {was})."
        else:
            line = f"Members with {role.mention} can now use /videoadmin (was {was})."
        await send_private(interaction, content=line)
