"""How a member's allowance is read: one statement for every number of it, and the allowance
worked out from its row (the values and the check before a video are bot/domain/quota.py).

A member's allowance for the guild's current period is their override, or the most generous of
the guild default and their roles' defaults, plus this period's grants; a block makes it zero.
One statement (ALLOWANCE_SQL) reads every number of it from one snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.domain.quota import Allowance, Period, period_bounds
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
    """Work out a member's allowance from one row of ALLOWANCE_SQL."""
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
