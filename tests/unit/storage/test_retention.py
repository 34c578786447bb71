"""Retention: evidence and events of long-finished jobs go, everything a report can show stays.

An operator sees: old jobs' provider answers and state changes deleted after the retention days,
jobs still under way (or recently ended) keeping theirs, `/videoadmin quota usage` giving the
same numbers and the same ledger export before and after a prune, the work done in short
batches, and at most one walk an hour. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bot.dashscope import DashScopeClient
from bot.domain.jobs import JobState, Requester
from bot.domain.quota import LedgerEntry, Period
from bot.engine.runner import Engine, EngineConfig
from bot.engine.virtual import VirtualClock
from bot.run.settings import Settings
from bot.usage.report import PeriodUsage, period_ledger, period_usage
from storage.database import Database
from storage.jobs import JobStore
from storage.quotas import QuotaStore
from storage.retention import DAY, HOUR, Retention, cutoffs, shown_since
from tests.support.engine_rig import RecordingNotifier, video_request
from tests.support.quotas import utc

NOW = utc(2027, 3, 15, 12)  # a Monday in March: last month began 1 Feb, 42.5 days earlier
GUILD = 5001
ALICE = Requester(user_id=11, guild_id=GUILD, channel_id=100)
PATH = (JobState.SUBMITTING, JobState.PENDING, JobState.RUNNING, JobState.DOWNLOADING)

pytestmark = pytest.mark.clock_at(NOW)  # the `clock` fixture starts then


@dataclass
class History:
    """Makes jobs as the engine would, at chosen moments of the virtual clock."""

    db: Database
    clock: VirtualClock
    jobs: JobStore
    quotas: QuotaStore

    async def start(self, at: float, *, requester: Requester = ALICE) -> int:
        """A job queued at `at` (its quota reserved), submitted and polled twice: it is running."""
        self.clock.now = at
        async with self.db.transaction() as tx:
            job_id = await self.jobs.create(
                tx, requester=requester, request=video_request(), reserved_seconds=5
            )
            await self.quotas.reserve(
                tx,
                guild_id=requester.guild_id,
                user_id=requester.user_id,
                seconds=5,
                job_id=job_id,
            )
        for state in PATH[:3]:
            async with self.db.transaction() as tx:
                await self.jobs.transition(tx, job_id, state)
                await self.jobs.record_response(tx, job_id, "query", {"status": state.value})
        return job_id

    async def finish(self, job_id: int, at: float, *, delivered: bool = True) -> None:
        """The job ends at `at`: delivered and charged, or failed and refunded."""
        self.clock.now = at
        async with self.db.transaction() as tx:
            if delivered:
                await self.jobs.transition(tx, job_id, JobState.DOWNLOADING, billed_seconds=5)
                await self.jobs.transition(tx, job_id, JobState.DELIVERING)
                await self.jobs.transition(tx, job_id, JobState.DELIVERED)
                await self.quotas.commit(tx, job_id=job_id, billed_seconds=5)
            else:
                await self.jobs.transition(tx, job_id, JobState.FAILED)
                await self.quotas.refund(tx, job_id=job_id, reason="failed")

    async def job(self, at: float, *, lasting: float = 120.0, delivered: bool = True) -> int:
        job_id = await self.start(at)
        await self.finish(job_id, at + lasting, delivered=delivered)
        return job_id

    async def kept(self, job_id: int) -> tuple[int, int]:
        """How many provider answers and state changes `job_id` still has."""
        return len(await self.jobs.responses(job_id)), len(await self.jobs.events(job_id))


@pytest.fixture
def history(db: Database, clock: VirtualClock) -> History:
    return History(db, clock, JobStore(db, clock=clock), QuotaStore(db, clock=clock))


async def count(db: Database, table: str) -> int:
    row = await db.fetch_one(f"SELECT COUNT(*) FROM {table}")
    assert row is not None
    return int(row[0])


async def test_old_finished_jobs_lose_evidence_and_events_others_keep_theirs(
    db: Database, clock: VirtualClock, history: History
) -> None:
    stuck = await history.start(NOW - 120 * DAY)  # still running after 120 days
    slow = await history.start(NOW - 110 * DAY)  # ended only 5 days ago
    old = await history.job(NOW - 100 * DAY)
    old_failed = await history.job(NOW - 95 * DAY, delivered=False)
    await history.finish(slow, NOW - 5 * DAY)
    recent = await history.job(NOW - 10 * DAY)
    edge = await history.job(NOW - 90 * DAY + HOUR)  # ended 89 days and 22 hours ago
    before = {job_id: await history.kept(job_id) for job_id in (stuck, slow, recent, edge)}
    jobs, reservations = await count(db, "jobs"), await count(db, "quota_reservations")
    clock.now = NOW

    deleted = await Retention(db, days=90, clock=clock).run_if_due()

    assert await history.kept(old) == (0, 0)
    assert await history.kept(old_failed) == (0, 0)
    assert {job_id: await history.kept(job_id) for job_id in before} == before
    assert deleted["job_responses"] == 3 + 3
    assert deleted["job_events"] == 7 + 5  # created, 3 steps, then 3 to delivered (or 1 failed)
    # The jobs themselves, and what each was charged, stay.
    assert await count(db, "jobs") == jobs
    assert await count(db, "quota_reservations") == reservations
    job = await history.jobs.get(old)
    assert job is not None and job.state is JobState.DELIVERED and job.billed_seconds == 5


async def usage_view(quotas: QuotaStore) -> list[tuple[PeriodUsage, list[LedgerEntry]]]:
    """What `/videoadmin quota usage` shows, this period and the one before, with its export."""
    shown = []
    for which in ("current", "previous"):
        usage = await period_usage(quotas, GUILD, which)
        shown.append((usage, await period_ledger(quotas, usage.report)))
    return shown


@pytest.mark.parametrize("period", list(Period))
async def test_usage_reports_read_the_same_after_a_prune(
    db: Database, clock: VirtualClock, history: History, period: Period
) -> None:
    # A video every 2 days for 150 days, a grant every 9, and the server's period set long ago.
    clock.now = NOW - 150 * DAY
    await history.quotas.set_guild_default(GUILD, seconds=1000, period=period, actor_id=99)
    for day in range(150, 0, -2):
        await history.job(NOW - day * DAY, delivered=day % 6 != 0)
        if day % 9 == 0:
            await history.quotas.grant(GUILD, ALICE.user_id, 7, actor_id=99, reason="thanks")
    unsettled = await history.start(NOW - HOUR)
    clock.now = NOW
    shown = await usage_view(history.quotas)
    allowance = await history.quotas.allowance(guild_id=GUILD, user_id=ALICE.user_id)
    ledger = await history.quotas.ledger(GUILD, limit=None)

    # One day of retention: the ledger still keeps last month and this one, for every period.
    deleted = await Retention(db, days=1, clock=clock).run_if_due()

    assert await usage_view(history.quotas) == shown
    assert await history.quotas.allowance(guild_id=GUILD, user_id=ALICE.user_id) == allowance
    kept = await history.quotas.ledger(GUILD, limit=None)
    since = shown_since(NOW)
    assert since == utc(2027, 2, 1)
    assert kept == [entry for entry in ledger if entry.at >= since]
    assert deleted["quota_ledger"] == len(ledger) - len(kept) > 0
    assert await history.kept(unsettled) == (3, 4)


async def test_the_ledger_is_kept_for_at_least_the_retention_days(
    db: Database, clock: VirtualClock, history: History
) -> None:
    for day in (200, 120, 100, 80, 50, 10):
        await history.job(NOW - day * DAY)
    ledger = await history.quotas.ledger(GUILD, limit=None)
    clock.now = NOW

    await Retention(db, days=90, clock=clock).run_if_due()

    kept = await history.quotas.ledger(GUILD, limit=None)
    assert kept == [entry for entry in ledger if entry.at >= NOW - 90 * DAY]
    assert {entry.kind for entry in kept} == {"reserve", "commit"} and len(kept) == 6


async def test_a_walk_runs_at_most_once_an_hour(
    db: Database, clock: VirtualClock, history: History
) -> None:
    await history.job(NOW - 100 * DAY)
    clock.now = NOW
    retention = Retention(db, days=90, clock=clock)
    assert sum((await retention.run_if_due()).values()) > 0
    later = await history.job(NOW - 99 * DAY)  # (written into the past)
    clock.now = NOW + 50 * 60

    assert await retention.run_if_due() == {}
    assert await history.kept(later) == (3, 7)

    clock.now = NOW + HOUR
    assert (await retention.run_if_due())["job_responses"] == 3
    assert await history.kept(later) == (0, 0)


async def test_a_backlog_goes_in_small_batches_over_several_calls(
    db: Database, clock: VirtualClock, history: History
) -> None:
    for day in range(120, 100, -1):
        await history.job(NOW - day * DAY)
    responses = await count(db, "job_responses")
    clock.now = NOW
    retention = Retention(db, days=90, clock=clock, batch_size=7, batches_per_run=2)

    calls = []
    while deleted := await retention.run_if_due():
        calls.append(deleted)
        assert len(calls) < 50
    assert all(call["job_responses"] <= 14 and call["job_events"] <= 14 for call in calls)
    assert sum(call["job_responses"] for call in calls) == responses == 60
    assert await count(db, "job_responses") == 0
    assert await count(db, "job_events") == 0
    # The events are the longest walk: 140 rows, 14 a call, then one call to find the end.
    assert len([call for call in calls if any(call.values())]) == 140 // 14
    assert len(calls) <= 140 // 14 + 1


async def test_zero_days_keeps_everything(
    db: Database, clock: VirtualClock, history: History
) -> None:
    await history.job(NOW - 1000 * DAY)
    clock.now = NOW
    assert await Retention(db, days=0, clock=clock).run_if_due() == {}
    assert await count(db, "job_responses") == 3
    assert await count(db, "quota_ledger") == 2


def test_the_ledger_cutoff_covers_every_period_before_the_current_one() -> None:
    # 1 March: the previous month began 28 days earlier, the previous week on 22 February.
    march = utc(2027, 3, 1, 0, 30)
    assert shown_since(march) == utc(2027, 2, 1)
    assert cutoffs(march, 1) == {
        "job_responses": march - DAY,
        "job_events": march - DAY,
        "quota_ledger": utc(2027, 2, 1),
    }
    assert cutoffs(march, 90)["quota_ledger"] == march - 90 * DAY
    # 31 July: the previous month (June) began 60 days earlier.
    assert shown_since(utc(2027, 7, 31, 23)) == utc(2027, 6, 1)


def test_retention_days_come_from_the_settings() -> None:
    assert Settings().engine_config().retention_days == 90
    assert Settings(retention_days=0).engine_config().retention_days == 0
    with pytest.raises(ValueError):
        Settings(retention_days=-1)


async def test_the_scheduler_prunes_when_it_starts_leading(
    db: Database, clock: VirtualClock, history: History, tmp_path: Path
) -> None:
    old = await history.job(NOW - 100 * DAY)
    clock.now = NOW
    async with aiohttp.ClientSession() as session:
        client = DashScopeClient(
            session, api_key=SecretStr("k"), base_url="http://127.0.0.1:9/api/v1"
        )
        engine = Engine(
            db=db,
            jobs=history.jobs,
            quotas=history.quotas,
            notifier=RecordingNotifier(),
            config=EngineConfig(spool_dir=tmp_path / "spool", retention_days=90),
            client=client,
            clock=clock,
        )
        await engine.start()
        try:
            if db.shared:  # PostgreSQL: this one engine takes the scheduler's lock at start
                assert engine.scheduling
            assert await history.kept(old) == (0, 0)
        finally:
            await engine.stop()
