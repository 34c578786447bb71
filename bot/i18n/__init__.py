"""Words for people in their own language: gettext catalogs, chosen by Discord locale.

Messages are written in English in the code and looked up in gettext catalogs
(`bot/locales/<ll>/LC_MESSAGES/wanbot.po`, compiled to `.mo` when the bot is installed; see
`bot/i18n/catalogs.py`). Two ways to write one:

- `lang.gettext("Status")`, `lang.ngettext("{n} video", "{n} videos", n)`: words for a reader
  whose language is known where the words are made (the Discord layer's replies);
- `_("Duration must be {low}–{high} s.", low=2, high=15)`: a `Text`, the message not yet in any
  language, for code that does not know who will read it (the engine's errors and reasons).
  `lang.render(text)` puts it into a language; `str(text)` is English, for logs.

Placeholders are named, `{like_this}`, so that a translation may put them in any order.
"""

from __future__ import annotations

import gettext
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DOMAIN = "wanbot"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locales"

# Discord's locale codes → the gettext catalog that serves them. English is the code's own text.
CATALOGS: Mapping[str, str] = {
    "zh-CN": "zh_CN",
    "zh-TW": "zh_TW",
    "ja": "ja",
    "ko": "ko",
    "es-ES": "es_ES",  # Spain: vídeo, coste, the perfect tense for what just happened
    "es-419": "es_419",  # Latin America: video, costo, agregar, the preterite
    "pt-BR": "pt_BR",
    "fr": "fr",
    "de": "de",
}
ENGLISH_CODE = "en-US"

# Languages a moderator can choose for the server's messages: Discord code → the language's
# own name (shown as it is in every language, as language pickers do).
LANGUAGE_NAMES: Mapping[str, str] = {
    "en-US": "English",
    "zh-CN": "简体中文",
    "zh-TW": "繁體中文",
    "ja": "日本語",
    "ko": "한국어",
    "es-ES": "Español (España)",
    "es-419": "Español (Latinoamérica)",
    "pt-BR": "Português do Brasil",
    "fr": "Français",
    "de": "Deutsch",
}


@dataclass(frozen=True, eq=True)
class Text:
    """A message for people, not yet in any language: its English text (gettext's msgid), its
    plural form and count when it has one, and the values of its placeholders (which may be
    `Text`s themselves)."""

    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)
    plural: str | None = None
    count: int | None = None

    def __str__(self) -> str:
        return ENGLISH.render(self)

    __hash__ = None  # type: ignore[assignment]  # params is a dict

    def to_json(self) -> dict[str, Any]:
        """A form to keep in the database (params must be numbers, strings or `Text`s)."""
        data: dict[str, Any] = {"msgid": self.msgid}
        if self.params:
            data["params"] = {
                k: v.to_json() if isinstance(v, Text) else v for k, v in self.params.items()
            }
        if self.plural is not None:
            data["plural"], data["count"] = self.plural, self.count
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Text:
        params = {
            k: cls.from_json(v) if isinstance(v, dict) else v
            for k, v in data.get("params", {}).items()
        }
        return cls(data["msgid"], params, data.get("plural"), data.get("count"))


def _(msgid: str, /, **params: Any) -> Text:
    """A message to be put into the reader's language later (see the module's docstring)."""
    return Text(msgid, params)


def N_(msgid: str, /) -> str:
    """Marks a message for the catalogs where it is defined, to be translated where it is used
    (`lang.gettext(LABEL)`)."""
    return msgid


def _n(singular: str, plural: str, count: int, /, **params: Any) -> Text:
    """A message with a count, whose wording depends on it: `{n}` is the count."""
    return Text(singular, {"n": count, **params}, plural, count)


class Language:
    """One language's catalog, and how messages are put into it."""

    def __init__(self, code: str, translations: gettext.NullTranslations) -> None:
        self.code = code  # Discord's locale code
        self._translations = translations

    def __repr__(self) -> str:
        return f"Language({self.code!r})"

    def gettext(self, msgid: str, /, **params: Any) -> str:
        return self._format(self._translations.gettext(msgid), params)

    def ngettext(self, singular: str, plural: str, count: int, /, **params: Any) -> str:
        return self._format(
            self._translations.ngettext(singular, plural, count), {"n": count, **params}
        )

    def pgettext(self, context: str, msgid: str, /) -> str:
        return self._translations.pgettext(context, msgid)

    def render(self, text: Text | str) -> str:
        """A `Text` in this language; a plain string (a provider's message, a name) as it is."""
        if isinstance(text, str):
            return text
        params = {k: self.render(v) if isinstance(v, Text) else v for k, v in text.params.items()}
        if text.plural is not None and text.count is not None:
            found = self._translations.ngettext(text.msgid, text.plural, text.count)
        else:
            found = self._translations.gettext(text.msgid)
        return self._format(found, params)

    def _format(self, message: str, params: Mapping[str, Any]) -> str:
        if not params:
            return message
        try:
            return message.format_map(params)
        except (KeyError, IndexError, ValueError):
            # A catalog's translation with a broken placeholder must not break the reply: the
            # tests refuse such catalogs, and English is the safe fallback.
            log.error("Bad placeholders in the %s translation of %r", self.code, message)
            return message


def locale_code(text: str) -> str:
    """A language code as a person types it ("es_419", "pt-br", "en") in Discord's spelling
    ("es-419", "pt-BR", "en-US": every English is the code's own); a code wanbot does not speak
    comes back as given, for the caller to refuse by name."""
    wanted = text.replace("_", "-").casefold()
    if wanted == "en" or wanted.startswith("en-"):
        return ENGLISH_CODE
    for code in CATALOGS:
        if code.casefold() == wanted:
            return code
    return text


@cache
def language(code: str | None) -> Language:
    """The language for a Discord locale code ("ja", "zh-CN"; a `discord.Locale`'s value), or
    English when wanbot does not speak it."""
    catalog = CATALOGS.get(code or "")
    if catalog is None:
        return ENGLISH
    try:
        translations = gettext.translation(DOMAIN, LOCALE_DIR, languages=[catalog])
    except FileNotFoundError:
        log.warning(
            "No compiled catalog for %s in %s (run `make` to compile them); using English",
            code,
            LOCALE_DIR,
        )
        return ENGLISH
    return Language(code or ENGLISH_CODE, translations)


def choose(*codes: str | None) -> Language:
    """The first of `codes` that wanbot speaks (the member's, then the server's), else English."""
    for code in codes:
        if code in CATALOGS:
            return language(code)
        if code and code.startswith("en"):
            return ENGLISH
    return ENGLISH


ENGLISH = Language(ENGLISH_CODE, gettext.NullTranslations())
