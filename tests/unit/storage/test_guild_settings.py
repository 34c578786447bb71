"""Per-server settings persist, default sensibly, and answer the questions the cogs ask."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.domain.guild import Change, GuildSettings, normalise_words
from storage.connect import open_database
from storage.guild_settings import GuildSettingsStore


async def test_defaults_then_updates_persist(database_target: str) -> None:
    async with await open_database(database_target) as db:
        store = GuildSettingsStore(db)
        assert await store.get(1) == GuildSettings(1)
        await store.update(1, allowed_channels=frozenset({5, 6}), force_watermark=True, actor_id=9)
        await store.update(1, max_duration=8)
        settings = await store.get(1)
        assert settings.allowed_channels == {5, 6}
        assert settings.force_watermark and settings.max_duration == 8
        assert await store.get(2) == GuildSettings(2)


async def test_hidden_models_persist(database_target: str) -> None:
    async with await open_database(database_target) as db:
        store = GuildSettingsStore(db)
        await store.change(1, lambda s: s.with_model_hidden("wan2.6-i2v", hidden=True))
        assert (await store.get(1)).hidden_models == {"wan2.6-i2v"}
        await store.change(1, lambda s: s.with_model_hidden("wan2.6-i2v", hidden=False))
        assert (await store.get(1)).hidden_models == frozenset()


def test_channels_and_banned_words() -> None:
    settings = GuildSettings(1, allowed_channels=frozenset({5}), banned_words=("gore", "nsfw"))
    assert settings.channel_allowed(5)
    assert settings.channel_allowed(77, 5)  # a thread whose parent is allowed
    assert not settings.channel_allowed(6)
    assert GuildSettings(1).channel_allowed(123)
    assert settings.banned_word_in("Some GORE here") == "gore"
    assert settings.banned_word_in("gorgeous scenery", None) is None
    assert normalise_words([" Gore ", "gore", "", "NSFW"]) == ("gore", "nsfw")


async def test_each_change_applies_to_the_row_as_it_is_then(database_target: str) -> None:
    async with await open_database(database_target) as db:
        store = GuildSettingsStore(db)

        def add(channel_id: int) -> Change:
            return lambda now: replace(now, allowed_channels=now.allowed_channels | {channel_id})

        changes = await asyncio.gather(*(store.change(1, add(c), actor_id=9) for c in range(5)))
        assert (await store.get(1)).allowed_channels == set(range(5))
        assert sorted(len(before.allowed_channels) for before, _ in changes) == [0, 1, 2, 3, 4]

        def refuse(now: GuildSettings) -> GuildSettings:
            raise ValueError("a moderator's change that does not hold: nothing is written")

        with pytest.raises(ValueError):
            await store.change(1, refuse)
        assert (await store.get(1)).allowed_channels == set(range(5))
