"""A server's settings as moderators set them with /videoadmin settings, and their rules: which
channels are open, which words are banned (storage/guild_settings.py keeps them in SQL)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from bot.domain.catalog import MODELS, RETIRED, MediaType, first_taker
from bot.domain.errors import InvalidInput
from bot.i18n import _


@dataclass(frozen=True)
class GuildSettings:
    guild_id: int
    allowed_channels: frozenset[int] = frozenset()  # empty: every channel
    banned_words: tuple[str, ...] = ()
    default_model: str | None = None
    default_resolution: str | None = None
    force_watermark: bool = False
    max_duration: int | None = None
    moderator_role_id: int | None = None
    language: str | None = None  # Discord locale code for server-wide messages; None: Discord's
    hidden_models: frozenset[str] = frozenset()  # models members of this server may not use
    private_mode: bool = False  # members may have their videos by DM (/video settings private)

    def channel_allowed(self, *channel_ids: int | None) -> bool:
        """Whether any of `channel_ids` (a channel, its parent for threads) is allowed."""
        return not self.allowed_channels or any(c in self.allowed_channels for c in channel_ids)

    def banned_word_in(self, *texts: str | None) -> str | None:
        """The first banned word found as a whole word (case-insensitive) in `texts`, if any."""
        for word in self.banned_words:
            pattern = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE)
            if any(text and pattern.search(text) for text in texts):
                return word
        return None

    def with_model_hidden(self, model: str, *, hidden: bool) -> GuildSettings:
        """These settings with `model` hidden from the server's members (or offered again)."""
        models = self.hidden_models | {model} if hidden else self.hidden_models - {model}
        return replace(self, hidden_models=models)

    def default_model_for(
        self, given: frozenset[MediaType], *, template: bool, retired: frozenset[str] = RETIRED
    ) -> str | None:
        """The server's default model, if it takes what the member gave (a default for videos
        between two pictures does not apply to a member animating one) and is neither hidden
        here nor `retired`."""
        spec = MODELS.get(self.default_model or "")
        if spec is None or spec.name in self.hidden_models | retired:
            return None
        return spec.name if spec.accepts(given, template=template) else None

    def model_for(
        self,
        asked: str | None,
        given: frozenset[MediaType],
        *,
        template: bool,
        retired: frozenset[str] = RETIRED,
    ) -> str:
        """The model a request uses: the one asked for, else the server's default, else the
        first one that takes `given` and is neither hidden here nor retired. Raise InvalidInput,
        naming it, for a model that is retired or hidden here (nothing is read or charged)."""
        model = asked or self.default_model_for(given, template=template, retired=retired)
        model = model or first_taker(
            given, template=template, unavailable=self.hidden_models | retired
        )
        if model in retired:
            raise InvalidInput(
                # Translators: {model} is a model's name ("wan2.6-i2v-flash").
                _(
                    "{model} has been retired and no longer makes videos; please choose another"
                    " model (/video models lists them).",
                    model=model,
                ),
                field="model",
            )
        if model in self.hidden_models:
            raise InvalidInput(
                # Translators: {model} is a model's name ("wan2.6-i2v-flash"); the server's
                # moderators chose not to offer it.
                _(
                    "{model} is not offered on this server; please choose another model"
                    " (/video models lists them).",
                    model=model,
                ),
                field="model",
            )
        return model


# A change to a server's settings: the new settings from the current ones (it may raise to refuse).
Change = Callable[[GuildSettings], GuildSettings]


def normalise_words(words: Iterable[str]) -> tuple[str, ...]:
    """Lower-case, trimmed, unique, in the order given."""
    seen: dict[str, None] = {}
    for word in words:
        cleaned = word.strip().lower()
        if cleaned:
            seen.setdefault(cleaned, None)
    return tuple(seen)
