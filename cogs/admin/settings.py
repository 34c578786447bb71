"""/videoadmin settings: where videos may be made, banned words, defaults, the moderator role,
the server's language.

Every reply is ephemeral, in the moderator's language, and says what changed and what it was
(cogs/render/moderator.py words it). Each change is made to the settings as they are when it is
written (another moderator may have changed them since this command read them), and the reply
tells what it was just before. Each is AdminBase's one sequence: a command says only what it
checks, changes and says.
"""

from __future__ import annotations

from dataclasses import replace

import discord
from discord import app_commands

from bot.domain.catalog import LONGEST_SECONDS, SHORTEST_SECONDS
from bot.domain.errors import InvalidInput
from bot.domain.guild import GuildSettings, normalise_words
from bot.i18n import LANGUAGE_NAMES
from cogs.admin.base import SETTINGS, AdminBase, check_defaults, check_model, setting
from cogs.choices import ALL_MODEL_CHOICES, MODEL_CHOICES, RESOLUTION_CHOICES, Duration
from cogs.errors import send_private
from cogs.languages import member_language
from cogs.render import moderator

MOST_CHANNELS = 50
MOST_BANNED_WORDS = 200
LONGEST_BANNED_WORD = 50
DISCORD_LANGUAGE = "discord"  # the language choice that follows Discord's server language

MODEL_ACTION_CHOICES = [
    app_commands.Choice(name=app_commands.locale_str("Hide"), value="hide"),
    app_commands.Choice(name=app_commands.locale_str("Show"), value="show"),
]
ACTION_CHOICES = [
    app_commands.Choice(name=app_commands.locale_str("Add"), value="add"),
    app_commands.Choice(name=app_commands.locale_str("Remove"), value="remove"),
]
# Each language by its own name, as language pickers show them; first, Discord's own setting.
LANGUAGE_CHOICES = [
    app_commands.Choice(
        name=app_commands.locale_str("Discord's server language"), value=DISCORD_LANGUAGE
    ),
    *(
        app_commands.Choice(name=app_commands.locale_str(name, verbatim=True), value=code)
        for code, name in LANGUAGE_NAMES.items()
    ),
]


