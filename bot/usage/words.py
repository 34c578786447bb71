"""Every word on the usage chart, in the reader's language (bot/usage/chart.py draws them)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.domain.quota import Period, UsageReport
from bot.i18n import N_, Language


@dataclass(frozen=True)
class BudgetTexts:
    """The words of the budget panel."""

    axis: str
    line: str
    share: str


@dataclass(frozen=True)
class ChartTexts:
    """The chart's words (`budget`: None when the server has no budget)."""

    title: str
    subtitle: str
    per_day: str  # the axis of the bars
    day_axis: str
    members: list[str]  # the legend, one per band
    empty: str  # shown instead of bars when no video was made
    budget: BudgetTexts | None

    def words(self) -> Iterator[str]:
        """Every text the chart may draw."""
        yield from (self.title, self.subtitle, self.per_day, self.day_axis, self.empty)
        yield from self.members
        if self.budget is not None:
            yield from (self.budget.axis, self.budget.line, self.budget.share)


_USAGE_THIS = {
    Period.DAY: N_("Video usage today"),
    Period.WEEK: N_("Video usage this week"),
    Period.MONTH: N_("Video usage this month"),
}
_USAGE_LAST = {
    Period.DAY: N_("Video usage yesterday"),
    Period.WEEK: N_("Video usage last week"),
    Period.MONTH: N_("Video usage last month"),
}


def usage_title(lang: Language, period: Period, *, previous: bool) -> str:
    """ "Video usage this week" (or last week, today, …), for the embed and the chart."""
    return lang.gettext((_USAGE_LAST if previous else _USAGE_THIS)[period])


def videos_text(lang: Language, seconds: int, count: int) -> str:
    """ "12 s in 3 videos"."""
    return lang.ngettext("{s} s in {n} video", "{s} s in {n} videos", count, s=seconds)


def estimated_cost(report: UsageReport, cost_per_second: float) -> str:
    """The period's cost in dollars, rounded up to the cent, as the usage embed shows it."""
    return f"{math.ceil(report.total_seconds * cost_per_second * 100) / 100:.2f}"


def legend_entry(lang: Language, name: str, seconds: int) -> str:
    """A band in the legend: whose it is and the seconds they used."""
    # Translators: the chart's legend: a member (or "Others") and the seconds they used.
    return lang.gettext("{name}: {seconds} s", name=name, seconds=seconds)


def chart_texts(
    lang: Language, report: UsageReport, members: Sequence[str], cost: str | None
) -> ChartTexts:
    """The words for `report`'s chart: `members` the legend's entries, `cost` in dollars or None."""
    first = datetime.fromtimestamp(report.period_start, UTC).date()
    last = datetime.fromtimestamp(report.period_end, UTC).date() - timedelta(days=1)
    budget = report.budget_seconds
    used = report.total_seconds
    return ChartTexts(
        title=_title(lang, report),
        subtitle=_subtitle(lang, report, cost),
        per_day=lang.gettext("Seconds of video per day"),
        day_axis=(
            lang.gettext("{day}, UTC", day=first.isoformat())
            if first == last
            else lang.gettext(
                "Days (UTC) from {first} to {last}", first=first.isoformat(), last=last.isoformat()
            )
        ),
        members=list(members),
        empty=(
            lang.gettext("No videos yet")
            if report.as_of < report.period_end
            else lang.gettext("No videos in this period")
        ),
        budget=None if budget is None else _budget(lang, used, budget),
    )


def _budget(lang: Language, used: int, budget: int) -> BudgetTexts:
    return BudgetTexts(
        axis=lang.gettext("Used so far"),
        line=lang.gettext("Budget: {seconds} s", seconds=budget),
        share=lang.gettext(
            "{seconds} s of {budget} s used ({percent}%)",
            seconds=used,
            budget=budget,
            percent=round(100 * used / budget) if budget else 100,
        ),
    )


def _title(lang: Language, report: UsageReport) -> str:
    return usage_title(lang, report.period, previous=report.as_of >= report.period_end)


def _subtitle(lang: Language, report: UsageReport, cost: str | None) -> str:
    if report.held_seconds:
        totals = lang.ngettext(
            "{seconds} s in {n} video ({held} s still being made)",
            "{seconds} s in {n} videos ({held} s still being made)",
            report.jobs,
            seconds=report.total_seconds,
            held=report.held_seconds,
        )
    else:
        totals = videos_text(lang, report.total_seconds, report.jobs)
    if cost is None:
        return totals
    return "  ·  ".join([totals, lang.gettext("Estimated cost: about ${cost}", cost=cost)])
