"""Time from a slash command's interaction to its defer, with a 100 MB attachment.

Runs the real `/video continue` command body (VideoCog) against the simulator and a SQLite
file, with a spec'd fake interaction (tests/discord_fakes.py) whose attachment says 100 MB. The
defer must not wait for that download: everything checked before it needs no I/O but a
local database read. Most iterations serve a quick 404 once deferred (the defer cannot depend on
what comes after it); a few serve the full 100 MB body, to show it makes no difference. Timing is
wall clock (perf_counter) in-process; Discord's network round trip is not included.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402
from benchlib import NullNotifier  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from bot.app import Services, WanBot  # noqa: E402
from bot.dashscope import DashScopeClient  # noqa: E402
from bot.engine.runner import Engine, EngineConfig  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.simulator import Simulator  # noqa: E402
from cogs.video import VideoCog  # noqa: E402
from storage.database import Database  # noqa: E402
from tests.discord_fakes import Timeline, interaction, member  # noqa: E402

MB = 1024 * 1024
SIZE = 100 * MB
QUICK, FULL = 300, 5


async def _cdn(full: bytes) -> TestServer:
    async def quick(request: web.Request) -> web.Response:
        return web.Response(status=404)

    async def whole(request: web.Request) -> web.Response:
        return web.Response(body=full)

    app = web.Application()
    app.router.add_get("/quick/{n}", quick)
    app.router.add_get("/full/{n}", whole)
    server = TestServer(app)
    await server.start_server()
    return server


async def measure() -> tuple[list[float], list[float]]:
    import discord

    simulator = Simulator()
    await simulator.start()
    full = os.urandom(1024) * (SIZE // 1024)  # junk: refused after download, nothing queued
    cdn = await _cdn(full)
    folder = Path(tempfile.mkdtemp(prefix="wanbot-ack-"))
    settings = Settings(
        database_path=folder / "db.sqlite3", spool_dir=folder / "spool", quota_default_seconds=10**6
    )
    quick: list[float] = []
    whole: list[float] = []
    async with (
        aiohttp.ClientSession() as session,
        await Database.open(settings.database_path) as db,
    ):
        assert simulator.base_url
        client = DashScopeClient(session, api_key=SecretStr("k"), base_url=simulator.base_url)
        services = Services.create(settings, session, db, client)
        services.engine = Engine(
            db=db,
            jobs=services.jobs,
            quotas=services.quotas,
            client=services.client,
            notifier=NullNotifier(),
            config=EngineConfig(spool_dir=settings.spool_dir),
        )
        bot = WanBot(settings, services)
        cog = VideoCog(bot)
        for index in range(QUICK + FULL):
            kind = "quick" if index < QUICK else "full"
            url = str(cdn.make_url(f"/{kind}/{index}"))
            attachment = discord.Attachment(
                data={
                    "id": index + 1,
                    "filename": "clip.mp4",
                    "size": SIZE,
                    "url": url,
                    "proxy_url": url,
                    "content_type": "video/mp4",
                },
                state=type("State", (), {"http": None})(),  # type: ignore[arg-type]
            )
            timeline = Timeline()
            fake = interaction(member(index % 50 + 1), timeline=timeline)
            started = time.perf_counter()
            # The download or the bytes are refused after the defer, as intended.
            with contextlib.suppress(Exception):
                await VideoCog.continue_.callback(cog, fake, clip=attachment)
            (quick if kind == "quick" else whole).append((timeline.first("defer") - started) * 1000)
        await bot.close()
    await cdn.close()
    await simulator.close()
    return quick, whole


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    quick, whole = asyncio.run(measure())
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    print("clock: wall clock (perf_counter), in-process; Discord's round trip not included")
    print(f"attachment_size_mb: {SIZE / MB:.0f}")
    print(f"ack_samples: {len(quick)} (+{len(whole)} with the full body served)")
    print(f"ack_p50_ms: {statistics.median(quick):.2f}")
    print(f"ack_max_ms: {max(quick):.2f}")
    print(f"ack_full_body_p50_ms: {statistics.median(whole):.2f}")
    print(f"ack_full_body_max_ms: {max(whole):.2f}")
    print(f"ack_p99_ms: {percentile(quick + whole, 0.99):.2f}")
    print("reproduce: .venv/bin/python bench/bench_ack.py")


if __name__ == "__main__":
    main()
