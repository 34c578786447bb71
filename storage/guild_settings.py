"""GuildSettingsStore: per-server settings that moderators change with /videoadmin settings."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from storage.database import Database


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


_COLUMNS = {f.name for f in fields(GuildSettings)} - {"guild_id"}


class GuildSettingsStore:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    async def get(self, guild_id: int) -> GuildSettings:
        """The server's settings (defaults when a moderator never changed any)."""
        row = await self._db.fetch_one(
            "SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,)
        )
        if row is None:
            return GuildSettings(guild_id)
        return GuildSettings(
            guild_id=guild_id,
            allowed_channels=frozenset(json.loads(row["allowed_channels"])),
            banned_words=tuple(json.loads(row["banned_words"])),
            default_model=row["default_model"],
            default_resolution=row["default_resolution"],
            force_watermark=bool(row["force_watermark"]),
            max_duration=row["max_duration"],
            moderator_role_id=row["moderator_role_id"],
            language=row["language"],
        )

    async def update(
        self, guild_id: int, *, actor_id: int | None = None, **changes: Any
    ) -> GuildSettings:
        """Change some settings in one transaction; return the result."""
        unknown = set(changes) - _COLUMNS
        if unknown:
            raise ValueError(f"unknown guild settings: {', '.join(sorted(unknown))}")
        current = replace(await self.get(guild_id), **changes)
        row = {
            "guild_id": guild_id,
            "allowed_channels": json.dumps(sorted(current.allowed_channels)),
            "banned_words": json.dumps(list(current.banned_words)),
            "default_model": current.default_model,
            "default_resolution": current.default_resolution,
            "force_watermark": int(current.force_watermark),
            "max_duration": current.max_duration,
            "moderator_role_id": current.moderator_role_id,
            "language": current.language,
            "updated_at": self._clock(),
            "updated_by": actor_id,
        }
        names = ", ".join(row)
        marks = ", ".join(f":{name}" for name in row)
        updates = ", ".join(f"{name} = excluded.{name}" for name in row if name != "guild_id")
        async with self._db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO guild_settings ({names}) VALUES ({marks})"
                f" ON CONFLICT (guild_id) DO UPDATE SET {updates}",
                row,
            )
        return current


def normalise_words(words: Iterable[str]) -> tuple[str, ...]:
    """Lower-case, trimmed, unique, in the order given."""
    seen: dict[str, None] = {}
    for word in words:
        cleaned = word.strip().lower()
        if cleaned:
            seen.setdefault(cleaned, None)
    return tuple(seen)
