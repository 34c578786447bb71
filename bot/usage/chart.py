"""The usage chart: one period's seconds per day, stacked by member, against the budget (a PNG).

What a moderator should see at a glance, and how:
- which days were busy, and who made them so: a bar per UTC day, stacked by the five members
  who used the most (the one who used the most at the bottom), everyone else as one grey
  "Others" band, each day's total above its bar, each member's total in the legend;
- how close the server is to its budget, when it has one: a smaller panel below with the seconds
  used so far against the budget as a dashed line (a budget is per period, so it has no place
  among seconds per day);
- the totals and the estimated cost under the title.

The chart is a light card of its own (opaque, ink at 15:1 contrast), so it reads the same in
Discord's dark and light themes, in Okabe and Ito's colours, which stay apart for colour-blind
eyes; 1000×600 px. Every word comes from `lang`; when the installed fonts cannot draw them all,
the chart speaks English (see bot/usage/fonts.py), and a name they cannot draw becomes
`user <id>`.

Rendering is a few hundred milliseconds of CPU: run `render_usage_chart` in a thread
(`asyncio.to_thread`). It uses matplotlib's object API only (a Figure on its own Agg canvas,
never pyplot's global state), which is safe there.
"""

from __future__ import annotations

import io
import itertools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.domain.quota import UsageReport
from bot.i18n import ENGLISH, Language
from bot.usage.fonts import ChartFonts, fonts_for
from bot.usage.words import BudgetTexts, ChartTexts, chart_texts, estimated_cost, legend_entry
from storage.quota_history import DayUsage

SIZE_INCHES, DPI = (10, 6), 100
TOP_MEMBERS = 5
LEGEND_SIZE = 9  # points
LEGEND_WIDTH = 245  # pixels for an entry's text, from after its colour to near the card's edge

CARD, INK, MUTED, GRID = "#F8F9FA", "#1F2328", "#59636E", "#D0D7DE"
MEMBER_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9")  # Okabe–Ito
OTHERS_COLOUR = "#A8B0B8"
BUDGET_COLOUR = "#D55E00"  # Okabe–Ito vermillion: the budget line's alone
BUDGET_INK = "#A64A00"  # the same, dark enough for small words (5.5:1 on the card)


@dataclass(frozen=True)
class Band:
    """One member's seconds on each day of the period (user_id None: everyone else)."""

    user_id: int | None
    seconds: list[int]

    @property
    def total(self) -> int:
        return sum(self.seconds)


def render_usage_chart(
    report: UsageReport,
    days: Sequence[DayUsage],
    *,
    names: Mapping[int, str],
    cost_per_second: float | None,
    lang: Language,
) -> bytes:
    """The chart of `report`'s period as a PNG; `days` from `QuotaStore.daily_usage`, `names`
    the members' display names (a missing one is shown as `user <id>`)."""
    dates = period_days(report)
    bands = stack(days, dates)
    texts, fonts = texts_for(lang, report, bands, names, cost_per_second)
    return _draw(report, dates, bands, texts, fonts)


def period_days(report: UsageReport) -> list[date]:
    """Every UTC day of the report's period."""
    first = datetime.fromtimestamp(report.period_start, UTC).date()
    last = datetime.fromtimestamp(report.period_end, UTC).date()
    return [first + timedelta(days=offset) for offset in range((last - first).days)]


def stack(days: Sequence[DayUsage], dates: Sequence[date]) -> list[Band]:
    """The bands, bottom up: the members who used the most, then everyone else as one band."""
    totals: Counter[int] = Counter()
    for day in days:
        totals[day.user_id] += day.seconds
    ranked = sorted(totals, key=lambda user_id: (-totals[user_id], user_id))
    top = ranked[:TOP_MEMBERS]
    index = {day: position for position, day in enumerate(dates)}
    per_user = {user_id: [0] * len(dates) for user_id in top}
    others = [0] * len(dates)
    for day in days:
        row = per_user.get(day.user_id, others)
        row[index[day.day]] += day.seconds
    bands = [Band(user_id, per_user[user_id]) for user_id in top]
    if len(ranked) > TOP_MEMBERS:
        bands.append(Band(None, others))
    return bands


