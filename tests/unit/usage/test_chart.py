"""The usage chart: a PNG of the right size whose bars, bands and budget line follow the data, and
words that fall back to English (names to `user <id>`) where the fonts cannot draw them.

Pixels are counted by exact colour: each of those looked for is used by one thing only.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from datetime import UTC, date, datetime

from PIL import Image

from bot.domain.quota import Period, UsageReport
from bot.i18n import ENGLISH, Language
from bot.usage.chart import (
    BUDGET_COLOUR,
    BUDGET_INK,
    LEGEND_SIZE,
    LEGEND_WIDTH,
    MEMBER_COLOURS,
    OTHERS_COLOUR,
    Band,
    legend_label,
    period_days,
    render_usage_chart,
    stack,
    texts_for,
)
from bot.usage.fonts import ChartFonts, fonts_for
from storage.quota_history import DayUsage
from tests.support.media import pixels

MONDAY = datetime(2026, 11, 23, tzinfo=UTC).timestamp()
DAY = 86_400


class Unmeasured(ChartFonts):
    """Fonts that need not be installed here: a text's width is guessed, not measured."""

    def measure(self, *, size: float, dpi: float) -> Callable[[str], float]:
        return lambda text: len(text) * size


LATIN = ChartFonts(("DejaVu Sans",), frozenset(range(0x20, 0x250)))
WITH_CJK = Unmeasured(
    ("Noto Sans CJK SC", "DejaVu Sans"), LATIN.covered | set(range(0x3000, 0xA000))
)


def report(
    days: list[DayUsage],
    *,
    budget: int | None = None,
    period: Period = Period.WEEK,
    as_of: float = MONDAY + 3.5 * DAY,
    held: int = 0,
) -> UsageReport:
    end = {Period.DAY: MONDAY + DAY, Period.WEEK: MONDAY + 7 * DAY}.get(period)
    if period is Period.MONTH:
        end = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    start = datetime(2026, 11, 1, tzinfo=UTC).timestamp() if period is Period.MONTH else MONDAY
    assert end is not None
    return UsageReport(
        guild_id=10,
        period=period,
        period_start=start,
        period_end=end,
        total_seconds=sum(day.seconds for day in days),
        held_seconds=held,
        jobs=sum(day.jobs for day in days),
        top_users=[],
        budget_seconds=budget,
        as_of=as_of,
    )


def week_of(*members: tuple[int, int]) -> list[DayUsage]:
    """(user_id, seconds a day) for Monday to Wednesday."""
    return [
        DayUsage(date(2026, 11, 23 + offset), user_id, seconds, 1)
        for offset in range(3)
        for user_id, seconds in members
    ]


def render(days: list[DayUsage], lang: Language = ENGLISH, **options: object) -> bytes:
    return render_usage_chart(
        report(days, **options),
        days,
        names={1: "Alice", 2: "Bob"},
        cost_per_second=0.1,
        lang=lang,
    )


def test_the_chart_is_a_png_sized_for_discord() -> None:
    image = Image.open(io.BytesIO(render(week_of((1, 30), (2, 10)), budget=600)))
    assert (image.format, image.size) == ("PNG", (1000, 600))
    corner = image.convert("RGB").getpixel((2, 2))
    assert corner == (0xF8, 0xF9, 0xFA)  # an opaque card, whatever Discord's theme
    assert image.convert("RGBA").getpixel((2, 2))[3] == 255


def test_bars_in_the_top_members_colour_appear_only_with_usage() -> None:
    empty = render([])
    assert pixels(empty, MEMBER_COLOURS[0]) == 0
    used = render(week_of((1, 30)))
    assert pixels(used, MEMBER_COLOURS[0]) > 5_000
    # Bob passes Alice: the first colour (the member who used the most) is now his, and his
    # bars are taller than hers were.
    more = render(week_of((1, 30), (2, 60)))
    assert pixels(more, MEMBER_COLOURS[0]) > pixels(more, MEMBER_COLOURS[1]) > 1_000


def test_the_budget_line_is_drawn_only_when_there_is_a_budget() -> None:
    days = week_of((1, 30), (2, 10))
    without, with_budget = render(days), render(days, budget=600)
    assert pixels(without, BUDGET_COLOUR) == pixels(without, BUDGET_INK) == 0
    assert pixels(with_budget, BUDGET_COLOUR) > 200  # the dashed line across the panel
    assert pixels(with_budget, BUDGET_INK) > 20  # its label


def test_members_past_the_fifth_share_one_others_band() -> None:
    five = week_of(*((user_id, 10 * user_id) for user_id in range(1, 6)))
    seven = week_of(*((user_id, 10 * user_id) for user_id in range(1, 8)))
    assert pixels(render(five), OTHERS_COLOUR) == 0
    assert pixels(render(seven), OTHERS_COLOUR) > 1_000

    dates = period_days(report(seven))
    bands = stack(seven, dates)
    assert [band.user_id for band in bands] == [7, 6, 5, 4, 3, None]
    assert bands[-1] == Band(None, [30, 30, 30, 0, 0, 0, 0])  # users 1 and 2, 10 + 20 a day
    assert sum(band.total for band in bands) == sum(day.seconds for day in seven)


