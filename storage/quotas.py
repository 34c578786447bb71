"""Quotas in seconds of output video: reserve when queued, commit what was billed, else refund.

A member's allowance for the guild's current period is their override, or the most generous of
the guild default and their roles' defaults, plus this period's grants; a block makes it zero.
Seconds count against the period in which they were reserved. Every change is one transaction
that writes one ledger row: moderator changes here, reservations through the triggers in
0002_quotas.sql. Grants and resets live only in the (append-only) ledger.

guild_id None (DMs, the headless CLI) is stored as 0. The values, the check before a video and
the checks on every number given are bot/domain/quota.py's; this module is their SQL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from bot.domain.quota import (
    Allowance,
    GuildQuotaSettings,
    LedgerEntry,
    Period,
    UsageReport,
    check_billed,
    check_fits,
    check_grant,
    check_not_negative,
    check_reservation,
    period_bounds,
)
from storage.allowances import ALLOWANCE_SQL, allowance_from_row, allowance_parameters
from storage.database import Database, Transaction
from storage.quota_history import COUNTED, USED_SECONDS, DayUsage, read_daily_usage, read_ledger

log = logging.getLogger(__name__)

NO_GUILD = 0


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
        check_not_negative(default_seconds)
        self._db = db
        self._default_seconds = default_seconds
        self._default_period = Period(default_period)
        self._clock = clock

    # -- member side: inside the caller's transaction ------------------------------------------

    async def reserve(
        self,
        tx: Transaction,
        *,
        guild_id: int | None,
        user_id: int,
        role_ids: Sequence[int] = (),
        seconds: int,
        job_id: int,
        exempt: bool = False,
    ) -> Allowance:
        """Hold `seconds` for `job_id`, or raise QuotaExceeded; return the allowance after it."""
        check_reservation(seconds)
        now = self._clock()
        stored = _stored(guild_id)
        [row] = await tx.fetch_all(
            ALLOWANCE_SQL[self._db.dialect], self._parameters(stored, user_id, role_ids, now)
        )
        before = allowance_from_row(row, guild_id, user_id)
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
        return before.after_holding(seconds)

    async def commit(self, tx: Transaction, *, job_id: int, billed_seconds: int) -> bool:
        """Charge the billed seconds for `job_id`; False if it was already settled (or never held)."""
        check_billed(billed_seconds)
        # `state = 'held'` makes the first settlement win; the trigger writes the ledger row.
        settled = await tx.fetch_all(
            "UPDATE quota_reservations SET state = 'committed', billed_seconds = ?, settled_at = ?"
            " WHERE job_id = ? AND state = 'held' RETURNING job_id",
            (billed_seconds, self._clock(), job_id),
        )
        if not settled:
            await self._explain_no_op(tx, job_id, "commit")
            return False
        return True

    async def refund(self, tx: Transaction, *, job_id: int, reason: str) -> bool:
        """Give back the seconds held for `job_id`; False if it was already settled (or never held)."""
        settled = await tx.fetch_all(
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
            ALLOWANCE_SQL[self._db.dialect],
            self._parameters(_stored(guild_id), user_id, role_ids, self._clock()),
        )
        assert row is not None
        return allowance_from_row(row, guild_id, user_id)

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
        check_not_negative(seconds)
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
                check_not_negative(seconds)
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
            check_not_negative(seconds)
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
        check_grant(seconds)
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
            [row] = await tx.fetch_all(
                ALLOWANCE_SQL[self._db.dialect], self._parameters(guild_id, user_id, (), now)
            )
            # Only settled seconds: a held job still counts and settles on its own, so a refund
            # after the reset cannot leave the member with more than a fresh allowance.
            forgiven: int = max(0, row["committed"] - row["forgiven"])
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
            check_not_negative(seconds)
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
        now = self._clock()
        start, end = period_bounds(settings.period, now if at is None else at)
        window = (stored, start, end)
        rows = await self._db.fetch_all(
            f"SELECT user_id, SUM({USED_SECONDS}) AS seconds,"
            " SUM(CASE state WHEN 'held' THEN reserved_seconds ELSE 0 END) AS held,"
            " COUNT(*) AS jobs"
            " FROM quota_reservations"
            " WHERE guild_id = ? AND reserved_at >= ? AND reserved_at < ?"
            f" AND {COUNTED} GROUP BY user_id ORDER BY seconds DESC, jobs DESC, user_id",
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
            as_of=now,
        )

    async def daily_usage(self, guild_id: int | None, start: float, end: float) -> list[DayUsage]:
        """Seconds and videos per UTC day and member in [start, end), counted as `usage` counts."""
        return await read_daily_usage(self._db, _stored(guild_id), start, end)

    async def ledger(
        self,
        guild_id: int | None,
        *,
        user_id: int | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = 50,
    ) -> list[LedgerEntry]:
        """Return a guild's (or one member's) ledger rows, newest first: the latest `limit` (None:
        all), recorded in [since, until) when given."""
        return await read_ledger(
            self._db, _stored(guild_id), user_id=user_id, since=since, until=until, limit=limit
        )

    # -- helpers ------------------------------------------------------------------------------

    def _parameters(
        self, guild_id: int, user_id: int, role_ids: Sequence[int], at: float
    ) -> dict[str, Any]:
        return allowance_parameters(
            guild_id,
            user_id,
            role_ids,
            at,
            default_seconds=self._default_seconds,
            default_period=self._default_period,
        )

    async def _upsert_member(
        self, tx: Transaction, guild_id: int, user_id: int, now: float, **changes: Any
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
        tx: Transaction,
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

    async def _explain_no_op(self, tx: Transaction, job_id: int, action: str) -> None:
        row = await tx.fetch_one("SELECT state FROM quota_reservations WHERE job_id = ?", (job_id,))
        if row is None:
            log.warning("No reservation to %s for job %s", action, job_id)
        else:
            log.debug("Job %s already %s; %s is a no-op", job_id, row["state"], action)


def _stored(guild_id: int | None) -> int:
    return NO_GUILD if guild_id is None else guild_id
