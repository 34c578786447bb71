"""Retention: rows nobody can be shown any more are deleted, a short batch at a time.

Deleted:
- the evidence (`job_responses`) and history (`job_events`) of a job that ended (delivered,
  failed, canceled, expired) more than `days` ago. A job still under way keeps its own, however
  old; `/video job` of a pruned job shows its row without the provider's answers.
- `quota_ledger` rows recorded before both `days` ago and the start of the period before the
  current one, for every kind of period (a month being the longest, that is the 1st of last
  month): `/videoadmin quota usage` shows this period and the one before, and exports either's
  ledger; an allowance sums this period's grants and resets from it.
Kept for ever: `jobs` rows (small; each carries its charge) and `quota_reservations` (one per
job, and what every usage report and allowance sums: deleting settled ones would rewrite what
past periods used). `days` = 0 keeps everything.

How: each table is walked from its lowest id up (ids are handed out in commit order under the
write lock, so the oldest rows come first). A page of `batch_size` rows is read outside any
transaction; its doomed rows are deleted in one short write transaction (every write takes the
one write lock on PostgreSQL: storage/postgres.py) whose condition is checked again there; rows
that stay (a job still under way) are stepped over; the walk ends at the first row recorded after
the cutoff. Each call does at most `batches_per_run` pages per table, so a backlog (the first run
on years of rows) spreads over several calls, picking up where the last one stopped; once a walk
is done, the next is due `every_seconds` later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.domain.jobs import FINAL_STATES
from bot.domain.quota import Period, period_bounds
from storage.database import Database

log = logging.getLogger(__name__)

DAY = 86_400.0
HOUR = 3_600.0
_ENDED = ", ".join(f"'{state.value}'" for state in sorted(FINAL_STATES))


@dataclass(frozen=True)
class _Table:
    """How one table is walked: a page of (id, at, doomed) rows, and the delete of a page."""

    name: str
    page: str  # parameters :after, :cutoff, :size
    delete: str  # parameters :first, :last, :cutoff; RETURNING one row per row deleted


def _job_rows(table: str) -> _Table:
    doomed = f"j.state IN ({_ENDED}) AND j.finished_at < :cutoff"
    return _Table(
        name=table,
        page=(
            f"SELECT c.id, c.at, CASE WHEN {doomed} THEN 1 ELSE 0 END AS doomed"
            f" FROM {table} AS c JOIN jobs AS j ON j.id = c.job_id"
            " WHERE c.id > :after ORDER BY c.id LIMIT :size"
        ),
        delete=(
            f"DELETE FROM {table} WHERE id >= :first AND id <= :last AND EXISTS ("
            f" SELECT 1 FROM jobs AS j WHERE j.id = {table}.job_id AND {doomed})"
            " RETURNING id"
        ),
    )


EVIDENCE = _job_rows("job_responses")
EVENTS = _job_rows("job_events")
LEDGER = _Table(
    name="quota_ledger",
    page=(
        "SELECT id, at, CASE WHEN at < :cutoff THEN 1 ELSE 0 END AS doomed FROM quota_ledger"
        " WHERE id > :after ORDER BY id LIMIT :size"
    ),
    delete=(
        "DELETE FROM quota_ledger WHERE id >= :first AND id <= :last AND at < :cutoff RETURNING id"
    ),
)
TABLES = (EVIDENCE, EVENTS, LEDGER)


def shown_since(now: float) -> float:
    """The earliest moment a usage report may show at `now`: the start of the period before the
    current one, whichever kind of period a server uses."""
    return min(period_bounds(period, period_bounds(period, now)[0] - 1)[0] for period in Period)


def cutoffs(now: float, days: int) -> dict[str, float]:
    """Per table, the moment before which its rows go: the evidence and events of jobs that
    ended before `days` ago; ledger rows older than that and than anything a report shows."""
    jobs = now - days * DAY
    return {EVIDENCE.name: jobs, EVENTS.name: jobs, LEDGER.name: min(jobs, shown_since(now))}


class Retention:
    """Deletes what is past keeping when due (the scheduler calls it every tick)."""

    def __init__(
        self,
        db: Database,
        *,
        days: int,
        clock: Callable[[], float] = time.time,
        batch_size: int = 500,
        batches_per_run: int = 4,
        every_seconds: float = HOUR,
    ) -> None:
        if days < 0:
            raise ValueError(f"retention days cannot be negative ({days})")
        self._db = db
        self.days = days
        self._clock = clock
        self._batch_size = batch_size
        self._batches_per_run = batches_per_run
        self._every = every_seconds
        self._due_at: float | None = None  # None: now
        self._after: dict[str, int] = {}  # table -> the last id the current walk looked at
        self._walking: set[str] = set()  # tables whose current walk is not done

    async def run_if_due(self) -> dict[str, int]:
        """Delete a few batches of what is past keeping, if a walk is due or under way; return
        the rows deleted per table ({} when nothing was due). Never raises: a failure is logged
        and tried again when next due."""
        now = self._clock()
        if self.days == 0 or (self._due_at is not None and now < self._due_at):
            return {}
        if not self._walking:  # a new walk
            self._walking = {table.name for table in TABLES}
            self._after.clear()
        try:
            deleted = await self._run(cutoffs(now, self.days))
        except Exception:
            log.exception("Retention failed; trying again in %.0f s", self._every)
            self._walking.clear()
            self._due_at = now + self._every
            return {}
        self._due_at = None if self._walking else now + self._every
        if any(deleted.values()):
            log.info(
                "Retention (%d days): deleted %d provider responses, %d job events and %d quota"
                " ledger rows%s",
                self.days,
                deleted[EVIDENCE.name],
                deleted[EVENTS.name],
                deleted[LEDGER.name],
                "; more next tick" if self._walking else "",
            )
        return deleted

    async def _run(self, cutoff: dict[str, float]) -> dict[str, int]:
        deleted = {table.name: 0 for table in TABLES}
        for table in TABLES:
            for _ in range(self._batches_per_run):
                if table.name not in self._walking:
                    break
                deleted[table.name] += await self._batch(table, cutoff[table.name])
        return deleted

    async def _batch(self, table: _Table, cutoff: float) -> int:
        """Look at the next page of `table`, delete its doomed rows; return how many went."""
        after = self._after.get(table.name, 0)
        page = await self._db.fetch_all(
            table.page, {"after": after, "cutoff": cutoff, "size": self._batch_size}
        )
        looked = []
        done = len(page) < self._batch_size
        for row in page:
            if row["at"] >= cutoff:  # recorded after the cutoff: so is every later row
                done = True
                break
            looked.append(row)
        if done:
            self._walking.discard(table.name)
        if not looked:
            return 0
        self._after[table.name] = int(looked[-1]["id"])
        if not any(row["doomed"] for row in looked):
            return 0  # only rows that stay: no write at all
        async with self._db.transaction() as tx:
            gone = await tx.fetch_all(
                table.delete,
                {"first": int(looked[0]["id"]), "last": int(looked[-1]["id"]), "cutoff": cutoff},
            )
        return len(gone)
