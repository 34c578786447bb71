"""Quotas: the edge cases a moderator hits, the ledger, and exactness under concurrency."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Sequence

import pytest

from bot.domain.errors import InvalidInput, QuotaExceeded
from bot.domain.quota import Period, period_bounds
from bot.engine.virtual import VirtualClock
from bot.i18n import ENGLISH, Text
from cogs.render import errors as error_words
from storage.connect import open_database
from storage.database import Database, IntegrityError
from storage.quotas import QuotaStore
from tests.support.quotas import ALICE, BOB, GUILD, MOD, commit, insert_job, refund, reserve, utc

# A Wednesday; the week renews on Monday 30 Nov 2026, the month on Tuesday 1 Dec.
WEDNESDAY = utc(2026, 11, 25, 12)
NEXT_MONDAY = utc(2026, 11, 30)

pytestmark = pytest.mark.clock_at(WEDNESDAY)  # the `clock` fixture starts then


@pytest.fixture
def store(db: Database, clock: VirtualClock) -> QuotaStore:
    return QuotaStore(db, default_seconds=60, clock=clock)


async def remaining(store: QuotaStore, user_id: int = ALICE, role_ids: Sequence[int] = ()) -> int:
    allowance = await store.allowance(guild_id=GUILD, user_id=user_id, role_ids=role_ids)
    return allowance.remaining_seconds


async def ledger_kinds(store: QuotaStore, guild_id: int | None = GUILD) -> Counter[str]:
    return Counter(entry.kind for entry in await store.ledger(guild_id, limit=10_000))


# -- periods -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "at", "bounds"),
    [
        (Period.DAY, utc(2026, 11, 25, 23, 59, 59), (utc(2026, 11, 25), utc(2026, 11, 26))),
        (Period.WEEK, utc(2026, 11, 29, 23, 59, 59), (utc(2026, 11, 23), NEXT_MONDAY)),
        (Period.WEEK, NEXT_MONDAY, (NEXT_MONDAY, utc(2026, 12, 7))),
        (Period.MONTH, utc(2026, 11, 30, 23, 59, 59), (utc(2026, 11, 1), utc(2026, 12, 1))),
        (Period.MONTH, utc(2026, 12, 1), (utc(2026, 12, 1), utc(2027, 1, 1))),
        (Period.MONTH, utc(2026, 12, 31, 23), (utc(2026, 12, 1), utc(2027, 1, 1))),
    ],
)
def test_period_bounds(period: Period, at: float, bounds: tuple[float, float]) -> None:
    assert period_bounds(period, at) == bounds


def quota_refusal(refused: QuotaExceeded) -> str:
    return error_words.quota_refusal(ENGLISH, refused)


# -- the member side -----------------------------------------------------------------------------


async def test_exact_balance_passes_and_one_more_second_fails(
    db: Database, store: QuotaStore
) -> None:
    await reserve(db, store, ALICE, 45)
    _, allowance = await reserve(db, store, ALICE, 15)
    assert allowance.remaining_seconds == 0
    assert allowance.held_seconds == allowance.used_seconds == 60
    with pytest.raises(QuotaExceeded) as refused:
        await reserve(db, store, ALICE, 1)
    assert (refused.value.reason, refused.value.needed, refused.value.remaining) == ("user", 1, 0)
    # The refusal rolled back the caller's transaction: no job row, no ledger row.
    assert (await db.fetch_one("SELECT COUNT(*) FROM jobs"))[0] == 2
    assert await ledger_kinds(store) == {"reserve": 2}


async def test_renewal_gives_a_fresh_allowance_and_late_commits_count_last_period(
    db: Database, store: QuotaStore, clock: VirtualClock
) -> None:
    job_id, before = await reserve(db, store, ALICE, 50)
    assert before.renews_at == NEXT_MONDAY
    assert await remaining(store) == 10
    clock.now = NEXT_MONDAY + 3600
    fresh = await store.allowance(guild_id=GUILD, user_id=ALICE)
    assert (fresh.period_start, fresh.remaining_seconds, fresh.held_seconds) == (NEXT_MONDAY, 60, 0)
    assert await commit(db, store, job_id, 50)
    assert await remaining(store) == 60
    last_week = await store.usage(GUILD, at=WEDNESDAY)
    assert (last_week.total_seconds, last_week.held_seconds, last_week.jobs) == (50, 0, 1)
    assert (await store.usage(GUILD)).total_seconds == 0


async def test_grant_adds_this_period_only(
    db: Database, store: QuotaStore, clock: VirtualClock
) -> None:
    await store.grant(GUILD, ALICE, 30, actor_id=MOD, reason="contest winner")
    allowance = await store.allowance(guild_id=GUILD, user_id=ALICE)
    assert (allowance.base_seconds, allowance.granted_seconds) == (60, 30)
    await reserve(db, store, ALICE, 90)
    assert await remaining(store) == 0
    clock.now = NEXT_MONDAY
    renewed = await store.allowance(guild_id=GUILD, user_id=ALICE)
    assert (renewed.granted_seconds, renewed.remaining_seconds) == (0, 60)


async def test_block_refuses_with_the_reason_and_unblock_restores(
    db: Database, store: QuotaStore
) -> None:
    await store.block(GUILD, ALICE, actor_id=MOD, reason="posting gore")
    allowance = await store.allowance(guild_id=GUILD, user_id=ALICE)
    assert (allowance.blocked, allowance.source, allowance.remaining_seconds) == (
        True,
        "blocked",
        0,
    )
    with pytest.raises(QuotaExceeded) as refused:
        await reserve(db, store, ALICE, 5)
    assert refused.value.reason == "blocked"
    assert quota_refusal(refused.value) == "You are blocked from making videos here: posting gore."
    await store.block(GUILD, BOB)
    with pytest.raises(QuotaExceeded) as refused:
        await reserve(db, store, BOB, 5)
    assert re.match(
        "^You are blocked from making videos here by a mod", quota_refusal(refused.value)
    )
    await store.unblock(GUILD, ALICE, actor_id=MOD)
    _, allowance = await reserve(db, store, ALICE, 5)
    assert (allowance.blocked, allowance.block_reason, allowance.remaining_seconds) == (
        False,
        None,
        55,
    )


async def test_override_beats_role_defaults_even_when_lower(
    db: Database, store: QuotaStore
) -> None:
    await store.set_role_default(GUILD, 500, 300)
    await store.set_override(GUILD, ALICE, 10, actor_id=MOD)
    allowance = await store.allowance(guild_id=GUILD, user_id=ALICE, role_ids=[500])
    assert (allowance.base_seconds, allowance.source) == (10, "override")
    with pytest.raises(QuotaExceeded):
        await reserve(db, store, ALICE, 11, role_ids=[500])
    await store.set_override(GUILD, ALICE, None)
    allowance = await store.allowance(guild_id=GUILD, user_id=ALICE, role_ids=[500])
    assert (allowance.base_seconds, allowance.source) == (300, "role:500")
    await store.set_override(GUILD, ALICE, 0)
    assert await remaining(store, role_ids=[500]) == 0


async def test_role_default_is_the_most_generous_of_the_roles_the_member_has(
    store: QuotaStore,
) -> None:
    await store.set_guild_default(GUILD, seconds=60)
    await store.set_role_default(GUILD, 1, 30)
    await store.set_role_default(GUILD, 2, 120)
    await store.set_role_default(GUILD, 3, 500)  # ALICE does not have this one

    async def best(role_ids: Sequence[int]) -> tuple[int, str]:
        allowance = await store.allowance(guild_id=GUILD, user_id=ALICE, role_ids=role_ids)
        return allowance.base_seconds, allowance.source

    assert await best([]) == (60, "default")
    assert await best([1]) == (60, "default")  # a stingier role never lowers the default
    assert await best([1, 2, 77]) == (120, "role:2")
    await store.set_role_default(GUILD, 2, None)
    assert await best([1, 2]) == (60, "default")
    assert (await store.guild_settings(GUILD)).role_defaults == {1: 30, 3: 500}


async def test_guild_budget_is_shared_by_all_members(db: Database, store: QuotaStore) -> None:
    await store.set_budget(GUILD, 100, actor_id=MOD)
    await reserve(db, store, ALICE, 60)
    _, allowance = await reserve(db, store, BOB, 40)
    assert (allowance.remaining_seconds, allowance.budget_remaining) == (20, 0)
    with pytest.raises(QuotaExceeded) as refused:
        await reserve(db, store, BOB, 15)
    assert (refused.value.reason, refused.value.remaining) == ("budget", 0)
    assert quota_refusal(refused.value) == (
        "The server's video budget for this week is used up (0 s left, this video needs 15 s);"
        f" it renews <t:{int(NEXT_MONDAY)}:f>."
    )
    await store.set_budget(GUILD, None)
    await reserve(db, store, BOB, 15)


async def test_commit_of_fewer_billed_seconds_frees_the_difference(
    db: Database, store: QuotaStore
) -> None:
    job_id, _ = await reserve(db, store, ALICE, 15)
    assert await remaining(store) == 45
    assert await commit(db, store, job_id, 10)
    allowance = await store.allowance(guild_id=GUILD, user_id=ALICE)
    assert (allowance.used_seconds, allowance.held_seconds, allowance.remaining_seconds) == (
        10,
        0,
        50,
    )


async def test_commit_then_refund_is_a_no_op(db: Database, store: QuotaStore) -> None:
    job_id, _ = await reserve(db, store, ALICE, 15)
    assert await commit(db, store, job_id, 15)
    assert not await refund(db, store, job_id)
    assert not await commit(db, store, job_id, 15)
    assert await remaining(store) == 45
    assert await ledger_kinds(store) == {"reserve": 1, "commit": 1}


async def test_refund_then_commit_is_a_no_op(db: Database, store: QuotaStore) -> None:
    job_id, _ = await reserve(db, store, ALICE, 15)
    assert await refund(db, store, job_id, "canceled")
    assert not await commit(db, store, job_id, 15)
    assert not await refund(db, store, job_id)
    assert await remaining(store) == 60
    assert await ledger_kinds(store) == {"reserve": 1, "refund": 1}


async def test_the_schema_refuses_to_change_a_settled_reservation(
    db: Database, store: QuotaStore
) -> None:
    job_id, _ = await reserve(db, store, ALICE, 15)
    await commit(db, store, job_id, 15)
    with pytest.raises(IntegrityError, match="settled quota reservation cannot change"):
        async with db.transaction() as tx:
            await tx.execute(
                "UPDATE quota_reservations SET state = 'refunded' WHERE job_id = ?", (job_id,)
            )
    assert await remaining(store) == 45


async def test_settling_a_job_without_a_reservation_is_a_no_op(
    db: Database, store: QuotaStore
) -> None:
    async with db.transaction() as tx:
        job_id = await insert_job(tx, ALICE)
    assert not await commit(db, store, job_id, 5)
    assert not await refund(db, store, job_id)


async def test_reset_forgives_used_seconds_but_not_held_ones(
    db: Database, store: QuotaStore
) -> None:
    await store.set_budget(GUILD, 100)
    done, _ = await reserve(db, store, ALICE, 30)
    await commit(db, store, done, 30)
    in_flight, _ = await reserve(db, store, ALICE, 10)
    assert await store.reset(GUILD, ALICE, actor_id=MOD, reason="bad batch") == 30
    allowance = await store.allowance(guild_id=GUILD, user_id=ALICE)
    assert (allowance.used_seconds, allowance.remaining_seconds) == (10, 50)
    assert allowance.budget_remaining == 90
    # The job in flight settles on its own: a refund brings the member to full, not beyond.
    await refund(db, store, in_flight)
    assert await remaining(store) == 60
    assert await store.reset(GUILD, ALICE) == 0
    assert (await store.allowance(guild_id=GUILD, user_id=ALICE)).budget_remaining == 100
    # The report still shows what was made.
    assert (await store.usage(GUILD)).total_seconds == 30


async def test_exempt_reservations_skip_every_limit_but_are_recorded(
    db: Database, store: QuotaStore
) -> None:
    await store.set_override(GUILD, ALICE, 0)
    await store.set_budget(GUILD, 0)
    await store.block(GUILD, ALICE)
    job_id, _ = await reserve(db, store, ALICE, 500, exempt=True)
    assert await commit(db, store, job_id, 480)
    assert (await store.allowance(guild_id=GUILD, user_id=ALICE)).used_seconds == 0
    assert (await store.usage(GUILD)).total_seconds == 480
    # The headless CLI has no guild: it is stored as 0 and reported as None.
    await reserve(db, store, 0, 15, guild_id=None, exempt=True)
    [entry] = await store.ledger(None)
    assert (entry.guild_id, entry.kind, entry.seconds, entry.reason) == (
        None,
        "reserve",
        15,
        "exempt",
    )


async def test_guild_period_setting_changes_when_allowances_renew(
    db: Database, store: QuotaStore, clock: VirtualClock
) -> None:
    await store.set_guild_default(GUILD, seconds=20, period=Period.MONTH, actor_id=MOD)
    settings = await store.guild_settings(GUILD)
    assert (settings.default_seconds, settings.period, settings.budget_seconds) == (
        20,
        Period.MONTH,
        None,
    )
    await reserve(db, store, ALICE, 20)
    clock.now = NEXT_MONDAY  # a new week, the same month
    with pytest.raises(QuotaExceeded) as refused:
        await reserve(db, store, ALICE, 15)
    assert quota_refusal(refused.value) == (
        "This video needs 15 s of your quota but you have 0 s left this month;"
        f" it renews <t:{int(utc(2026, 12, 1))}:f>."
    )
    clock.now = utc(2026, 12, 1)
    assert await remaining(store) == 20
    await store.set_guild_default(GUILD, seconds=30)  # the period stays as it was
    assert (await store.guild_settings(GUILD)).period == Period.MONTH


async def test_quota_exceeded_message_for_a_member(db: Database, store: QuotaStore) -> None:
    await store.set_override(GUILD, ALICE, 12)
    with pytest.raises(QuotaExceeded) as refused:
        await reserve(db, store, ALICE, 15)
    assert quota_refusal(refused.value) == (
        "This video needs 15 s of your quota but you have 12 s left this week;"
        f" it renews <t:{int(NEXT_MONDAY)}:f>."
    )
    assert refused.value.renews_at == NEXT_MONDAY
    assert refused.value.allowance.source == "override"
    await store.set_override(GUILD, ALICE, None)
    await store.set_budget(GUILD, 3)
    with pytest.raises(QuotaExceeded) as refused:
        await reserve(db, store, ALICE, 15)
    assert re.search(r"used up \(3 s left, this video needs 15 s\)", quota_refusal(refused.value))


async def test_negative_seconds_are_refused_and_leave_no_trace(store: QuotaStore) -> None:
    negative = "The number of seconds cannot be negative (you gave -1)."
    attempts = [
        (store.set_guild_default(GUILD, seconds=-1), negative),
        (store.set_role_default(GUILD, 5, -1), negative),
        (store.set_override(GUILD, ALICE, -1), negative),
        (store.grant(GUILD, ALICE, -5), "A grant must be at least 1 second, not -5."),
        (store.grant(GUILD, ALICE, 0), "A grant must be at least 1 second, not 0."),
        (store.set_budget(GUILD, -1), negative),
    ]
    for attempt, message in attempts:
        with pytest.raises(InvalidInput) as refused:
            await attempt
        assert str(refused.value) == message
        assert isinstance(refused.value.text, Text)
        assert refused.value.field == "seconds"
    assert await ledger_kinds(store) == {}


async def test_every_change_leaves_exactly_one_ledger_row(db: Database, store: QuotaStore) -> None:
    await store.set_guild_default(GUILD, seconds=60, actor_id=MOD)
    await store.set_role_default(GUILD, 7, 90, actor_id=MOD)
    await store.set_override(GUILD, BOB, 30, actor_id=MOD)
    await store.set_budget(GUILD, 1000, actor_id=MOD)
    await store.grant(GUILD, ALICE, 20, actor_id=MOD, reason="event")
    await store.block(GUILD, BOB, actor_id=MOD, reason="spam")
    await store.unblock(GUILD, BOB, actor_id=MOD)
    committed, _ = await reserve(db, store, ALICE, 15)
    refunded, _ = await reserve(db, store, ALICE, 10)
    await commit(db, store, committed, 12)
    await refund(db, store, refunded, "provider failed")
    await store.reset(GUILD, ALICE, actor_id=MOD)
    kinds = await ledger_kinds(store)
    assert kinds == Counter(
        set_default=1,
        set_role=1,
        set_override=1,
        set_budget=1,
        grant=1,
        block=1,
        unblock=1,
        reserve=2,
        commit=1,
        refund=1,
        reset=1,
    )
    entries = {entry.kind: entry for entry in await store.ledger(GUILD)}
    assert (entries["commit"].job_id, entries["commit"].seconds) == (committed, 12)
    assert (entries["refund"].seconds, entries["refund"].reason) == (-10, "provider failed")
    assert (entries["reset"].seconds, entries["reset"].actor_id) == (-12, MOD)
    assert (entries["grant"].user_id, entries["grant"].reason) == (ALICE, "event")
    assert entries["set_role"].reason == "role 7"
    assert entries["reserve"].actor_id is None
    assert [entry.kind for entry in await store.ledger(GUILD, user_id=BOB)] == [
        "unblock",
        "block",
        "set_override",
    ]


async def test_usage_report_ranks_members(db: Database, store: QuotaStore) -> None:
    for user_id, seconds in [(ALICE, 10), (ALICE, 15), (BOB, 30), (13, 5)]:
        job_id, _ = await reserve(db, store, user_id, seconds)
        if user_id == BOB:
            await commit(db, store, job_id, 28)
    canceled, _ = await reserve(db, store, 13, 5)
    await refund(db, store, canceled, "canceled")
    report = await store.usage(GUILD, limit=2)
    assert report.period == Period.WEEK
    assert (report.period_start, report.period_end) == (utc(2026, 11, 23), NEXT_MONDAY)
    assert (report.total_seconds, report.held_seconds, report.jobs) == (58, 30, 4)
    assert report.top_users == [(BOB, 28, 1), (ALICE, 25, 2)]


# -- concurrency ---------------------------------------------------------------------------------


async def _reserve_or_refuse(db: Database, store: QuotaStore) -> int | None:
    try:
        job_id, _ = await reserve(db, store, ALICE, 1)
    except QuotaExceeded:
        return None
    return job_id


async def test_a_thousand_concurrent_reservations_are_exact(
    db: Database, store: QuotaStore
) -> None:
    await store.set_override(GUILD, ALICE, 600)
    results = await asyncio.gather(*(_reserve_or_refuse(db, store) for _ in range(1000)))
    granted = [job_id for job_id in results if job_id is not None]
    assert (len(granted), results.count(None)) == (600, 400)
    assert await remaining(store) == 0
    assert (await db.fetch_one("SELECT COUNT(*) FROM jobs"))[0] == 600


async def test_two_connections_to_one_database_stay_exact(
    database_target: str, store: QuotaStore, clock: VirtualClock
) -> None:
    # The same database the `store` fixture opened, through two more connections (pools).
    target = database_target
    async with await open_database(target) as first, await open_database(target) as second:
        stores = [QuotaStore(first, clock=clock), QuotaStore(second, clock=clock)]
        dbs = [first, second]
        await stores[0].set_override(GUILD, ALICE, 600)
        await stores[1].set_budget(GUILD, 600)
        results = await asyncio.gather(
            *(_reserve_or_refuse(dbs[n % 2], stores[n % 2]) for n in range(1000))
        )
        granted = [job_id for job_id in results if job_id is not None]
        assert (len(granted), results.count(None)) == (600, 400)

        # Settle every job twice at once, a commit and a refund from different connections:
        # exactly one of each pair wins. Even jobs try the commit first, odd ones the refund.
        async def settle(n: int, job_id: int) -> tuple[bool, bool]:
            committing = commit(dbs[n % 2], stores[n % 2], job_id, 1)
            refunding = refund(dbs[(n + 1) % 2], stores[(n + 1) % 2], job_id)
            if n % 2:
                refunded, committed = await asyncio.gather(refunding, committing)
            else:
                committed, refunded = await asyncio.gather(committing, refunding)
            return committed, refunded

        outcomes = await asyncio.gather(*(settle(n, job) for n, job in enumerate(granted)))
        assert all(committed != refunded for committed, refunded in outcomes)
        commits = sum(committed for committed, _ in outcomes)
        allowance = await stores[0].allowance(guild_id=GUILD, user_id=ALICE)
        assert (allowance.used_seconds, allowance.held_seconds) == (commits, 0)
        assert allowance.remaining_seconds == allowance.budget_remaining == 600 - commits
        kinds = await ledger_kinds(stores[1])
        assert kinds["reserve"] == 600
        assert kinds["commit"] + kinds["refund"] == 600
        assert kinds["commit"] == commits
        assert (await stores[1].usage(GUILD)).total_seconds == commits
