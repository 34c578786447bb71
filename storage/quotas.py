"""Quotas in seconds of output video: reserve when queued, commit what was billed, else refund.

A member's allowance for the guild's current period is their override, or the most generous of
the guild default and their roles' defaults, plus this period's grants; a block makes it zero.
Seconds count against the period in which they were reserved. Every change is one transaction
that writes one ledger row: moderator changes here, reservations through the triggers in
0002_quotas.sql. Grants and resets live only in the (append-only) ledger.

guild_id None (DMs, the headless CLI) is stored as 0.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

import aiosqlite

from bot.errors import InvalidInput, WanbotError
from storage.database import Database

log = logging.getLogger(__name__)

NO_GUILD = 0


class Period(StrEnum):
    """How often allowances renew (all in UTC)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


_PERIOD_PHRASE = {Period.DAY: "today", Period.WEEK: "this week", Period.MONTH: "this month"}


def period_bounds(period: Period, at: float) -> tuple[float, float]:
    """Return the [start, end) epoch seconds of the period containing `at`: days and weeks
    (from Monday) start at 00:00 UTC, months on the 1st."""
    day = datetime.fromtimestamp(at, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    match Period(period):
        case Period.DAY:
            start, end = day, day + timedelta(days=1)
        case Period.WEEK:
            start = day - timedelta(days=day.weekday())
            end = start + timedelta(days=7)
        case Period.MONTH:
            start = day.replace(day=1)
            if start.month == 12:
                end = start.replace(year=start.year + 1, month=1)
            else:
                end = start.replace(month=start.month + 1)
    return start.timestamp(), end.timestamp()


def format_renewal(at: float) -> str:
    """Render a renewal time the way the messages say it: 'Mon 30 Nov at 00:00 UTC'."""
    moment = datetime.fromtimestamp(at, UTC)
    return f"{moment:%a} {moment.day} {moment:%b} at {moment:%H:%M} UTC"


@dataclass(frozen=True)
class Allowance:
    """A member's quota in one guild for the current period, as of one moment."""

    guild_id: int | None
    user_id: int
    period: Period
    period_start: float
    renews_at: float
    base_seconds: int  # the override, or the best of the guild default and role defaults
    source: str  # "override" | "role:<id>" | "default" | "blocked"
    granted_seconds: int
    used_seconds: int  # committed + held − forgiven, this period
    held_seconds: int
    remaining_seconds: int
    blocked: bool
    block_reason: str | None
    budget_seconds: int | None
    budget_remaining: int | None


class QuotaExceeded(WanbotError):
    """A reservation was refused; the message is written for the member who asked."""

    def __init__(
        self,
        reason: Literal["user", "budget", "blocked"],
        *,
        needed: int,
        remaining: int,
        allowance: Allowance,
    ) -> None:
        self.reason = reason
        self.needed = needed
        self.remaining = remaining
        self.renews_at = allowance.renews_at
        self.allowance = allowance
        super().__init__(self._message())

    def _message(self) -> str:
        period = _PERIOD_PHRASE[self.allowance.period]
        renews = format_renewal(self.renews_at)
        if self.reason == "blocked":
            why = self.allowance.block_reason
            return (
                f"You are blocked from making videos here: {why}."
                if why
                else "You are blocked from making videos here by a moderator."
            )
        if self.reason == "budget":
            return (
                f"The server's video budget for {period} is used up ({self.remaining} s left, "
                f"this video needs {self.needed} s); it renews on {renews}."
            )
        return (
            f"This video needs {self.needed} s of your quota but you have {self.remaining} s "
            f"left {period}; it renews on {renews}."
        )


@dataclass(frozen=True)
class UsageReport:
    """What a guild used in one period: committed plus still-held seconds, resets not deducted."""

    guild_id: int | None
    period: Period
    period_start: float
    period_end: float
    total_seconds: int  # committed (billed) + held, exempt jobs included
    held_seconds: int
    jobs: int
    top_users: list[tuple[int, int, int]]  # (user_id, seconds, jobs), most first
    budget_seconds: int | None


@dataclass(frozen=True)
class LedgerEntry:
    """One change to quotas, as recorded."""

    id: int
    at: float
    guild_id: int | None
    user_id: int | None
    job_id: int | None
    kind: str
    seconds: int
    actor_id: int | None
    reason: str | None


@dataclass(frozen=True)
class GuildQuotaSettings:
    """A guild's quota settings (the bot's defaults where the guild set nothing)."""

    guild_id: int
    default_seconds: int
    period: Period
    budget_seconds: int | None
    role_defaults: dict[int, int]


# One statement, so that a member's numbers are read from one snapshot. The period depends on
# the guild's row, so the bounds of all three periods are passed in and the right one picked.
_STATE_SQL = """
WITH settings AS (
    SELECT
        COALESCE(g.default_seconds, :default_seconds) AS default_seconds,
        COALESCE(g.period, :default_period) AS period,
        g.budget_seconds AS budget_seconds
    FROM (SELECT 1) AS one
    LEFT JOIN quota_guilds AS g ON g.guild_id = :guild_id
),
bounds AS (
    SELECT
        settings.*,
        CASE settings.period
            WHEN 'day' THEN :day_start WHEN 'week' THEN :week_start ELSE :month_start
        END AS period_start,
        CASE settings.period
            WHEN 'day' THEN :day_end WHEN 'week' THEN :week_end ELSE :month_end
        END AS period_end
    FROM settings
)
SELECT
    b.default_seconds, b.period, b.budget_seconds, b.period_start, b.period_end,
    m.override_seconds, COALESCE(m.blocked, 0) AS blocked, m.block_reason,
    r.role_id, r.seconds AS role_seconds,
    (SELECT COALESCE(SUM(l.seconds), 0) FROM quota_ledger AS l
        WHERE l.guild_id = :guild_id AND l.kind = 'grant'
          AND l.at >= b.period_start AND l.at < b.period_end AND l.user_id = :user_id
    ) AS granted,
    (SELECT -COALESCE(SUM(l.seconds), 0) FROM quota_ledger AS l
        WHERE l.guild_id = :guild_id AND l.kind = 'reset'
          AND l.at >= b.period_start AND l.at < b.period_end AND l.user_id = :user_id
    ) AS forgiven,
    (SELECT COALESCE(SUM(q.billed_seconds), 0) FROM quota_reservations AS q
        WHERE q.guild_id = :guild_id AND q.user_id = :user_id
          AND q.reserved_at >= b.period_start AND q.reserved_at < b.period_end
          AND q.state = 'committed' AND q.exempt = 0
    ) AS committed,
    (SELECT COALESCE(SUM(q.reserved_seconds), 0) FROM quota_reservations AS q
        WHERE q.guild_id = :guild_id AND q.user_id = :user_id
          AND q.reserved_at >= b.period_start AND q.reserved_at < b.period_end
          AND q.state = 'held' AND q.exempt = 0
    ) AS held,
    CASE WHEN b.budget_seconds IS NULL THEN NULL ELSE
        (SELECT COALESCE(SUM(CASE q.state WHEN 'committed' THEN q.billed_seconds
                                          ELSE q.reserved_seconds END), 0)
            FROM quota_reservations AS q
            WHERE q.guild_id = :guild_id
              AND q.reserved_at >= b.period_start AND q.reserved_at < b.period_end
              AND q.state IN ('held', 'committed') AND q.exempt = 0)
        + (SELECT COALESCE(SUM(l.seconds), 0) FROM quota_ledger AS l
            WHERE l.guild_id = :guild_id AND l.kind = 'reset'
              AND l.at >= b.period_start AND l.at < b.period_end)
    END AS guild_used
FROM bounds AS b
LEFT JOIN quota_members AS m ON m.guild_id = :guild_id AND m.user_id = :user_id
LEFT JOIN (
    SELECT role_id, seconds FROM quota_role_defaults
    WHERE guild_id = :guild_id AND role_id IN (SELECT value FROM json_each(:role_ids))
    ORDER BY seconds DESC, role_id
    LIMIT 1
) AS r ON 1
"""


class QuotaStore:
    """Reservations, moderator settings and the ledger, all in SQLite."""

    def __init__(
        self,
        db: Database,
        *,
        default_seconds: int = 60,
        default_period: Period = Period.WEEK,
        clock: Callable[[], float] = time.time,
    ) -> None:
        _check_not_negative(default_seconds)
        self._db = db
        self._default_seconds = default_seconds
        self._default_period = Period(default_period)
        self._clock = clock

    # -- member side: inside the caller's transaction ------------------------------------------

    async def reserve(
        self,
        tx: aiosqlite.Connection,
        *,
        guild_id: int | None,
        user_id: int,
        role_ids: Sequence[int] = (),
        seconds: int,
        job_id: int,
        exempt: bool = False,
    ) -> Allowance:
        """Hold `seconds` for `job_id`, or raise QuotaExceeded; return the allowance after it."""
        if seconds < 1:
            raise ValueError(f"a reservation needs at least 1 second, not {seconds}")
        now = self._clock()
        stored = _stored(guild_id)
        # execute_fetchall is one trip to aiosqlite's thread; execute + fetchone + close are three.
        [row] = await tx.execute_fetchall(
            _STATE_SQL, self._state_parameters(stored, user_id, role_ids, now)
        )
        before = _allowance(row, guild_id, user_id)
        if not exempt:
            check_fits(before, seconds)
        await tx.execute(
            "INSERT INTO quota_reservations"
            " (job_id, guild_id, user_id, reserved_seconds, state, exempt, reserved_at)"
            " VALUES (?, ?, ?, ?, 'held', ?, ?)",
            (job_id, stored, user_id, seconds, int(exempt), now),
        )
        if exempt:
            return before
        return dataclasses.replace(
            before,
            used_seconds=before.used_seconds + seconds,
            held_seconds=before.held_seconds + seconds,
            remaining_seconds=max(0, before.remaining_seconds - seconds),
            budget_remaining=(
                None if before.budget_remaining is None else before.budget_remaining - seconds
            ),
        )

    async def commit(self, tx: aiosqlite.Connection, *, job_id: int, billed_seconds: int) -> bool:
        """Charge the billed seconds for `job_id`; False if it was already settled (or never held)."""
        if billed_seconds < 0:
            raise ValueError(f"billed seconds cannot be negative ({billed_seconds})")
        # `state = 'held'` makes the first settlement win; the trigger writes the ledger row.
        settled = await tx.execute_fetchall(
            "UPDATE quota_reservations SET state = 'committed', billed_seconds = ?, settled_at = ?"
            " WHERE job_id = ? AND state = 'held' RETURNING job_id",
            (billed_seconds, self._clock(), job_id),
        )
        if not settled:
            await self._explain_no_op(tx, job_id, "commit")
            return False
        return True

    async def refund(self, tx: aiosqlite.Connection, *, job_id: int, reason: str) -> bool:
        """Give back the seconds held for `job_id`; False if it was already settled (or never held)."""
        settled = await tx.execute_fetchall(
            "UPDATE quota_reservations SET state = 'refunded', settled_at = ?, settle_reason = ?"
            " WHERE job_id = ? AND state = 'held' RETURNING job_id",
            (self._clock(), reason, job_id),
        )
        if not settled:
            await self._explain_no_op(tx, job_id, "refund")
            return False
        return True

    async def allowance(
        self, *, guild_id: int | None, user_id: int, role_ids: Sequence[int] = ()
    ) -> Allowance:
        """Return a member's allowance now (read-only)."""
        row = await self._db.fetch_one(
            _STATE_SQL, self._state_parameters(_stored(guild_id), user_id, role_ids, self._clock())
        )
        assert row is not None
        return _allowance(row, guild_id, user_id)

    # -- moderator side: one transaction each -------------------------------------------------

    async def set_guild_default(
        self,
        guild_id: int,
        *,
        seconds: int,
        period: Period | None = None,
        actor_id: int | None = None,
    ) -> None:
        """Set the allowance every member gets (and optionally how often it renews)."""
        _check_not_negative(seconds)
        period = None if period is None else Period(period)
        now = self._clock()
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO quota_guilds (guild_id, default_seconds, period, updated_at)"
                " VALUES (:guild_id, :seconds, COALESCE(:period, :default_period), :now)"
                " ON CONFLICT (guild_id) DO UPDATE SET default_seconds = excluded.default_seconds,"
                " period = COALESCE(:period, quota_guilds.period), updated_at = excluded.updated_at",
                {
                    "guild_id": guild_id,
                    "seconds": seconds,
                    "period": period,
                    "default_period": self._default_period,
                    "now": now,
                },
            )
            reason = None if period is None else f"period: {period}"
            await self._log(tx, now, guild_id, None, "set_default", seconds, actor_id, reason)
        log.info("Guild %s default set to %s s (period %s)", guild_id, seconds, period)

    async def set_role_default(
        self, guild_id: int, role_id: int, seconds: int | None, *, actor_id: int | None = None
    ) -> None:
        """Set the allowance a role gives (None removes it)."""
        now = self._clock()
        async with self._db.transaction() as tx:
            if seconds is None:
                await tx.execute(
                    "DELETE FROM quota_role_defaults WHERE guild_id = ? AND role_id = ?",
                    (guild_id, role_id),
                )
                reason = f"role {role_id} removed"
            else:
                _check_not_negative(seconds)
                await tx.execute(
                    "INSERT INTO quota_role_defaults (guild_id, role_id, seconds, updated_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (guild_id, role_id) DO UPDATE"
                    " SET seconds = excluded.seconds, updated_at = excluded.updated_at",
                    (guild_id, role_id, seconds, now),
                )
                reason = f"role {role_id}"
            await self._log(tx, now, guild_id, None, "set_role", seconds or 0, actor_id, reason)

    async def set_override(
        self, guild_id: int, user_id: int, seconds: int | None, *, actor_id: int | None = None
    ) -> None:
        """Give one member an allowance that beats every default (None removes it)."""
        if seconds is not None:
            _check_not_negative(seconds)
        now = self._clock()
        async with self._db.transaction() as tx:
            await self._upsert_member(tx, guild_id, user_id, now, override_seconds=seconds)
            reason = "override removed" if seconds is None else None
            await self._log(
                tx, now, guild_id, user_id, "set_override", seconds or 0, actor_id, reason
            )

    async def grant(
        self,
        guild_id: int,
        user_id: int,
        seconds: int,
        *,
        actor_id: int | None = None,
        reason: str | None = None,
    ) -> None:
        """Add seconds to a member's allowance for the current period only."""
        if seconds < 1:
            raise InvalidInput(
                f"A grant must be at least 1 second, not {seconds}.", field="seconds"
            )
        now = self._clock()
        async with self._db.transaction() as tx:
            await self._log(tx, now, guild_id, user_id, "grant", seconds, actor_id, reason)

    async def reset(
        self,
        guild_id: int,
        user_id: int,
        *,
        actor_id: int | None = None,
        reason: str | None = None,
    ) -> int:
        """Forgive the seconds a member has used this period; return how many were forgiven."""
        now = self._clock()
        async with self._db.transaction() as tx:
            [row] = await tx.execute_fetchall(
                _STATE_SQL, self._state_parameters(guild_id, user_id, (), now)
            )
            # Only settled seconds: a held job still counts and settles on its own, so a refund
            # after the reset cannot leave the member with more than a fresh allowance.
            forgiven = max(0, row["committed"] - row["forgiven"])
            await self._log(tx, now, guild_id, user_id, "reset", -forgiven, actor_id, reason)
        return forgiven

    async def block(
        self,
        guild_id: int,
        user_id: int,
        *,
        actor_id: int | None = None,
        reason: str | None = None,
    ) -> None:
        """Stop a member from making videos in this guild."""
        now = self._clock()
        async with self._db.transaction() as tx:
            await self._upsert_member(tx, guild_id, user_id, now, blocked=True, block_reason=reason)
            await self._log(tx, now, guild_id, user_id, "block", 0, actor_id, reason)

    async def unblock(self, guild_id: int, user_id: int, *, actor_id: int | None = None) -> None:
        """Let a blocked member make videos again."""
        now = self._clock()
        async with self._db.transaction() as tx:
            await self._upsert_member(tx, guild_id, user_id, now, blocked=False, block_reason=None)
            await self._log(tx, now, guild_id, user_id, "unblock", 0, actor_id, None)

    async def set_budget(
        self, guild_id: int, seconds: int | None, *, actor_id: int | None = None
    ) -> None:
        """Cap what the whole guild may use per period (None removes the cap)."""
        if seconds is not None:
            _check_not_negative(seconds)
        now = self._clock()
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO quota_guilds (guild_id, default_seconds, period, budget_seconds,"
                " updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id) DO UPDATE"
                " SET budget_seconds = excluded.budget_seconds, updated_at = excluded.updated_at",
                (guild_id, self._default_seconds, self._default_period, seconds, now),
            )
            reason = "budget removed" if seconds is None else None
            await self._log(tx, now, guild_id, None, "set_budget", seconds or 0, actor_id, reason)

    async def guild_settings(self, guild_id: int) -> GuildQuotaSettings:
        """Return a guild's settings, with the bot's defaults where it set nothing."""
        row = await self._db.fetch_one(
            "SELECT default_seconds, period, budget_seconds FROM quota_guilds WHERE guild_id = ?",
            (guild_id,),
        )
        roles = await self._db.fetch_all(
            "SELECT role_id, seconds FROM quota_role_defaults WHERE guild_id = ? ORDER BY role_id",
            (guild_id,),
        )
        return GuildQuotaSettings(
            guild_id=guild_id,
            default_seconds=row["default_seconds"] if row else self._default_seconds,
            period=Period(row["period"]) if row else self._default_period,
            budget_seconds=row["budget_seconds"] if row else None,
            role_defaults={role["role_id"]: role["seconds"] for role in roles},
        )

    # -- reports ------------------------------------------------------------------------------

    async def usage(
        self, guild_id: int | None, *, at: float | None = None, limit: int = 10
    ) -> UsageReport:
        """Report a guild's usage in the period containing `at` (default: now)."""
        stored = _stored(guild_id)
        settings = await self.guild_settings(stored)
        start, end = period_bounds(settings.period, self._clock() if at is None else at)
        window = (stored, start, end)
        rows = await self._db.fetch_all(
            "SELECT user_id,"
            " SUM(CASE state WHEN 'committed' THEN billed_seconds ELSE reserved_seconds END)"
            " AS seconds,"
            " SUM(CASE state WHEN 'held' THEN reserved_seconds ELSE 0 END) AS held,"
            " COUNT(*) AS jobs"
            " FROM quota_reservations"
            " WHERE guild_id = ? AND reserved_at >= ? AND reserved_at < ?"
            " AND state IN ('held', 'committed')"
            " GROUP BY user_id ORDER BY seconds DESC, jobs DESC, user_id",
            window,
        )
        return UsageReport(
            guild_id=guild_id,
            period=settings.period,
            period_start=start,
            period_end=end,
            total_seconds=sum(row["seconds"] for row in rows),
            held_seconds=sum(row["held"] for row in rows),
            jobs=sum(row["jobs"] for row in rows),
            top_users=[(row["user_id"], row["seconds"], row["jobs"]) for row in rows[:limit]],
            budget_seconds=settings.budget_seconds,
        )

    async def ledger(
        self, guild_id: int | None, *, user_id: int | None = None, limit: int = 50
    ) -> list[LedgerEntry]:
        """Return a guild's (or one member's) latest ledger rows, newest first."""
        where, parameters = "guild_id = ?", [_stored(guild_id)]
        if user_id is not None:
            where += " AND user_id = ?"
            parameters.append(user_id)
        rows = await self._db.fetch_all(
            "SELECT id, at, guild_id, user_id, job_id, kind, seconds, actor_id, reason"
            f" FROM quota_ledger WHERE {where} ORDER BY id DESC LIMIT ?",
            (*parameters, limit),
        )
        return [
            LedgerEntry(
                id=row["id"],
                at=row["at"],
                guild_id=row["guild_id"] or None,
                user_id=row["user_id"],
                job_id=row["job_id"],
                kind=row["kind"],
                seconds=row["seconds"],
                actor_id=row["actor_id"],
                reason=row["reason"],
            )
            for row in rows
        ]

    # -- helpers ------------------------------------------------------------------------------

    def _state_parameters(
        self, guild_id: int, user_id: int, role_ids: Sequence[int], at: float
    ) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "guild_id": guild_id,
            "user_id": user_id,
            "role_ids": json.dumps([int(role_id) for role_id in role_ids]),
            "default_seconds": self._default_seconds,
            "default_period": self._default_period,
        }
        for period in Period:
            parameters[f"{period}_start"], parameters[f"{period}_end"] = period_bounds(period, at)
        return parameters

    async def _upsert_member(
        self, tx: aiosqlite.Connection, guild_id: int, user_id: int, now: float, **changes: Any
    ) -> None:
        columns = list(changes)
        await tx.execute(
            f"INSERT INTO quota_members (guild_id, user_id, {', '.join(columns)}, updated_at)"
            f" VALUES (?, ?, {', '.join('?' for _ in columns)}, ?)"
            " ON CONFLICT (guild_id, user_id) DO UPDATE SET "
            + ", ".join(f"{column} = excluded.{column}" for column in [*columns, "updated_at"]),
            (guild_id, user_id, *changes.values(), now),
        )

    async def _log(
        self,
        tx: aiosqlite.Connection,
        at: float,
        guild_id: int,
        user_id: int | None,
        kind: str,
        seconds: int,
        actor_id: int | None,
        reason: str | None,
    ) -> None:
        await tx.execute(
            "INSERT INTO quota_ledger (at, guild_id, user_id, kind, seconds, actor_id, reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (at, guild_id, user_id, kind, seconds, actor_id, reason),
        )

    async def _explain_no_op(self, tx: aiosqlite.Connection, job_id: int, action: str) -> None:
        async with tx.execute(
            "SELECT state FROM quota_reservations WHERE job_id = ?", (job_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            log.warning("No reservation to %s for job %s", action, job_id)
        else:
            log.debug("Job %s already %s; %s is a no-op", job_id, row["state"], action)


def _stored(guild_id: int | None) -> int:
    return NO_GUILD if guild_id is None else guild_id


def _check_not_negative(seconds: int) -> None:
    if seconds < 0:
        raise InvalidInput(f"Seconds cannot be negative (got {seconds}).", field="seconds")


def _allowance(row: aiosqlite.Row, guild_id: int | None, user_id: int) -> Allowance:
    """Work out a member's allowance from one row of _STATE_SQL."""
    blocked = bool(row["blocked"])
    if blocked:
        base, source = 0, "blocked"
    elif row["override_seconds"] is not None:
        base, source = row["override_seconds"], "override"
    elif row["role_seconds"] is not None and row["role_seconds"] > row["default_seconds"]:
        base, source = row["role_seconds"], f"role:{row['role_id']}"
    else:
        base, source = row["default_seconds"], "default"
    granted, held = row["granted"], row["held"]
    used = row["committed"] + held - row["forgiven"]
    budget, guild_used = row["budget_seconds"], row["guild_used"]
    return Allowance(
        guild_id=guild_id,
        user_id=user_id,
        period=Period(row["period"]),
        period_start=row["period_start"],
        renews_at=row["period_end"],
        base_seconds=base,
        source=source,
        granted_seconds=granted,
        used_seconds=used,
        held_seconds=held,
        remaining_seconds=0 if blocked else max(0, base + granted - used),
        blocked=blocked,
        block_reason=row["block_reason"],
        budget_seconds=budget,
        budget_remaining=None if budget is None else max(0, budget - guild_used),
    )


def check_fits(allowance: Allowance, seconds: int) -> None:
    """Raise QuotaExceeded unless `seconds` fit both the member's quota and the guild budget."""
    if allowance.blocked:
        raise QuotaExceeded("blocked", needed=seconds, remaining=0, allowance=allowance)
    if allowance.remaining_seconds < seconds:
        raise QuotaExceeded(
            "user", needed=seconds, remaining=allowance.remaining_seconds, allowance=allowance
        )
    if allowance.budget_remaining is not None and allowance.budget_remaining < seconds:
        raise QuotaExceeded(
            "budget", needed=seconds, remaining=allowance.budget_remaining, allowance=allowance
        )
