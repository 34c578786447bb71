"""A server's settings as moderators set them with /videoadmin settings, and their rules: which
channels are open, which words are banned (storage/guild_settings.py keeps them in SQL)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.domain.catalog import MODELS, MediaType


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

    def default_model_for(self, given: frozenset[MediaType], *, template: bool) -> str | None:
        """The server's default model, if it takes what the member gave (a default for videos
        between two pictures does not apply to a member animating one)."""
        spec = MODELS.get(self.default_model or "")
        return spec.name if spec and spec.accepts(given, template=template) else None


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
