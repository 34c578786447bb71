"""Quotas as the domain knows them: periods, a member's allowance and the rule that works it out,
usage and ledger values, the check before a video (and the words of its refusal), and the checks
every number a moderator or the engine gives must pass.

Seconds of output video are what is counted. Storage reads and writes these values
(storage/quotas.py, storage/allowances.py); the rules and the words of a refusal live here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal, NoReturn

from bot.domain.errors import InvalidInput, QuotaExceeded
from bot.i18n import N_, Text, _


class Period(StrEnum):
    """How often allowances renew (all in UTC)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


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

    def after_holding(self, seconds: int) -> Allowance:
        """The allowance once `seconds` more are held for a video."""
        return replace(
            self,
            used_seconds=self.used_seconds + seconds,
            held_seconds=self.held_seconds + seconds,
            remaining_seconds=max(0, self.remaining_seconds - seconds),
            budget_remaining=(
                None if self.budget_remaining is None else self.budget_remaining - seconds
            ),
        )


def work_out_allowance(
    *,
    guild_id: int | None,
    user_id: int,
    period: Period,
    period_start: float,
    renews_at: float,
    default_seconds: int,
    override_seconds: int | None,
    best_role: tuple[int, int] | None,
    blocked: bool,
    block_reason: str | None,
    granted: int,
    forgiven: int,
    committed: int,
    held: int,
    budget_seconds: int | None,
    guild_used: int | None,
) -> Allowance:
    """A member's allowance from its numbers: their override, or the most generous of the guild
    default and their best role's default (`best_role`: its id and seconds), plus this period's
    grants; a block makes it zero. Used is committed plus held, less what a reset forgave."""
    if blocked:
        base, source = 0, "blocked"
    elif override_seconds is not None:
        base, source = override_seconds, "override"
    elif best_role is not None and best_role[1] > default_seconds:
        base, source = best_role[1], f"role:{best_role[0]}"
    else:
        base, source = default_seconds, "default"
    used = committed + held - forgiven
    return Allowance(
        guild_id=guild_id,
        user_id=user_id,
        period=Period(period),
        period_start=period_start,
        renews_at=renews_at,
        base_seconds=base,
        source=source,
        granted_seconds=granted,
        used_seconds=used,
        held_seconds=held,
        remaining_seconds=0 if blocked else max(0, base + granted - used),
        blocked=blocked,
        block_reason=block_reason,
        budget_seconds=budget_seconds,
        budget_remaining=(
            None if budget_seconds is None else max(0, budget_seconds - (guild_used or 0))
        ),
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
    as_of: float  # when it was read: after period_end for a past period


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


def check_fits(allowance: Allowance, seconds: int) -> None:
    """Raise QuotaExceeded unless `seconds` fit both the member's quota and the guild budget."""
    if allowance.blocked:
        _refuse("blocked", allowance, needed=seconds, remaining=0)
    if allowance.remaining_seconds < seconds:
        _refuse("user", allowance, needed=seconds, remaining=allowance.remaining_seconds)
    if allowance.budget_remaining is not None and allowance.budget_remaining < seconds:
        _refuse("budget", allowance, needed=seconds, remaining=allowance.budget_remaining)


def check_not_negative(seconds: int) -> None:
    """Refuse a negative allowance, role default, override or budget a moderator gave."""
    if seconds < 0:
        raise InvalidInput(
            # Translators: seconds of video a member may make (an allowance).
            _("The number of seconds cannot be negative (you gave {seconds}).", seconds=seconds),
            field="seconds",
        )


def check_grant(seconds: int) -> None:
    """Refuse a grant of less than one second."""
    if seconds < 1:
        raise InvalidInput(
            # Translators: a grant gives a member extra seconds of video for this period.
            _("A grant must be at least 1 second, not {seconds}.", seconds=seconds),
            field="seconds",
        )


def check_reservation(seconds: int) -> None:
    """A video holds at least one second (anything less is a bug, not a member's mistake)."""
    if seconds < 1:
        raise ValueError(f"a reservation needs at least 1 second, not {seconds}")


def check_billed(seconds: int) -> None:
    """The provider bills no negative seconds (anything else is a bug)."""
    if seconds < 0:
        raise ValueError(f"billed seconds cannot be negative ({seconds})")


def _refuse(
    reason: Literal["user", "budget", "blocked"],
    allowance: Allowance,
    *,
    needed: int,
    remaining: int,
) -> NoReturn:
    raise QuotaExceeded(
        _refusal(reason, allowance, needed=needed, remaining=remaining),
        reason=reason,
        needed=needed,
        remaining=remaining,
        allowance=allowance,
    )


def _refusal(reason: str, allowance: Allowance, *, needed: int, remaining: int) -> Text:
    """What a member reads when `reason` refuses their video. `{renews}` is the renewal in UTC
    (the Discord layer puts its own timestamp there)."""
    if reason == "blocked":
        if allowance.block_reason:
            return _("You are blocked from making videos here: {why}.", why=allowance.block_reason)
        return _("You are blocked from making videos here by a moderator.")
    table = _BUDGET_USED_UP if reason == "budget" else _NOT_ENOUGH_LEFT
    renews = datetime.fromtimestamp(allowance.renews_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Text(table[allowance.period], {"left": remaining, "needed": needed, "renews": renews})


_BUDGET_USED_UP = {
    Period.DAY: N_(
        "The server's video budget for today is used up ({left} s left, this video needs "
        "{needed} s); it renews {renews}."
    ),
    Period.WEEK: N_(
        "The server's video budget for this week is used up ({left} s left, this video needs "
        "{needed} s); it renews {renews}."
    ),
    Period.MONTH: N_(
        "The server's video budget for this month is used up ({left} s left, this video needs "
        "{needed} s); it renews {renews}."
    ),
}
_NOT_ENOUGH_LEFT = {
    Period.DAY: N_(
        "This video needs {needed} s of your quota but you have {left} s left today; it renews "
        "{renews}."
    ),
    Period.WEEK: N_(
        "This video needs {needed} s of your quota but you have {left} s left this week; it "
        "renews {renews}."
    ),
    Period.MONTH: N_(
        "This video needs {needed} s of your quota but you have {left} s left this month; it "
        "renews {renews}."
    ),
}