def test_every_day_of_the_period_has_a_place() -> None:
    assert len(period_days(report([], period=Period.DAY))) == 1
    assert len(period_days(report([]))) == 7
    month = period_days(report([], period=Period.MONTH))
    assert (month[0], month[-1], len(month)) == (date(2026, 11, 1), date(2026, 11, 30), 30)


class Chinese(gettext.NullTranslations):
    """A catalog that puts every message into (mock) Chinese."""

    def gettext(self, message: str) -> str:
        return f"用量 {message}"

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return f"用量 {singular if n == 1 else plural}"


CHINESE = Language("zh-CN", Chinese())


def test_words_the_fonts_cannot_draw_fall_back_to_english() -> None:
    days = week_of((1, 30))
    bands = stack(days, period_days(report(days)))
    asked: list[str] = []

    def latin_only(code: str) -> ChartFonts:
        asked.append(code)
        return LATIN

    texts, _ = texts_for(
        CHINESE, report(days, budget=100), bands, {1: "Alice"}, 0.1, find_fonts=latin_only
    )
    assert asked == ["zh-CN", "en-US"]
    assert texts.title == "Video usage this week"
    assert texts.budget is not None and texts.budget.line == "Budget: 100 s"
    texts, _ = texts_for(
        CHINESE, report(days), bands, {1: "Alice"}, 0.1, find_fonts=lambda _: WITH_CJK
    )
    assert texts.title == "用量 Video usage this week"
    assert texts.subtitle == "用量 90 s in 3 videos  ·  用量 Estimated cost: about $9.00"


def test_a_chinese_chart_draws_without_boxes_on_any_machine() -> None:
    # pytest turns matplotlib's "Glyph … missing" warning into an error: this machine may have
    # no CJK font at all, and then the chart must speak English rather than draw boxes.
    png = render(week_of((1, 30)), CHINESE, budget=100)
    assert Image.open(io.BytesIO(png)).size == (1000, 600)
    english = render(week_of((1, 30)), ENGLISH, budget=100)
    assert (png == english) == (not fonts_for("zh-CN").can_draw("用量"))


def label(name: str | None, fonts: ChartFonts = LATIN, user_id: int = 5) -> str:
    names = {} if name is None else {user_id: name}
    return legend_label(Band(user_id, [10, 20]), names, fonts, ENGLISH)


def test_names_lose_what_cannot_be_drawn() -> None:
    assert label("Alice 🌸") == "Alice: 30 s"
    assert label("🌸🌸") == "user 5: 30 s"
    assert label("李小明") == "user 5: 30 s"
    assert label("李小明", WITH_CJK) == "李小明: 30 s"
    assert label(None) == "user 5: 30 s"
    assert legend_label(Band(None, [1]), {}, LATIN, ENGLISH) == "Others: 1 s"


def test_long_names_are_cut_to_fit_the_legend_and_ids_never() -> None:
    fonts = fonts_for("en-US")
    for name in ("Bartholomew the Magnificent of Wessex", "W" * 32, "m" * 32):
        cut = label(name, fonts)
        assert cut.endswith("…: 30 s") and cut.startswith(name[:8]), cut
        assert fonts.measure(size=LEGEND_SIZE, dpi=100)(cut) <= LEGEND_WIDTH
    assert label("Bartholomew", fonts) == "Bartholomew: 30 s"
    assert label(None, fonts, 12345678901234567890) == "user 12345678901234567890: 30 s"


def test_the_longest_legend_stays_on_the_card() -> None:
    days = [
        DayUsage(date(2026, 11, 23), user_id, 12_345 - rank, 1)
        for rank, user_id in enumerate((1, 2, 3, 4, 10**19 + 1, 10**19 + 2))
    ]
    names = {1: "W" * 32, 2: "m" * 32, 3: "Bartholomew the Magnificent", 4: "Ω" * 32}
    png = render_usage_chart(report(days), days, names=names, cost_per_second=0.1, lang=ENGLISH)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    edge = image.crop((image.width - 6, 0, image.width, image.height))
    assert edge.getcolors() == [(6 * image.height, (0xF8, 0xF9, 0xFA))]  # nothing reaches it


def test_a_name_in_a_script_no_font_has_is_drawn_as_user_id() -> None:
    # Egyptian hieroglyphs are in neither DejaVu Sans nor Noto Sans CJK: no box, no warning.
    days = week_of((1, 30))
    png = render_usage_chart(
        report(days), days, names={1: "𓀀𓀁"}, cost_per_second=None, lang=ENGLISH
    )
    named = render_usage_chart(
        report(days), days, names={1: "user 1"}, cost_per_second=None, lang=ENGLISH
    )
    assert png == named


def test_a_name_starting_with_an_underscore_keeps_its_legend_entry() -> None:
    # Matplotlib leaves out of a gathered legend any label starting with "_"; the chart's is given.
    days = week_of((1, 30))

    def top_colour(name: str) -> int:
        png = render_usage_chart(
            report(days), days, names={1: name}, cost_per_second=None, lang=ENGLISH
        )
        return pixels(png, MEMBER_COLOURS[0])

    assert top_colour("_alice") == top_colour("alice")
