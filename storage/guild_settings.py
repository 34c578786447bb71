"""GuildSettingsStore: per-server settings that moderators change with /videoadmin settings, in
SQL (the settings and their rules are bot/domain/guild.py).

A change is a function of the settings as they are: it is applied to the row read inside the
write transaction that stores the result, so two moderators changing settings at once (two
channels added, or the watermark and the longest duration) both keep their change.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

from bot.domain.guild import Change, GuildSettings
from storage.database import Database, Row, Transaction

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
        return _settings(guild_id, row)

    async def change(
        self, guild_id: int, change: Change, *, actor_id: int | None = None
    ) -> tuple[GuildSettings, GuildSettings]:
        """Apply `change` to the current settings in one write transaction; return them before
        and after. Nothing is written when nothing changes, or when `change` raises."""
        async with self._db.transaction() as tx:
            # The row is made first, so that PostgreSQL can lock it: a writer that does not
            # serialise every transaction still waits here for the other change of this server.
            await tx.execute(
                "INSERT INTO guild_settings (guild_id, updated_at) VALUES (?, ?)"
                " ON CONFLICT (guild_id) DO NOTHING",
                (guild_id, self._clock()),
            )
            lock = " FOR UPDATE" if self._db.dialect == "postgres" else ""
            row = await tx.fetch_one(
                f"SELECT * FROM guild_settings WHERE guild_id = ?{lock}", (guild_id,)
            )
            before = _settings(guild_id, row)
            after = change(before)
            if after != before:
                await self._write(tx, after, actor_id)
        return before, after

    async def update(
        self, guild_id: int, *, actor_id: int | None = None, **changes: Any
    ) -> GuildSettings:
        """Set some settings (the others stay as they are now); return the result."""
        unknown = set(changes) - _COLUMNS
        if unknown:
            raise ValueError(f"unknown guild settings: {', '.join(sorted(unknown))}")
        _, after = await self.change(
            guild_id, lambda current: replace(current, **changes), actor_id=actor_id
        )
        return after

    async def _write(self, tx: Transaction, settings: GuildSettings, actor_id: int | None) -> None:
        row = {
            "allowed_channels": json.dumps(sorted(settings.allowed_channels)),
            "banned_words": json.dumps(list(settings.banned_words)),
            "default_model": settings.default_model,
            "default_resolution": settings.default_resolution,
            "force_watermark": int(settings.force_watermark),
            "max_duration": settings.max_duration,
            "moderator_role_id": settings.moderator_role_id,
            "language": settings.language,
            "hidden_models": json.dumps(sorted(settings.hidden_models)),
            "private_mode": int(settings.private_mode),
            "updated_at": self._clock(),
            "updated_by": actor_id,
        }
        assignments = ", ".join(f"{name} = :{name}" for name in row)
        await tx.execute(
            f"UPDATE guild_settings SET {assignments} WHERE guild_id = :guild_id",
            {**row, "guild_id": settings.guild_id},
        )


def _settings(guild_id: int, row: Row | None) -> GuildSettings:
    """Settings from their row (the defaults when there is none)."""
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
        hidden_models=frozenset(json.loads(row["hidden_models"])),
        private_mode=bool(row["private_mode"]),
    )