class SettingsCommands(AdminBase):
    @SETTINGS.command(name="show")
    async def settings_show(self, interaction: discord.Interaction) -> None:
        """Show every video setting of this server."""
        guild_id, settings = await self._authorise(interaction)
        quota = await self._services.quotas.guild_settings(guild_id)
        embed = moderator.guild_settings(member_language(interaction), settings, quota)
        await send_private(interaction, embed=embed)

    @SETTINGS.command(name="channel_add")
    @app_commands.describe(channel="A channel where members may make videos")
    async def settings_channel_add(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | discord.VoiceChannel | discord.ForumChannel,
    ) -> None:
        """Allow videos in a channel (once any is added, only listed channels allow them)."""

        def add(current: GuildSettings) -> GuildSettings:
            listed = current.allowed_channels
            if channel.id in listed:
                return current
            if len(listed) >= MOST_CHANNELS:
                raise InvalidInput(moderator.too_many_channels(MOST_CHANNELS))
            return replace(current, allowed_channels=listed | {channel.id})

        await self._change_settings(
            interaction,
            add,
            lambda lang, changed: moderator.channel_added(
                lang, channel.mention, changed.before, changed.after
            ),
        )

    @SETTINGS.command(name="channel_remove")
    @app_commands.describe(channel="A listed channel where videos should no longer be made")
    async def settings_channel_remove(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | discord.VoiceChannel | discord.ForumChannel,
    ) -> None:
        """Stop allowing videos in a listed channel (an empty list allows every channel)."""
        await self._change_settings(
            interaction,
            lambda current: replace(
                current, allowed_channels=current.allowed_channels - {channel.id}
            ),
            lambda lang, changed: moderator.channel_removed(
                lang, channel.mention, changed.before, changed.after
            ),
        )

    @SETTINGS.command(name="channels_clear")
    async def settings_channels_clear(self, interaction: discord.Interaction) -> None:
        """Allow videos in every channel again (empties the channel list)."""
        await self._change_settings(
            interaction,
            setting(allowed_channels=frozenset()),
            lambda lang, changed: moderator.channels_cleared(lang, changed.before),
        )

    @SETTINGS.command(name="banned_words")
    @app_commands.describe(
        action="Add the words to the list, or remove them from it",
        words="Words or phrases, separated by commas (case does not matter)",
    )
    @app_commands.choices(action=ACTION_CHOICES)
    async def settings_banned_words(
        self,
        interaction: discord.Interaction,
        action: str,
        words: app_commands.Range[str, 1, 1000],
    ) -> None:
        """Add or remove words that prompts may not contain."""
        given = normalise_words(words.split(","))

        def check() -> None:
            if not given:
                raise InvalidInput(moderator.NO_WORDS_GIVEN, field="words")
            if action == "add":
                if too_long := [w for w in given if len(w) > LONGEST_BANNED_WORD]:
                    raise InvalidInput(
                        moderator.banned_word_too_long(LONGEST_BANNED_WORD, too_long[0][:20]),
                        field="words",
                    )
            elif action != "remove":
                raise InvalidInput(moderator.ADD_OR_REMOVE, field="action")

        def edit(current: GuildSettings) -> GuildSettings:
            if action == "remove":
                kept = tuple(w for w in current.banned_words if w not in given)
                return replace(current, banned_words=kept)
            added = normalise_words([*current.banned_words, *given])
            if len(added) > MOST_BANNED_WORDS:
                raise InvalidInput(moderator.too_many_banned_words(MOST_BANNED_WORDS))
            return replace(current, banned_words=added)

        await self._change_settings(
            interaction,
            edit,
            lambda lang, changed: moderator.banned_words_changed(
                lang, action == "add", given, changed.before, changed.after
            ),
            check,
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
        await self._change_settings(
            interaction,
            setting(default_model=model, default_resolution=resolution),
            lambda lang, changed: moderator.defaults_set(lang, model, resolution, changed.before),
            lambda: check_defaults(model, resolution),
        )

    @SETTINGS.command(name="models")
    @app_commands.describe(
        action="Hide the model from this server's members, or offer it again",
        model="The model to hide or show",
    )
    @app_commands.choices(action=MODEL_ACTION_CHOICES, model=ALL_MODEL_CHOICES)
    async def settings_models(
        self, interaction: discord.Interaction, action: str, model: str
    ) -> None:
        """Hide a model from this server's members, or offer it again."""

        def check() -> None:
            if action not in ("hide", "show"):
                raise InvalidInput(moderator.HIDE_OR_SHOW, field="action")
            check_model(model)

        def edit(current: GuildSettings) -> GuildSettings:
            return current.with_model_hidden(model, hidden=action == "hide")

        await self._change_settings(
            interaction,
            edit,
            lambda lang, changed: moderator.models_shown(
                lang, model, action == "hide", changed.before, changed.after
            ),
            check,
        )

    @SETTINGS.command(name="watermark")
    @app_commands.describe(forced="True: every video carries the provider's watermark")
    async def settings_watermark(self, interaction: discord.Interaction, forced: bool) -> None:
        """Choose whether every video must carry the provider's watermark."""
        await self._change_settings(
            interaction,
            setting(force_watermark=bool(forced)),
            lambda lang, changed: moderator.watermark_set(lang, forced, changed.before),
        )

    @SETTINGS.command(name="private_mode")
    @app_commands.describe(
        allowed="True: members may choose to get their videos by DM (/video settings private)"
    )
    async def settings_private_mode(self, interaction: discord.Interaction, allowed: bool) -> None:
        """Allow members to have their videos sent by DM instead of posted in the channel."""
        await self._change_settings(
            interaction,
            setting(private_mode=bool(allowed)),
            lambda lang, changed: moderator.private_mode_set(lang, allowed, changed.before),
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

        def check() -> None:
            if seconds is not None and not SHORTEST_SECONDS <= seconds <= LONGEST_SECONDS:
                raise InvalidInput(
                    moderator.longest_out_of_range(SHORTEST_SECONDS, LONGEST_SECONDS, seconds),
                    field="seconds",
                )

        await self._change_settings(
            interaction,
            setting(max_duration=seconds),
            lambda lang, changed: moderator.longest_duration_set(lang, seconds, changed.before),
            check,
        )

    @SETTINGS.command(name="moderator_role")
    @app_commands.describe(
        role="Members with this role may use /videoadmin; leave empty for Manage Server only"
    )
    async def settings_moderator_role(
        self, interaction: discord.Interaction, role: discord.Role | None = None
    ) -> None:
        """Choose the role whose members may use /videoadmin (empty: Manage Server only)."""

        def check() -> None:
            # The role hands out moderator rights: only members Discord trusts with the server
            # may pick it.
            user = interaction.user
            if not isinstance(user, discord.Member) or not user.guild_permissions.manage_guild:
                raise InvalidInput(moderator.ONLY_MANAGERS_PICK_MODERATORS)
            if role is not None and role.is_default():
                raise InvalidInput(moderator.NOT_EVERYONE)

        await self._change_settings(
            interaction,
            setting(moderator_role_id=None if role is None else role.id),
            lambda lang, changed: moderator.moderator_role_set(
                lang, None if role is None else role.mention, changed.before
            ),
            check,
        )

    @SETTINGS.command(name="language")
    @app_commands.describe(
        language="The language of status messages and posted videos in this server"
    )
    @app_commands.choices(language=LANGUAGE_CHOICES)
    async def settings_language(self, interaction: discord.Interaction, language: str) -> None:
        """Choose the language of the bot's messages to the whole server."""
        chosen = None if language == DISCORD_LANGUAGE else language

        def check() -> None:
            if chosen is not None and chosen not in LANGUAGE_NAMES:
                raise InvalidInput(moderator.no_such_language(language), field="language")

        await self._change_settings(
            interaction,
            setting(language=chosen),
            lambda lang, changed: moderator.language_set(lang, chosen, changed.before),
            check,
        )
