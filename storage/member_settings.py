"""MemberSettingsStore: each member's own defaults per server (/video settings), in SQL (the
settings and their rules are bot/domain/member.py).

A change is a function of the settings as they are, applied to the row read inside the write
transaction that stores the result, as for a server's settings (storage/guild_settings.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.domain.member import MemberSettings
from storage.database import Database, Row

# A change to a member's settings: the new ones from the current ones (it may raise to refuse).
MemberChange = Callable[[MemberSettings], MemberSettings]


class MemberSettingsStore:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    async def get(self, guild_id: int, user_id: int) -> MemberSettings:
        """The member's settings in that server (nothing set when they never set any)."""
        row = await self._db.fetch_one(
            "SELECT * FROM member_settings WHERE guild_id = ? AND user_id = ?",
            (guild_id, user_id),
        )
        return _settings(guild_id, user_id, row)

    async def change(
        self, guild_id: int, user_id: int, change: MemberChange
    ) -> tuple[MemberSettings, MemberSettings]:
        """Apply `change` to the member's settings as they are, in one write transaction; return
        them before and after. Nothing is written when nothing changes, or when `change` raises."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO member_settings (guild_id, user_id, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (guild_id, user_id) DO NOTHING",
                (guild_id, user_id, self._clock()),
            )
            lock = " FOR UPDATE" if self._db.dialect == "postgres" else ""
            row = await tx.fetch_one(
                f"SELECT * FROM member_settings WHERE guild_id = ? AND user_id = ?{lock}",
                (guild_id, user_id),
            )
            before = _settings(guild_id, user_id, row)
            after = change(before)
            if after != before:
                await tx.execute(
                    "UPDATE member_settings SET model = :model, resolution = :resolution,"
                    " duration = :duration, private = :private, updated_at = :updated_at"
                    " WHERE guild_id = :guild_id AND user_id = :user_id",
                    {
                        "model": after.model,
                        "resolution": after.resolution,
                        "duration": after.duration,
                        "private": int(after.private),
                        "updated_at": self._clock(),
                        "guild_id": guild_id,
                        "user_id": user_id,
                    },
                )
        return before, after


def _settings(guild_id: int, user_id: int, row: Row | None) -> MemberSettings:
    if row is None:
        return MemberSettings(guild_id, user_id)
    return MemberSettings(
        guild_id=guild_id,
        user_id=user_id,
        model=row["model"],
        resolution=row["resolution"],
        duration=row["duration"],
        private=bool(row["private"]),
    )
