"""How a member's allowance is read: one statement (ALLOWANCE_SQL) reads every number of it from
one snapshot, and its row is handed to the domain's rule (bot/domain/quota.py's
work_out_allowance: the override, or the best of the guild default and role defaults, plus grants;
a block makes it zero).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.domain.quota import Allowance, Period, period_bounds, work_out_allowance
from storage.database import Dialect, Row

# One statement, so that a member's numbers are read from one snapshot. The period depends on
# the guild's row, so the bounds of all three periods are passed in and the right one picked.
_ALLOWANCE_TEMPLATE = """
WITH settings AS (
    SELECT
        COALESCE(g.default_seconds, CAST(:default_seconds AS INTEGER)) AS default_seconds,
        COALESCE(g.period, :default_period) AS period,
        g.budget_seconds AS budget_seconds
    FROM (SELECT 1) AS one
    LEFT JOIN quota_guilds AS g ON g.guild_id = :guild_id
),
bounds AS (
    SELECT
        settings.*,
        CASE settings.period
            WHEN 'day' THEN CAST(:day_start AS DOUBLE PRECISION) WHEN 'week' THEN CAST(:week_start AS DOUBLE PRECISION) ELSE CAST(:month_start AS DOUBLE PRECISION)
        END AS period_start,
        CASE settings.period
            WHEN 'day' THEN CAST(:day_end AS DOUBLE PRECISION) WHEN 'week' THEN CAST(:week_end AS DOUBLE PRECISION) ELSE CAST(:month_end AS DOUBLE PRECISION)
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
    WHERE guild_id = :guild_id AND role_id IN ({role_ids})
    ORDER BY seconds DESC, role_id
    LIMIT 1
) AS r ON TRUE
"""
# The member's roles arrive as one JSON list: each backend has its own way to unpack it.
ALLOWANCE_SQL: dict[Dialect, str] = {
    "sqlite": _ALLOWANCE_TEMPLATE.format(role_ids="SELECT value FROM json_each(:role_ids)"),
    "postgres": _ALLOWANCE_TEMPLATE.format(
        role_ids="SELECT CAST(value AS BIGINT)"
        " FROM json_array_elements_text(CAST(:role_ids AS json))"
    ),
}


def allowance_parameters(
    guild_id: int,
    user_id: int,
    role_ids: Sequence[int],
    at: float,
    *,
    default_seconds: int,
    default_period: Period,
) -> dict[str, Any]:
    """The parameters of ALLOWANCE_SQL for one member at one moment."""
    parameters: dict[str, Any] = {
        "guild_id": guild_id,
        "user_id": user_id,
        "role_ids": json.dumps([int(role_id) for role_id in role_ids]),
        "default_seconds": default_seconds,
        "default_period": default_period,
    }
    for period in Period:
        parameters[f"{period}_start"], parameters[f"{period}_end"] = period_bounds(period, at)
    return parameters


def allowance_from_row(row: Row, guild_id: int | None, user_id: int) -> Allowance:
    """A member's allowance from one row of ALLOWANCE_SQL (the rule is the domain's)."""
    return work_out_allowance(
        guild_id=guild_id,
        user_id=user_id,
        period=Period(row["period"]),
        period_start=row["period_start"],
        renews_at=row["period_end"],
        default_seconds=row["default_seconds"],
        override_seconds=row["override_seconds"],
        best_role=None if row["role_seconds"] is None else (row["role_id"], row["role_seconds"]),
        blocked=bool(row["blocked"]),
        block_reason=row["block_reason"],
        granted=row["granted"],
        forgiven=row["forgiven"],
        committed=row["committed"],
        held=row["held"],
        budget_seconds=row["budget_seconds"],
        guild_used=row["guild_used"],
    )
