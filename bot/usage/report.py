"""A guild's usage in one period, read once for the embed, the chart and the CSV of its ledger.

The same steps serve `/videoadmin quota usage` and `python -m bot usage`. The CSV is the ledger
of the period (every reservation, settlement and moderator change recorded in it), oldest first,
in UTF-8 with times in ISO 8601 UTC, for a spreadsheet or an accountant. Free text (a
moderator's reason) is written so that no spreadsheet evaluates it as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from bot.domain.quota import LedgerEntry, UsageReport
from storage.quota_history import DayUsage
from storage.quotas import QuotaStore

Which = Literal["current", "previous"]
PERIODS: tuple[Which, ...] = ("current", "previous")
CHART_NAME = "usage.png"
# OWASP's CSV-injection rule: a cell starting with one of these is a formula to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ("time", "kind", "member_id", "seconds", "video_id", "by", "reason")


@dataclass(frozen=True)
class PeriodUsage:
    """The totals of one period and the same seconds day by day."""

    report: UsageReport
    days: list[DayUsage]


async def period_usage(quotas: QuotaStore, guild_id: int, which: Which) -> PeriodUsage:
    """Read the current period's usage, or the one before it."""
    report = await quotas.usage(guild_id)
    if which == "previous":
        report = await quotas.usage(guild_id, at=report.period_start - 1)
    days = await quotas.daily_usage(guild_id, report.period_start, report.period_end)
    return PeriodUsage(report, days)


async def period_ledger(quotas: QuotaStore, report: UsageReport) -> list[LedgerEntry]:
    """Every ledger row recorded in the report's period, oldest first."""
    entries = await quotas.ledger(
        report.guild_id, since=report.period_start, until=report.period_end, limit=None
    )
    return entries[::-1]


def csv_name(report: UsageReport) -> str:
    """usage-<the period's first day>.csv"""
    return f"usage-{datetime.fromtimestamp(report.period_start, UTC).date().isoformat()}.csv"


def ledger_csv(entries: Sequence[LedgerEntry]) -> bytes:
    """The rows as CSV (a header, then one line each), UTF-8."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow(
            (
                datetime.fromtimestamp(entry.at, UTC).isoformat(timespec="seconds"),
                _text(entry.kind),
                _blank(entry.user_id),
                entry.seconds,
                _blank(entry.job_id),
                _blank(entry.actor_id),
                _text(entry.reason or ""),
            )
        )
    return text.getvalue().encode()


def _blank(value: int | None) -> str:
    return "" if value is None else str(value)


def _text(value: str) -> str:
    """A free-text cell a spreadsheet shows as written: a would-be formula gets a leading '."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value
