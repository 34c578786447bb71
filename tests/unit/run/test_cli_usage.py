"""`python -m bot usage`: the chart and the ledger from a real database, as an operator runs it."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from pathlib import Path

import pytest
from PIL import Image

from bot.domain.quota import Period, period_bounds
from bot.i18n import LANGUAGE_NAMES
from bot.run.cli import EXIT_BAD_INPUT, EXIT_OK, build_parser, main
from bot.run.settings import Settings
from bot.usage.chart import MEMBER_COLOURS
from storage.connect import open_database
from storage.quotas import QuotaStore
from tests.support.media import pixels
from tests.support.quotas import commit, reserve

GUILD = 1001


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_path=tmp_path / "wanbot.sqlite3",
        cost_per_second_usd=0.1,
        quota_default_seconds=600,
        quota_period=Period.WEEK,
    )


@pytest.fixture
async def filled(settings: Settings) -> None:
    """Three videos this week (one still being made) and one last week, through QuotaStore."""
    now = time.time()
    start, _ = period_bounds(Period.WEEK, now)
    at = now
    async with await open_database(settings.database_path) as db:
        store = QuotaStore(db, default_seconds=600, clock=lambda: at)
        for user_id, seconds in ((11, 10), (11, 20), (12, 5)):
            job_id, _ = await reserve(db, store, user_id, seconds, guild_id=GUILD)
            if user_id == 11:
                await commit(db, store, job_id, seconds)
        at = start - 3600
        job_id, _ = await reserve(db, store, 12, 40, guild_id=GUILD)
        await commit(db, store, job_id, 40)


async def usage(settings: Settings, *argv: str | Path) -> int:
    """Run the command as the shell does (main runs its own event loop, so in a thread)."""
    return await asyncio.to_thread(main, ["usage", *map(str, argv)], settings)


@pytest.mark.usefixtures("filled")
async def test_usage_writes_the_chart_and_the_ledger(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart, ledger = tmp_path / "usage.png", tmp_path / "usage.csv"
    code = await usage(settings, "--guild", GUILD, "--output", chart, "--csv", ledger)
    out, err = capsys.readouterr()
    assert code == EXIT_OK
    assert out.strip() == str(chart)
    assert "35 s in 3 video(s) in server 1001" in err
    with Image.open(chart) as image:
        assert (image.format, image.size) == ("PNG", (1000, 600))
    assert pixels(chart.read_bytes(), MEMBER_COLOURS[0]) > 1_000
    rows = list(csv.DictReader(io.StringIO(ledger.read_text(encoding="utf-8"))))
    assert [(row["kind"], row["member_id"], row["seconds"]) for row in rows] == [
        ("reserve", "11", "10"),
        ("commit", "11", "10"),
        ("reserve", "11", "20"),
        ("commit", "11", "20"),
        ("reserve", "12", "5"),
    ]


@pytest.mark.usefixtures("filled")
async def test_last_period_and_another_language(settings: Settings, tmp_path: Path) -> None:
    current, previous = tmp_path / "now.png", tmp_path / "before.png"
    assert await usage(settings, "--guild", GUILD, "--output", current) == EXIT_OK
    last_week = ["--period", "previous", "--language", "de"]
    assert await usage(settings, "--guild", GUILD, "--output", previous, *last_week) == EXIT_OK
    assert previous.read_bytes() != current.read_bytes()
    assert pixels(previous.read_bytes(), MEMBER_COLOURS[0]) > 1_000


@pytest.mark.usefixtures("filled")
async def test_a_server_with_no_videos_gets_an_empty_chart(
    settings: Settings, tmp_path: Path
) -> None:
    chart = tmp_path / "empty.png"
    assert await usage(settings, "--guild", "42", "--output", chart) == EXIT_OK
    with Image.open(chart) as image:
        assert image.size == (1000, 600)
    assert pixels(chart.read_bytes(), MEMBER_COLOURS[0]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--guild", "ten", "--output", "{tmp}/a.png"], "a server id is a number"),
        (["--guild", "1", "--output", "{tmp}/a.png", "--language", "xx"], "invalid choice"),
        (["--guild", "1", "--output", "{tmp}/a.png", "--period", "next"], "invalid choice"),
        (["--guild", "1", "--output", "{tmp}/no/a.png"], "there is no folder"),
        (["--guild", "1", "--output", "{tmp}/a.png", "--csv", "{tmp}/no/a.csv"], "no folder"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    try:
        code = main(["usage", *argv], settings)
    except SystemExit as exited:  # argparse's own checks
        code = exited.code
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "a.png").exists()


def test_a_missing_database_is_bad_input_not_a_new_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_path=tmp_path / "typo.sqlite3")
    code = main(["usage", "--guild", "1", "--output", str(tmp_path / "a.png")], settings)
    assert code == EXIT_BAD_INPUT
    assert "no SQLite database at" in capsys.readouterr().err
    assert not (tmp_path / "typo.sqlite3").exists()


SPOKEN = ["en", "en-US", "zh-CN", "zh-TW", "ja", "ko", "es-ES", "es-419", "pt-BR", "fr", "de"]


@pytest.mark.parametrize("code", SPOKEN)
def test_usage_takes_every_language_the_bot_speaks(code: str) -> None:
    argv = ["usage", "--guild", "1", "--output", "a.png", "--language", code]
    assert build_parser().parse_args(argv).language in LANGUAGE_NAMES


@pytest.mark.usefixtures("filled")
async def test_spanish_for_spain_and_for_latin_america_are_two_charts(
    settings: Settings, tmp_path: Path
) -> None:
    """Both Discord Spanish locales are taken (es-419 was refused once), each with its own words;
    `en` is the English chart."""
    charts = {code: tmp_path / f"{code}.png" for code in ("es-ES", "es-419", "en", "en-US")}
    for code, chart in charts.items():
        assert (
            await usage(settings, "--guild", GUILD, "--output", chart, "--language", code)
            == EXIT_OK
        )
    assert charts["es-ES"].read_bytes() != charts["es-419"].read_bytes()  # vídeo / video
    assert charts["en"].read_bytes() == charts["en-US"].read_bytes()
    assert charts["es-419"].read_bytes() != charts["en"].read_bytes()
