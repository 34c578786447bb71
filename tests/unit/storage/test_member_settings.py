"""A member's own defaults persist per member per server, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.domain.jobs import Requester
from bot.domain.member import MemberSettings
from bot.domain.requests import GenerationRequest
from storage.connect import open_database
from storage.guild_settings import GuildSettingsStore
from storage.jobs import JobStore
from storage.member_settings import MemberSettingsStore


async def test_defaults_persist_per_member_per_server(database_target: str) -> None:
    async with await open_database(database_target) as db:
        store = MemberSettingsStore(db)
        assert await store.get(10, 1) == MemberSettings(10, 1)
        before, after = await store.change(
            10, 1, lambda s: replace(s, model="wan2.6-i2v", duration=10, private=True)
        )
        assert before == MemberSettings(10, 1)
        assert after == MemberSettings(10, 1, "wan2.6-i2v", None, 10, True)
        assert await store.get(10, 1) == after
        assert await store.get(20, 1) == MemberSettings(20, 1), "another server: its own"
        assert await store.get(10, 2) == MemberSettings(10, 2), "another member: their own"
        await store.change(10, 1, lambda s: s.cleared("all"))
        assert await store.get(10, 1) == MemberSettings(10, 1)


async def test_a_refused_change_writes_nothing_and_changes_do_not_lose_each_other(
    database_target: str,
) -> None:
    async with await open_database(database_target) as db:
        store = MemberSettingsStore(db)

        def refuse(now: MemberSettings) -> MemberSettings:
            raise ValueError("refused")

        with pytest.raises(ValueError):
            await store.change(10, 1, refuse)
        assert await store.get(10, 1) == MemberSettings(10, 1)
        await asyncio.gather(
            store.change(10, 1, lambda s: replace(s, model="wan2.6-i2v")),
            store.change(10, 1, lambda s: replace(s, resolution="720P")),
        )
        mine = await store.get(10, 1)
        assert (mine.model, mine.resolution) == ("wan2.6-i2v", "720P")


async def test_private_mode_is_a_server_setting_and_a_job_keeps_its_dm(
    database_target: str,
) -> None:
    async with await open_database(database_target) as db:
        settings = GuildSettingsStore(db)
        assert (await settings.get(10)).private_mode is False, "off until a moderator allows it"
        assert (await settings.update(10, private_mode=True)).private_mode is True
        assert (await settings.get(10)).private_mode is True
        jobs = JobStore(db)
        request = GenerationRequest.build(model="wan2.7-t2v", prompt="A lighthouse at dusk")
        async with db.transaction() as tx:
            by_dm = await jobs.create(
                tx,
                requester=Requester(1, 10, 100, by_dm=True),
                request=request,
                reserved_seconds=5,
            )
            here = await jobs.create(
                tx, requester=Requester(1, 10, 100), request=request, reserved_seconds=5
            )
        found_dm, found_here = await jobs.get(by_dm), await jobs.get(here)
        assert found_dm is not None and found_dm.by_dm is True
        assert found_here is not None and found_here.by_dm is False
