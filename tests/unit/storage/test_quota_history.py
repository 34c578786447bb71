"""Quota history: seconds per UTC day that add up to the usage report, and the ledger of a period.

Each test runs on SQLite and on PostgreSQL (the `database_target` fixture).
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from bot.engine.virtual import VirtualClock
from storage.database import Database
from storage.quota_history import DayUsage
from storage.quotas import QuotaStore
from tests.support.quotas import ALICE, BOB, GUILD, MOD, commit, refund, reserve, utc

CAROL = 13
MONDAY = utc(2026, 11, 23)
NEXT_MONDAY = utc(2026, 11, 30)

pytestmark = pytest.mark.clock_at(MONDAY)  # the `clock` fixture starts then


@pytest.fixture
def store(db: Database, clock: VirtualClock) -> QuotaStore:
    return QuotaStore(db, default_seconds=10_000, clock=clock)


async def use_at(
    db: Database,
    store: QuotaStore,
    clock: VirtualClock,
    at: float,
    user_id: int,
    seconds: int,
    *,
    billed: int | None = None,
    refunded: bool = False,
    guild_id: int | None = GUILD,
) -> None:
    """A video reserved at `at`: then billed, refunded, or still being made (neither)."""
    clock.now = at
    job_id, _ = await reserve(db, store, user_id, seconds, guild_id=guild_id)
    if billed is not None:
        await commit(db, store, job_id, billed)
    elif refunded:
        await refund(db, store, job_id)


async def test_days_add_up_to_the_usage_report(
    db: Database, store: QuotaStore, clock: VirtualClock
) -> None:
    await use_at(db, store, clock, MONDAY - 1, ALICE, 40, billed=40)  # last week
    await use_at(db, store, clock, MONDAY, ALICE, 10, billed=8)  # the first instant counts
    await use_at(db, store, clock, utc(2026, 11, 23, 23, 59, 59), BOB, 5)  # still held
    await use_at(db, store, clock, utc(2026, 11, 24), ALICE, 15, billed=15)  # next day
    await use_at(db, store, clock, utc(2026, 11, 24, 9), ALICE, 6, billed=6)
    await use_at(db, store, clock, utc(2026, 11, 24, 10), CAROL, 20, refunded=True)
    await use_at(db, store, clock, utc(2026, 11, 26, 12), CAROL, 12, billed=12)
    await use_at(db, store, clock, utc(2026, 11, 26, 12), BOB, 9, billed=9, guild_id=GUILD + 1)
    await use_at(db, store, clock, NEXT_MONDAY, BOB, 30, billed=30)  # next week
    clock.now = utc(2026, 11, 27)

    report = await store.usage(GUILD)
    days = await store.daily_usage(GUILD, report.period_start, report.period_end)

    assert days == [
        DayUsage(date(2026, 11, 23), ALICE, 8, 1),
        DayUsage(date(2026, 11, 23), BOB, 5, 1),
        DayUsage(date(2026, 11, 24), ALICE, 21, 2),
        DayUsage(date(2026, 11, 26), CAROL, 12, 1),
    ]
    assert sum(day.seconds for day in days) == report.total_seconds == 46
    assert sum(day.jobs for day in days) == report.jobs == 5
    per_member: Counter[int] = Counter()
    for day in days:
        per_member[day.user_id] += day.seconds
    assert sorted(per_member.items()) == sorted((user, s) for user, s, _ in report.top_users)
    assert report.as_of == utc(2026, 11, 27)


async def test_a_period_without_videos_has_no_days(store: QuotaStore) -> None:
    assert await store.daily_usage(GUILD, MONDAY, NEXT_MONDAY) == []
    assert await store.daily_usage(None, MONDAY, NEXT_MONDAY) == []


async def test_the_ledger_of_a_period_is_whole_and_bounded(
    db: Database, store: QuotaStore, clock: VirtualClock
) -> None:
    await use_at(db, store, clock, MONDAY - 60, ALICE, 5, billed=5)  # last week: two rows
    clock.now = MONDAY + 60
    await store.grant(GUILD, ALICE, 30, actor_id=MOD, reason="contest")
    for hour in range(60):  # more rows than the default limit
        await use_at(db, store, clock, MONDAY + 3600 * (hour + 1), BOB, 1)
    clock.now = NEXT_MONDAY
    await store.set_budget(GUILD, 500, actor_id=MOD)  # next week

    week = await store.ledger(GUILD, since=MONDAY, until=NEXT_MONDAY, limit=None)
    assert len(week) == 61
    assert [entry.at for entry in week] == sorted((entry.at for entry in week), reverse=True)
    assert (week[-1].kind, week[-1].user_id, week[-1].actor_id) == ("grant", ALICE, MOD)
    assert {entry.kind for entry in week[:-1]} == {"reserve"}
    assert len(await store.ledger(GUILD)) == 50  # what callers got before stays the default
    assert len(await store.ledger(GUILD, limit=None)) == 64
    since = await store.ledger(GUILD, since=NEXT_MONDAY, limit=None)
    assert [entry.kind for entry in since] == ["set_budget"]
    bob = await store.ledger(GUILD, user_id=BOB, until=MONDAY + 3 * 3600, limit=None)
    assert [entry.at for entry in bob] == [MONDAY + 7200, MONDAY + 3600]
