"""JobStore: jobs, their state changes, the provider's responses and learned task durations, in
SQL (the job, its states and the moves allowed between them are bot/domain/jobs.py).

Each state change is one row update plus one `job_events` row, inside the caller's transaction so
that the engine can settle quota (QuotaStore.commit/refund) in the same commit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from typing import Any

from bot.domain.errors import InvalidTransition
from bot.domain.jobs import (
    AT_PROVIDER,
    FINAL_STATES,
    Job,
    JobEvent,
    JobState,
    Requester,
    check_transition,
)
from bot.domain.requests import GenerationRequest
from storage.database import Database, Row, Transaction

_COLUMNS = frozenset(f.name for f in fields(Job)) - {"id", "state"}


def job_from_row(row: Row) -> Job:
    """A job from its row."""
    # A row iterates its values (sqlite3.Row and asyncpg.Record alike): ask for the names.
    values = {name: row[name] for name in row.keys()}  # noqa: SIM118
    values["state"] = JobState(values["state"])
    values["by_dm"] = bool(values.get("by_dm"))
    return Job(**values)


class JobStore:
    """All SQL about jobs."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    async def create(
        self,
        tx: Transaction,
        *,
        requester: Requester,
        request: GenerationRequest,
        reserved_seconds: int,
        state: JobState = JobState.QUEUED,
        **extra: Any,
    ) -> int:
        """Insert a job (and its first event); return its id."""
        now = self._clock()
        values: dict[str, Any] = {
            "state": state.value,
            "guild_id": requester.guild_id,
            "channel_id": requester.channel_id,
            "user_id": requester.user_id,
            "model": request.model,
            "resolution": request.resolved_resolution,
            "duration": request.resolved_duration,
            "request_json": request.model_dump_json(),
            "reserved_seconds": reserved_seconds,
            "filesize_limit": requester.filesize_limit,
            "locale": requester.locale,
            "member_locale": requester.member_locale,
            "by_dm": int(requester.by_dm),
            "created_at": now,
            "updated_at": now,
            **_checked(extra),
        }
        names = ", ".join(values)
        marks = ", ".join(f":{name}" for name in values)
        inserted = await tx.fetch_one(
            f"INSERT INTO jobs ({names}) VALUES ({marks}) RETURNING id", values
        )
        assert inserted is not None
        job_id = int(inserted[0])
        await tx.execute(
            "INSERT INTO job_events (job_id, at, from_state, to_state, detail) VALUES (?, ?, NULL, ?, ?)",
            (job_id, now, state.value, "created"),
        )
        return job_id

    async def transition(
        self,
        tx: Transaction,
        job_id: int,
        to: JobState,
        *,
        detail: str | None = None,
        **changes: Any,
    ) -> Job:
        """Move a job to `to` (if its current state allows it), updating `changes`; return it."""
        job = await self.get_in(tx, job_id)
        check_transition(job_id, job.state, to)
        now = self._clock()
        values = {**_checked(changes), "updated_at": now}
        if to.is_final:
            values["finished_at"] = now
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        await tx.execute(
            f"UPDATE jobs SET state = :state, {assignments} WHERE id = :id",
            {**values, "state": to.value, "id": job_id},
        )
        await tx.execute(
            "INSERT INTO job_events (job_id, at, from_state, to_state, detail) VALUES (?, ?, ?, ?, ?)",
            (job_id, now, job.state.value, to.value, detail),
        )
        return await self.get_in(tx, job_id)

    async def update(self, tx: Transaction, job_id: int, **changes: Any) -> None:
        """Change fields that are not the state (a progress message id, attempts)."""
        values = {**_checked(changes), "updated_at": self._clock()}
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        await tx.execute(f"UPDATE jobs SET {assignments} WHERE id = :id", {**values, "id": job_id})

    async def save(self, job_id: int, **changes: Any) -> None:
        """Change fields that are not the state, in a transaction of their own."""
        async with self._db.transaction() as tx:
            await self.update(tx, job_id, **changes)

    async def record_task(
        self, job_id: int, attempt: int, task_id: str, body: dict[str, Any]
    ) -> bool:
        """Write down the task the provider made for `attempt` of a job still being submitted,
        whoever schedules now: a fact, not a decision, so it needs no scheduler's term. The next
        reconciliation adopts it instead of searching. Return whether it was written."""
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "UPDATE jobs SET task_id = ? WHERE id = ? AND state = ? AND attempts = ?"
                " AND task_id IS NULL RETURNING id",
                (task_id, job_id, JobState.SUBMITTING.value, attempt),
            )
            if row is not None:
                await self.record_response(tx, job_id, "submit", body)
        return row is not None

    async def mark_deleted(self, job_id: int, *, by: int) -> bool:
        """Record that a delivered job's posted video was deleted, by whom; the job, its events and
        its ledger rows stay (its seconds stay counted). Return False if it was already marked (or
        is not a delivered job): a second delete, or two at once, marks it once."""
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "UPDATE jobs SET deleted_at = ?, deleted_by = ?, updated_at = ?"
                " WHERE id = ? AND state = ? AND deleted_at IS NULL RETURNING id",
                (self._clock(), by, self._clock(), job_id, JobState.DELIVERED.value),
            )
        return row is not None

    async def record_response(
        self, tx: Transaction, job_id: int, call: str, body: dict[str, Any]
    ) -> None:
        """Keep a provider response as evidence."""
        await tx.execute(
            "INSERT INTO job_responses (job_id, at, call, body_json) VALUES (?, ?, ?, ?)",
            (job_id, self._clock(), call, json.dumps(body, ensure_ascii=False)),
        )

    async def record_duration(
        self, tx: Transaction, kind: tuple[str, str, int], seconds: float
    ) -> None:
        model, resolution, duration = kind
        await tx.execute(
            "INSERT INTO task_durations (model, resolution, duration, seconds, at) VALUES (?, ?, ?, ?, ?)",
            (model, resolution, duration, seconds, self._clock()),
        )

    async def get(self, job_id: int) -> Job | None:
        row = await self._db.fetch_one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return job_from_row(row) if row else None

    async def with_states(self, states: Iterable[JobState]) -> list[Job]:
        """Jobs in any of `states`, oldest first."""
        wanted = [s.value for s in states]
        marks = ", ".join("?" * len(wanted))
        rows = await self._db.fetch_all(
            f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY id", tuple(wanted)
        )
        return [job_from_row(row) for row in rows]

    async def unfinished(self) -> list[Job]:
        return await self.with_states(set(JobState) - FINAL_STATES)

    async def for_user(self, guild_id: int | None, user_id: int, *, limit: int = 10) -> list[Job]:
        """A member's most recent jobs, newest first."""
        rows = await self._db.fetch_all(
            "SELECT * FROM jobs WHERE guild_id IS NOT DISTINCT FROM ? AND user_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, user_id, limit),
        )
        return [job_from_row(row) for row in rows]

    async def reusable(self, dedup_key: str, now: float) -> Job | None:
        """A delivered job with the same inputs and parameters whose result URL still works."""
        row = await self._db.fetch_one(
            "SELECT * FROM jobs WHERE dedup_key = ? AND state = 'delivered' AND reused_job_id IS NULL "
            "AND result_expires_at > ? ORDER BY id DESC LIMIT 1",
            (dedup_key, now),
        )
        return job_from_row(row) if row else None

    async def known_tasks(self, task_ids: Sequence[str]) -> dict[str, str | None]:
        """Which of `task_ids` are our jobs' tasks, each with the name of its job's key."""
        if not task_ids:
            return {}
        marks = ", ".join("?" * len(task_ids))
        rows = await self._db.fetch_all(
            f"SELECT task_id, dashscope_key FROM jobs WHERE task_id IN ({marks})", tuple(task_ids)
        )
        return {row[0]: row[1] for row in rows}

    async def unfinished_counts(self) -> dict[tuple[JobState, str], int]:
        """How many jobs are in each unfinished state, per model (what metrics show)."""
        states = [s.value for s in JobState if not s.is_final]
        rows = await self._db.fetch_all(
            f"SELECT state, model, COUNT(*) FROM jobs WHERE state IN ({', '.join('?' * len(states))})"
            " GROUP BY state, model",
            tuple(states),
        )
        return {(JobState(row[0]), row[1]): int(row[2]) for row in rows}

    async def waiting_per_key(
        self, model: str, *, tx: Transaction | None = None
    ) -> dict[str | None, int]:
        """How many jobs of `model` wait or are at the provider, per key name (None: the first
        key). Read inside `tx` when given, so that a choice and the job it places agree."""
        states = [s.value for s in (JobState.QUEUED, *sorted(AT_PROVIDER))]
        sql = (
            f"SELECT dashscope_key, COUNT(*) FROM jobs WHERE model = ? "
            f"AND state IN ({', '.join('?' * len(states))}) GROUP BY dashscope_key"
        )
        parameters = (model, *states)
        if tx is None:
            rows = await self._db.fetch_all(sql, parameters)
        else:
            rows = await tx.fetch_all(sql, parameters)
        return {row[0]: int(row[1]) for row in rows}

    async def usage_per_key(
        self, guild_id: int, start: float, end: float, *, first_key: str
    ) -> list[tuple[str, int, int]]:
        """Seconds of video and videos per key name in a guild's period [start, end), most first,
        counted as the usage report counts them (billed once delivered, reserved while on their
        way); jobs from before keys had names count for `first_key`."""
        rows = await self._db.fetch_all(
            "SELECT j.dashscope_key,"
            " SUM(CASE r.state WHEN 'committed' THEN r.billed_seconds ELSE r.reserved_seconds END),"
            " COUNT(*)"
            " FROM quota_reservations r JOIN jobs j ON j.id = r.job_id"
            " WHERE r.guild_id = ? AND r.reserved_at >= ? AND r.reserved_at < ?"
            " AND r.state IN ('held', 'committed')"
            " GROUP BY j.dashscope_key",
            (guild_id, start, end),
        )
        totals: dict[str, tuple[int, int]] = {}
        for row in rows:
            name = row[0] if row[0] is not None else first_key
            seconds, jobs = totals.get(name, (0, 0))
            totals[name] = (seconds + int(row[1]), jobs + int(row[2]))
        ranked = sorted(totals.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
        return [(name, seconds, jobs) for name, (seconds, jobs) in ranked]

    async def responses(self, job_id: int) -> list[dict[str, Any]]:
        rows = await self._db.fetch_all(
            "SELECT at, call, body_json FROM job_responses WHERE job_id = ? ORDER BY id", (job_id,)
        )
        return [
            {"at": r["at"], "call": r["call"], "body": json.loads(r["body_json"])} for r in rows
        ]

    async def events(self, job_id: int) -> list[JobEvent]:
        rows = await self._db.fetch_all(
            "SELECT at, from_state, to_state, detail FROM job_events WHERE job_id = ? ORDER BY id",
            (job_id,),
        )
        return [
            JobEvent(
                r["at"],
                JobState(r["from_state"]) if r["from_state"] else None,
                JobState(r["to_state"]),
                r["detail"],
            )
            for r in rows
        ]

    async def durations(self, *, per_kind: int = 50) -> dict[tuple[str, str, int], list[float]]:
        """The most recent provider times per kind of job, oldest first."""
        rows = await self._db.fetch_all(
            "SELECT model, resolution, duration, seconds FROM ("
            "  SELECT *, ROW_NUMBER() OVER (PARTITION BY model, resolution, duration ORDER BY id DESC) AS n"
            "  FROM task_durations) AS recent WHERE n <= ? ORDER BY id",
            (per_kind,),
        )
        found: dict[tuple[str, str, int], list[float]] = {}
        for row in rows:
            found.setdefault((row[0], row[1], row[2]), []).append(row[3])
        return found

    async def get_in(self, tx: Transaction, job_id: int) -> Job:
        """Read a job inside the caller's transaction."""
        row = await tx.fetch_one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise InvalidTransition(f"job {job_id} does not exist")
        return job_from_row(row)


def _checked(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - _COLUMNS
    if unknown:
        raise ValueError(f"unknown job fields: {', '.join(sorted(unknown))}")
    return changes
