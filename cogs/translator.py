"""Slash commands in the member's language: discord.py's Translator, backed by our catalogs.

`sync` (and `commands --json`) ask it for every name, description and choice in each of
Discord's locales, and send what it answers as `name_localizations`/`description_localizations`.
Names are looked up under their own gettext context, because Discord holds them to stricter
rules (lowercase, no spaces, 1–32 characters). A choice made from the catalogue carries its
message as a `Text` in the `locale_str`'s extras (`text=`), so it is translated as one message;
one marked `verbatim=True` (a language's own name) is the same in every language.
"""

from __future__ import annotations

from discord import Locale, app_commands
from discord.app_commands import TranslationContextLocation as Where

from bot.i18n import CATALOGS, Text, language
from bot.i18n.catalogs import NAME_CONTEXT, CommandString

NAMES = frozenset({Where.command_name, Where.group_name, Where.parameter_name})


class CatalogTranslator(app_commands.Translator):
    async def translate(
        self,
        string: app_commands.locale_str,
        locale: Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        if locale.value not in CATALOGS or string.extras.get("verbatim"):
            return None
        lang = language(locale.value)
        text = string.extras.get("text")
        if isinstance(text, Text):
            translated = lang.render(text)
        elif context.location in NAMES:
            translated = lang.pgettext(NAME_CONTEXT, string.message)
        else:
            translated = lang.gettext(string.message)
        return translated if translated != string.message else None


class RecordingTranslator(app_commands.Translator):
    """Notes every command string it is asked for, to extract them into the catalogs."""

    def __init__(self) -> None:
        self.strings: dict[CommandString, None] = {}

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        if isinstance(string.extras.get("text"), Text) or string.extras.get("verbatim"):
            return None  # found in the code already, or the same in every language
        if context.location is Where.choice_name and string.message == str(context.data.value):
            return None  # a model or a resolution: a name in every language
        where = NAME_CONTEXT if context.location in NAMES else None
        self.strings[(string.message, where)] = None
        return None


def translatable_choice(text: Text, value: str) -> app_commands.Choice[str]:
    """A choice whose name is a catalogue message, translated as a whole."""
    return app_commands.Choice(
        name=app_commands.locale_str(str(text)[:100], text=text), value=value
    )