def texts_for(
    lang: Language,
    report: UsageReport,
    bands: Sequence[Band],
    names: Mapping[int, str],
    cost_per_second: float | None,
    find_fonts: Callable[[str], ChartFonts] = fonts_for,
) -> tuple[ChartTexts, ChartFonts]:
    """The chart's words in `lang` and the fonts to draw them, or in English if those fonts
    cannot draw them all (a name they cannot draw is `user <id>` already)."""
    cost = None if cost_per_second is None else estimated_cost(report, cost_per_second)
    for language in (lang, ENGLISH):
        fonts = find_fonts(language.code)
        legend = [legend_label(band, names, fonts, language) for band in bands]
        texts = chart_texts(language, report, legend, cost)
        if all(fonts.can_draw(text) for text in texts.words()):
            break
    return texts, fonts


def legend_label(band: Band, names: Mapping[int, str], fonts: ChartFonts, lang: Language) -> str:
    """The band's entry in the legend: the member's name as far as the fonts can draw it, cut
    short to fit; `user <id>` (never cut) when nothing of it can be drawn; or Others."""
    if band.user_id is None:
        # Translators: on the usage chart, every member after the five who used the most.
        return legend_entry(lang, lang.gettext("Others"), band.total)
    name = " ".join(fonts.drawable_part(names.get(band.user_id, "")).split())
    if not any(character.isalnum() for character in name):
        # Translators: a member whose name is unknown or cannot be drawn on the chart.
        return legend_entry(lang, lang.gettext("user {id}", id=band.user_id), band.total)
    label, kept = legend_entry(lang, name, band.total), len(name)
    if not fonts.can_draw(label):
        return label  # texts_for falls back to English
    width = fonts.measure(size=LEGEND_SIZE, dpi=DPI)
    while kept > 1 and width(label) > LEGEND_WIDTH:
        kept -= 1
        label = legend_entry(lang, name[:kept].rstrip() + "…", band.total)
    return label


def _draw(
    report: UsageReport,
    dates: Sequence[date],
    bands: Sequence[Band],
    texts: ChartTexts,
    fonts: ChartFonts,
) -> bytes:
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, facecolor=CARD)
    FigureCanvasAgg(figure)
    words: dict[str, Any] = {"fontfamily": list(fonts.families), "parse_math": False}
    budget = report.budget_seconds
    grid = figure.add_gridspec(
        1 if budget is None else 2,
        1,
        height_ratios=(1,) if budget is None else (3, 1.2),
        left=0.075,
        right=0.68,
        top=0.82,
        bottom=0.1,
        hspace=0.3,
    )
    figure.text(0.075, 0.93, texts.title, size=17, weight="bold", color=INK, **words)
    figure.text(0.075, 0.88, texts.subtitle, size=11, color=MUTED, **words)
    daily = figure.add_subplot(grid[0])
    bars = _draw_days(daily, len(dates), bands, texts, words)
    legend = daily.legend(
        bars,
        texts.members,  # given, not gathered: matplotlib would skip a name starting with "_"
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        frameon=False,
        prop={"family": list(fonts.families), "size": LEGEND_SIZE},
        labelcolor=INK,
        handlelength=1.2,
    )
    for label in legend.get_texts():
        label.set_parse_math(False)  # a name with two dollar signs is a name, not TeX
    bottom = daily
    if budget is not None and texts.budget is not None:
        bottom = figure.add_subplot(grid[1], sharex=daily)
        totals = [sum(band.seconds[day] for band in bands) for day in range(len(dates))]
        _draw_budget(bottom, report, budget, totals, texts.budget, words)
        daily.tick_params(labelbottom=False)
        figure.align_ylabels([daily, bottom])
    _day_axis(bottom, dates)
    bottom.set_xlabel(texts.day_axis, color=MUTED, size=10, **words)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor=CARD, metadata={"Software": None})
    return buffer.getvalue()


