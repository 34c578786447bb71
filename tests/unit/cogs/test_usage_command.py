"""/videoadmin quota usage: the numbers, the chart beside them, and the ledger as CSV on request.

The command runs on a real WanBot with real stores on a SQLite file, called as
`await cog.quota_usage.callback(cog, interaction, ...)` with an interaction specced on discord.py's.
"""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import discord
import pytest
from PIL import Image

from bot import i18n
from bot.engine.virtual import VirtualClock
from bot.run.app import WanBot
from cogs import languages
from cogs.admin import AdminCog
from cogs.admin import usage as usage_module
from tests.support.admin import ALICE, BOB, GUILD, MOD, WEDNESDAY, moderator, use
from tests.support.discord_fakes import interaction, member, private_replies

LAST_WEEK = WEDNESDAY - timedelta(days=7).total_seconds()

pytestmark = pytest.mark.clock_at(WEDNESDAY)  # the `clock` fixture starts then


@pytest.fixture
async def week(bot: WanBot, clock: VirtualClock) -> None:
    """A video last week; this week two of Alice's, one of Bob's still being made, and a grant."""
    clock.now = LAST_WEEK
    await use(bot, BOB, 15, billed=15)
    clock.now = WEDNESDAY
    await use(bot, ALICE, 10, billed=10)
    await use(bot, ALICE, 5, billed=5)
    await use(bot, BOB, 5)
    await bot.services.quotas.grant(GUILD, ALICE, 30, actor_id=MOD, reason='contest, "best" 🎉')


def guild_knowing(**names: str) -> discord.Guild:
    """A server whose member cache holds these members (user id → display name)."""
    cached = {}
    for user_id, name in names.items():
        known = member(int(user_id.removeprefix("id")))
        known.display_name = name
        cached[known.id] = known
    fake = mock.create_autospec(discord.Guild, instance=True, spec_set=True)
    fake.get_member.side_effect = cached.get
    return fake


async def usage(cog: AdminCog, fake: discord.Interaction | None = None, **options: Any) -> Any:
    """Run the command; return the one reply's keyword arguments (after checking it is private)."""
    fake = fake or interaction(moderator())
    await cog.quota_usage.callback(cog, fake, **options)
    fake.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    assert len(private_replies(fake)) == 1
    return fake.followup.send.await_args.kwargs


def attached(reply: Any) -> dict[str, bytes]:
    return {file.filename: file.fp.getvalue() for file in reply["files"]}


@pytest.mark.usefixtures("week")
async def test_the_chart_comes_beside_the_numbers(cog: AdminCog) -> None:
    reply = await usage(cog)
    embed = reply["embed"]
    assert embed.title == "Video usage this week"
    assert "**20 s** in 3 videos (5 s still being made)" in embed.description
    assert embed.image.url == "attachment://usage.png"
    files = attached(reply)
    assert list(files) == ["usage.png"]  # no CSV unless asked
    image = Image.open(io.BytesIO(files["usage.png"]))
    assert (image.format, image.size) == ("PNG", (1000, 600))


@pytest.mark.usefixtures("week")
async def test_export_attaches_the_periods_ledger_as_csv(bot: WanBot, cog: AdminCog) -> None:
    reply = await usage(cog, export=True)
    files = attached(reply)
    assert list(files) == ["usage.png", "usage-2026-11-23.csv"]
    rows = list(csv.DictReader(io.StringIO(files["usage-2026-11-23.csv"].decode("utf-8"))))

    start = datetime(2026, 11, 23, tzinfo=UTC).timestamp()
    ledger = await bot.services.quotas.ledger(
        GUILD, since=start, until=start + 7 * 86_400, limit=None
    )
    assert len(rows) == len(ledger) == 6  # three reserves, two commits, the grant
    for row, entry in zip(rows, reversed(ledger), strict=True):
        assert datetime.fromisoformat(row["time"]).timestamp() == int(entry.at)
        assert row["kind"] == entry.kind
        assert row["member_id"] == str(entry.user_id)
        assert row["seconds"] == str(entry.seconds)
        assert row["video_id"] == ("" if entry.job_id is None else str(entry.job_id))
        assert row["by"] == ("" if entry.actor_id is None else str(entry.actor_id))
        assert row["reason"] == (entry.reason or "")
    assert rows[-1]["time"] == "2026-11-25T12:00:00+00:00"
    assert (rows[-1]["kind"], rows[-1]["by"]) == ("grant", str(MOD))
    assert rows[-1]["reason"] == 'contest, "best" 🎉'


@pytest.mark.usefixtures("week")
async def test_last_weeks_export_is_last_weeks(cog: AdminCog) -> None:
    reply = await usage(cog, period="previous", export=True)
    assert reply["embed"].title == "Video usage last week"
    rows = list(csv.DictReader(io.StringIO(attached(reply)["usage-2026-11-16.csv"].decode())))
    assert [(row["kind"], row["member_id"], row["seconds"]) for row in rows] == [
        ("reserve", str(BOB), "15"),
        ("commit", str(BOB), "15"),
    ]


@pytest.mark.usefixtures("week")
async def test_the_chart_is_drawn_in_a_thread_with_cached_names_in_the_moderators_language(
    cog: AdminCog, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    drawn: list[tuple[int, dict[str, Any]]] = []
    render = usage_module.render_usage_chart

    def recording(*args: Any, **kwargs: Any) -> bytes:
        drawn.append((threading.get_ident(), kwargs))
        return render(*args, **kwargs)

    chosen: list[tuple[str | None, ...]] = []

    def choose(*codes: str | None) -> i18n.Language:
        chosen.append(codes)
        return i18n.ENGLISH

    monkeypatch.setattr(usage_module, "render_usage_chart", recording)
    monkeypatch.setattr(languages, "choose", choose)
    fake = interaction(moderator(), locale=discord.Locale.japanese)
    fake.guild = guild_knowing(**{f"id{ALICE}": "Alice"})
    await usage(cog, fake)

    [(thread, kwargs)] = drawn
    assert thread != loop_thread
    assert kwargs["names"] == {ALICE: "Alice"}  # Bob is in no cache: the chart says user 12
    assert kwargs["cost_per_second"] == 0.1
    assert chosen == [("ja", None)]


FORMULAS = ('=HYPERLINK("http://x.example","click")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx")


@pytest.mark.usefixtures("week")
async def test_a_reason_a_spreadsheet_would_evaluate_is_exported_as_text(
    bot: WanBot, cog: AdminCog
) -> None:
    """OWASP's CSV-injection rule: a free-text cell never starts a formula; numbers stay numbers."""
    for reason in FORMULAS:
        await bot.services.quotas.grant(GUILD, BOB, 1, actor_id=MOD, reason=reason)
    forgiven = await bot.services.quotas.reset(GUILD, ALICE, actor_id=MOD, reason="- a typo")
    reply = await usage(cog, export=True)
    rows = list(csv.DictReader(io.StringIO(attached(reply)["usage-2026-11-23.csv"].decode())))

    grants = [row["reason"] for row in rows if row["kind"] == "grant"]
    assert grants == ['contest, "best" 🎉', *(f"'{reason}" for reason in FORMULAS)]
    [reset] = [row for row in rows if row["kind"] == "reset"]
    assert (reset["seconds"], reset["reason"]) == (f"-{forgiven}", "'- a typo")
    assert forgiven > 0
    assert all(row["seconds"].lstrip("-").isdigit() for row in rows)
