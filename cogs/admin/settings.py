"""/videoadmin settings: where videos may be made, banned words, defaults, the moderator role,
the server's language.

Every reply is ephemeral, in the moderator's language, and says what changed and what it was.
Each change is made to the settings as they are when it is written (another moderator may have
changed them since this command read them), and the reply tells what it was just before.
"""

from __future__ import annotations

from dataclasses import replace

import discord
from discord import app_commands

from bot.domain.catalog import DEFAULT_MODEL, LONGEST_SECONDS, MODELS, SHORTEST_SECONDS
from bot.domain.errors import InvalidInput
from bot.domain.guild import GuildSettings, normalise_words
from bot.i18n import LANGUAGE_NAMES, _, _n
from cogs.admin import texts
from cogs.admin.base import SETTINGS, AdminBase, check_defaults
from cogs.choices import MODEL_CHOICES, RESOLUTION_CHOICES, Duration
from cogs.errors import send_private
from cogs.languages import member_language

MOST_CHANNELS = 50
MOST_BANNED_WORDS = 200
LONGEST_BANNED_WORD = 50
DISCORD_LANGUAGE = "discord"  # the language choice that follows Discord's server language

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
        embed = texts.guild_settings(member_language(interaction), settings, quota)
        await send_private(interaction, embed=embed)

    @SETTINGS.command(name="channel_add")
    @app_commands.describe(channel="A channel where members may make videos")
    async def settings_channel_add(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | discord.VoiceChannel | discord.ForumChannel,
    ) -> None:
        """Allow videos in a channel (once any is added, only listed channels allow them)."""
        guild_id, _settings = await self._authorise(interaction)
        lang = member_language(interaction)

        def add(current: GuildSettings) -> GuildSettings:
            listed = current.allowed_channels
            if channel.id in listed:
                return current
            if len(listed) >= MOST_CHANNELS:
                raise InvalidInput(
                    _("At most {n} channels can be listed; remove one first.", n=MOST_CHANNELS)
                )
            return replace(current, allowed_channels=listed | {channel.id})

        before, after = await self._change(interaction, guild_id, add)
        old = before.allowed_channels
        if after == before:
            await send_private(
                interaction,
                content=lang.gettext(
                    "{channel} is already allowed; nothing changed.", channel=channel.mention
                ),
            )
            return
        if old:
            line = lang.gettext(
                "Videos can now also be made in {channel} ({n} channels).",
                channel=channel.mention,
                n=len(old) + 1,
            )
        else:
            line = lang.gettext(
                "Videos can now be made only in {channel} (was every channel).",
                channel=channel.mention,
            )
        await send_private(interaction, content=line)

    @SETTINGS.command(name="channel_remove")
    @app_commands.describe(channel="A listed channel where videos should no longer be made")
    async def settings_channel_remove(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | discord.VoiceChannel | discord.ForumChannel,
    ) -> None:
        """Stop allowing videos in a listed channel (an empty list allows every channel)."""
        guild_id, _settings = await self._authorise(interaction)
        lang = member_language(interaction)
        before, after = await self._change(
            interaction,
            guild_id,
            lambda current: replace(
                current, allowed_channels=current.allowed_channels - {channel.id}
            ),
        )
        if after == before:
            await send_private(
                interaction,
                content=lang.gettext(
                    "{channel} is not on the list; nothing changed.", channel=channel.mention
                ),
            )
            return
        left = after.allowed_channels
        if left:
            line = lang.ngettext(
                "Videos can no longer be made in {channel} ({n} channel left).",
                "Videos can no longer be made in {channel} ({n} channels left).",
                len(left),
                channel=channel.mention,
            )
        else:
            line = lang.gettext(
                "Removed {channel}, the last listed channel: videos can be made in every "
                "channel again.",
                channel=channel.mention,
            )
        await send_private(interaction, content=line)

    @SETTINGS.command(name="channels_clear")
    async def settings_channels_clear(self, interaction: discord.Interaction) -> None:
        """Allow videos in every channel again (empties the channel list)."""
        guild_id, _settings = await self._authorise(interaction)
        lang = member_language(interaction)
        before = await self._set(interaction, guild_id, allowed_channels=frozenset())
        if not before.allowed_channels:
            await send_private(
                interaction,
                content=lang.gettext(
                    "Videos can already be made in every channel; nothing changed."
                ),
            )
            return
        await send_private(
            interaction,
            content=lang.gettext(
                "Videos can be made in every channel again (was only {channels}).",
                channels=texts.channels_text(lang, before.allowed_channels),
            ),
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
        guild_id, _settings = await self._authorise(interaction)
        lang = member_language(interaction)
        given = normalise_words(words.split(","))
        if not given:
            raise InvalidInput(_("Give one or more words, separated by commas."), field="words")
        if action == "add":
            if too_long := [w for w in given if len(w) > LONGEST_BANNED_WORD]:
                raise InvalidInput(
                    _(
                        "A banned word or phrase can be at most {n} characters (“{word}…” is "
                        "longer).",
                        n=LONGEST_BANNED_WORD,
                        word=too_long[0][:20],
                    ),
                    field="words",
                )
        elif action != "remove":
            raise InvalidInput(_("Choose to add or to remove words."), field="action")

        def edit(current: GuildSettings) -> GuildSettings:
            if action == "remove":
                kept = tuple(w for w in current.banned_words if w not in given)
                return replace(current, banned_words=kept)
            added = normalise_words([*current.banned_words, *given])
            if len(added) > MOST_BANNED_WORDS:
                raise InvalidInput(
                    _("At most {n} banned words; remove some first.", n=MOST_BANNED_WORDS)
                )
            return replace(current, banned_words=added)

        before, after = await self._change(interaction, guild_id, edit)
        old, new = before.banned_words, after.banned_words
        changed = [w for w in given if (w in old) != (w in new)]
        if not changed:
            await send_private(
                interaction, content=lang.gettext("The list already says that; nothing changed.")
            )
            return
        message = (
            _n(
                "Banned {words} ({n} banned word in all, was {old}).",
                "Banned {words} ({n} banned words in all, was {old}).",
                len(new),
                words=texts.spoiler(changed),
                old=len(old),
            )
            if action == "add"
            else _n(
                "Unbanned {words} ({n} banned word in all, was {old}).",
                "Unbanned {words} ({n} banned words in all, was {old}).",
                len(new),
                words=texts.spoiler(changed),
                old=len(old),
            )
        )
        await send_private(interaction, content=lang.render(message))

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
        guild_id, _settings = await self._authorise(interaction)
        check_defaults(model, resolution)
        settings = await self._set(
            interaction, guild_id, default_model=model, default_resolution=resolution
        )
        lang = member_language(interaction)
        line = lang.gettext(
            "New videos now default to {model} at {resolution} (was {old_model} at "
            "{old_resolution}).",
            model=texts.model_text(lang, model),
            resolution=texts.resolution_text(lang, resolution),
            old_model=texts.model_text(lang, settings.default_model),
            old_resolution=texts.resolution_text(lang, settings.default_resolution),
        )
        spec = MODELS[model or DEFAULT_MODEL]
        if resolution is not None and resolution not in spec.resolutions:
            line += " " + lang.gettext(
                "{model} cannot make {resolution}, so it keeps its own default.",
                model=spec.name,
                resolution=resolution,
            )
        await send_private(interaction, content=line)

    @SETTINGS.command(name="watermark")
    @app_commands.describe(forced="True: every video carries the provider's watermark")
    async def settings_watermark(self, interaction: discord.Interaction, forced: bool) -> None:
        """Choose whether every video must carry the provider's watermark."""
        guild_id, _settings = await self._authorise(interaction)
        settings = await self._set(interaction, guild_id, force_watermark=bool(forced))
        lang = member_language(interaction)
        await send_private(
            interaction,
            content=lang.gettext(
                "Watermark: {now} (was {was}).",
                now=texts.watermark_text(lang, forced),
                was=texts.watermark_text(lang, settings.force_watermark),
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
        guild_id, _settings = await self._authorise(interaction)
        if seconds is not None and not SHORTEST_SECONDS <= seconds <= LONGEST_SECONDS:
            raise InvalidInput(
                _(
                    "The longest video must be {low}–{high} s, not {s}.",
                    low=SHORTEST_SECONDS,
                    high=LONGEST_SECONDS,
                    s=seconds,
                ),
                field="seconds",
            )
        settings = await self._set(interaction, guild_id, max_duration=seconds)
        lang = member_language(interaction)
        await send_private(
            interaction,
            content=lang.gettext(
                "Longest video: {now} (was {was}).",
                now=texts.duration_limit_text(lang, seconds),
                was=texts.duration_limit_text(lang, settings.max_duration),
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
        guild_id, _settings = await self._authorise(interaction)
        # The role hands out moderator rights, so only those Discord trusts with the server pick it.
        user = interaction.user
        if not isinstance(user, discord.Member) or not user.guild_permissions.manage_guild:
            raise InvalidInput(_("Only members with Manage Server can change the moderator role."))
        if role is not None and role.is_default():
            raise InvalidInput(
                _("Choose a role other than @everyone: every member would moderate.")
            )
        settings = await self._set(
            interaction, guild_id, moderator_role_id=None if role is None else role.id
        )
        lang = member_language(interaction)
        old = settings.moderator_role_id
        was = lang.gettext("Manage Server only") if old is None else f"<@&{old}>"
        if role is None:
            line = lang.gettext(
                "Only members with Manage Server can use /videoadmin now (was {was}).", was=was
            )
        else:
            line = lang.gettext(
                "Members with {role} can now use /videoadmin (was {was}).",
                role=role.mention,
                was=was,
            )
        await send_private(interaction, content=line)

    @SETTINGS.command(name="language")
    @app_commands.describe(
        language="The language of status messages and posted videos in this server"
    )
    @app_commands.choices(language=LANGUAGE_CHOICES)
    async def settings_language(self, interaction: discord.Interaction, language: str) -> None:
        """Choose the language of the bot's messages to the whole server."""
        guild_id, _settings = await self._authorise(interaction)
        chosen = None if language == DISCORD_LANGUAGE else language
        if chosen is not None and chosen not in LANGUAGE_NAMES:
            raise InvalidInput(
                _(
                    "There is no language {code}; choose one of: {names}.",
                    code=language,
                    names=", ".join(LANGUAGE_NAMES.values()),
                ),
                field="language",
            )
        settings = await self._set(interaction, guild_id, language=chosen)
        lang = member_language(interaction)
        await send_private(
            interaction,
            content=lang.gettext(
                "Status messages and posted videos are now in {now} (was {was}). Replies to "
                "each member stay in their own Discord language.",
                now=texts.language_text(lang, chosen),
                was=texts.language_text(lang, settings.language),
            ),
        )