def _draw_days(
    axes: Axes, days: int, bands: Sequence[Band], texts: ChartTexts, words: Mapping[str, Any]
) -> list[BarContainer]:
    """The stacked bars (returned, bottom up), each day's total above its bar; or, with no
    videos, a line saying so."""
    _style(axes)
    axes.set_ylabel(texts.per_day, color=MUTED, size=10, **words)
    bottoms = [0] * days
    bars = []
    colours = iter(MEMBER_COLOURS)
    for band in bands:
        colour = OTHERS_COLOUR if band.user_id is None else next(colours)
        bars.append(
            axes.bar(
                range(days),
                band.seconds,
                bottom=bottoms,
                width=0.72,
                color=colour,
                edgecolor=CARD,
                linewidth=0.8,
            )
        )
        bottoms = [below + seconds for below, seconds in zip(bottoms, band.seconds, strict=True)]
    if not any(bottoms):
        axes.set_ylim(0, 1)
        axes.set_yticks([])
        axes.text(
            0.5,
            0.5,
            texts.empty,
            transform=axes.transAxes,
            ha="center",
            va="center",
            size=14,
            color=MUTED,
            **words,
        )
        return bars
    for day, total in enumerate(bottoms):
        if total:
            axes.annotate(
                str(total),
                (day, total),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                size=8 if days > 7 else 9,
                color=MUTED,
            )
    axes.set_ylim(0, max(bottoms) * 1.15)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    return bars


def _draw_budget(
    axes: Axes,
    report: UsageReport,
    budget: int,
    totals: Sequence[int],
    texts: BudgetTexts,
    words: Mapping[str, Any],
) -> None:
    """Seconds used so far (up to today, in the current period) against the budget line."""
    _style(axes)
    used = list(itertools.accumulate(totals))
    if report.as_of < report.period_end:
        today = datetime.fromtimestamp(report.as_of, UTC).date()
        first = datetime.fromtimestamp(report.period_start, UTC).date()
        used = used[: (today - first).days + 1]
    positions = range(len(used))
    axes.fill_between(positions, used, color=INK, alpha=0.08, linewidth=0)
    axes.plot(positions, used, color=INK, linewidth=2, marker="o", markersize=4)
    axes.axhline(budget, color=BUDGET_COLOUR, linewidth=2, linestyle=(0, (6, 3)))
    axes.annotate(
        texts.line,
        (len(totals) - 0.45, budget),
        xytext=(0, 3),
        textcoords="offset points",
        ha="right",
        va="bottom",
        size=9,
        weight="bold",
        color=BUDGET_INK,
        **words,
    )
    axes.text(
        0.01,
        0.97,
        texts.share,
        transform=axes.transAxes,
        ha="left",
        va="top",
        size=9,
        color=INK,
        **words,
    )
    axes.set_ylim(0, max(budget, max(used, default=0), 1) * 1.3)
    axes.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
    axes.set_ylabel(texts.axis, color=MUTED, size=10, **words)


def _day_axis(axes: Axes, dates: Sequence[date]) -> None:
    long = len(dates) > 7  # a month: day numbers (the range is in the axis title)
    axes.set_xticks(range(len(dates)), [str(day.day) if long else day.isoformat() for day in dates])
    axes.set_xlim(-0.6, len(dates) - 0.4)
    axes.tick_params(axis="x", labelsize=8 if long else 9)


def _style(axes: Axes) -> None:
    axes.set_facecolor(CARD)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_color(GRID)
    axes.tick_params(colors=MUTED, labelsize=9, length=0)
    axes.yaxis.grid(True, color=GRID, linewidth=0.8)
    axes.set_axisbelow(True)
