"""Time from an INTERACTION_CREATE to its defer arriving at Discord, while 20 big downloads run.

Set-up. The real bot (`WanBot`, its cogs, its engine and notifier, built with `Services.create`)
logs in to the fake Discord (tests/support/fakediscord/process.py) in another process, via
`discord.http.Route.BASE`. Attachments come from a slow loopback CDN in a third process. First, 20
`/video continue` interactions are dispatched whose clips are 20 MB each, served at 1 MiB/s, so
that for the next ~20 s the bot is receiving 20 downloads at once (about 20 MiB/s through its
event loop). Then 200 more `/video continue` interactions are dispatched, one every 50 ms, each
through discord.py's real path: `bot._connection.parse_interaction_create(payload)` (what the
gateway calls on INTERACTION_CREATE; private, but it is the dispatch itself) → the command tree →
the cog → `interaction.response.defer()` → discord.py's HTTP client → POST
/interactions/{id}/{token}/callback at the fake.

Figure. ack = the fake's arrival time of the callback − the moment just before dispatch, both
`time.monotonic()` (one clock for every process on Linux). The measured interactions' clips say
20 MB but answer 404 once deferred (the defer must not depend on what follows it), so the 20
background downloads stay the load. `ack_concurrent_downloads` is the fewest background downloads
in progress at any measured dispatch (from the CDN's own start and end times). Not included:
Discord's real network round trips (gateway to bot, bot to Discord).

It can come out badly: a download that blocks the loop, a database read queued behind other
work, or discord.py's HTTP/rate-limit path stalling shows in the tail.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from benchlib import percentile  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from bot.dashscope import DashScopeClient  # noqa: E402
from bot.run.app import Services, WanBot  # noqa: E402
from bot.run.settings import Settings  # noqa: E402
from bot.simulator import Simulator  # noqa: E402
from storage.connect import open_database  # noqa: E402
from tests.support.fakediscord.process import point_discord_at, spawn  # noqa: E402

MB = 1024 * 1024
BACKGROUND = 20
BACKGROUND_SIZE = 20 * MB
CDN_RATE = 1 * MB  # bytes per second per download
SAMPLES = 200
GAP_S = 0.05


async def interaction_payload(
    session: aiohttp.ClientSession, rest_url: str, url: str, size: int
) -> dict[str, Any]:
    """A new member's guild INTERACTION_CREATE for `/video continue clip:<attachment>`, made by
    the fake (which then answers its callback), for the bench to dispatch itself."""
    attachment = {"filename": "clip.mp4", "size": size, "url": url, "content_type": "video/mp4"}
    body = {"command": "video", "subcommand": "continue", "attachments": {"clip": attachment}}
    async with session.post(f"{rest_url}/_bench/slash", json=body) as answer:
        payload: dict[str, Any] = await answer.json()
    return payload


async def measure(rest_url: str, cdn_url: str) -> dict[str, Any]:
    point_discord_at(rest_url)
    simulator = Simulator()
    await simulator.start()
    folder = Path(tempfile.mkdtemp(prefix="wanbot-ack-"))
    settings = Settings(
        database_path=folder / "db.sqlite3",
        spool_dir=folder / "spool",
        heartbeat_path=folder / "heartbeat",
        quota_default_seconds=10**6,
    )
    dispatched: dict[str, float] = {}
    try:
        async with (
            aiohttp.ClientSession() as session,
            await open_database(settings.database_target()) as db,
        ):
            assert simulator.base_url
            client = DashScopeClient(session, api_key=SecretStr("k"), base_url=simulator.base_url)
            bot = WanBot(settings, Services.create(settings, session, db, client))
            async with session.get(f"{rest_url}/_bench/info") as answer:
                token = (await answer.json())["token"]
            await bot.login(token)  # the fake's /users/@me; setup_hook starts the engine
            state = bot._connection  # the gateway's own entry point, on purpose
            try:
                for index in range(BACKGROUND):
                    url = f"{cdn_url}/attachments/{BACKGROUND_SIZE}/background-{index}.mp4"
                    payload = await interaction_payload(session, rest_url, url, BACKGROUND_SIZE)
                    state.parse_interaction_create(payload)  # type: ignore[arg-type]
                await asyncio.sleep(1.0)  # let all 20 downloads begin
                for index in range(SAMPLES):
                    url = f"{cdn_url}/attachments/0/sample-{index}.mp4"
                    payload = await interaction_payload(session, rest_url, url, BACKGROUND_SIZE)
                    dispatched[payload["id"]] = time.monotonic()
                    state.parse_interaction_create(payload)  # type: ignore[arg-type]
                    await asyncio.sleep(GAP_S)
                await asyncio.sleep(1.0)
                async with session.get(f"{rest_url}/_bench/callbacks") as answer:
                    arrived: dict[str, float] = await answer.json()
                async with session.get(f"{cdn_url}/_bench/downloads") as answer:
                    downloads = await answer.json()
            finally:
                await bot.close()
    finally:
        await simulator.close()
    acks = [(arrived[i] - at) * 1000 for i, at in dispatched.items() if i in arrived]
    background = [(start, end) for name, start, end in downloads if name.startswith("background")]
    concurrent = [
        sum(1 for start, end in background if start <= at and (end is None or end > at))
        for at in dispatched.values()
    ]
    return {
        "acks": acks,
        "missing": len(dispatched) - len(acks),
        "concurrent_min": min(concurrent),
        "concurrent_max": max(concurrent),
        "background_started": len(background),
        "background_finished_during_sampling": sum(
            1 for _, end in background if end is not None and end < max(dispatched.values())
        ),
    }


def main() -> None:
    with spawn("discord") as rest_url, spawn("cdn", "--rate", str(CDN_RATE)) as cdn_url:
        result = asyncio.run(measure(rest_url, cdn_url))
    acks = result["acks"]
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        "clock: time.monotonic across processes, from dispatch (parse_interaction_create) to the"
        " callback's arrival at the fake REST; Discord's real network round trips not included"
    )
    print(
        f"ack_setup: {BACKGROUND} background /video continue downloads of"
        f" {BACKGROUND_SIZE // MB} MB at {CDN_RATE // MB} MiB/s each; {SAMPLES} measured"
        f" interactions {GAP_S * 1000:.0f} ms apart"
    )
    print(f"ack_samples: {len(acks)}")
    print(f"ack_missing_callbacks: {result['missing']}")
    print(f"ack_background_downloads_started: {result['background_started']}")
    print(
        f"ack_background_finished_during_sampling: {result['background_finished_during_sampling']}"
    )
    print(f"ack_concurrent_downloads_max: {result['concurrent_max']}")
    print(f"ack_p50_ms: {statistics.median(acks):.2f}")
    print(f"ack_p95_ms: {percentile(acks, 0.95):.2f}")
    print(f"ack_max_ms: {max(acks):.2f}")
    print(f"ack_concurrent_downloads: {result['concurrent_min']}")
    print(f"ack_p99_ms: {percentile(acks, 0.99):.2f}")
    print("# ack_concurrent_downloads is the fewest background downloads running at any dispatch")
    print("reproduce: .venv/bin/python bench/bench_ack.py")


if __name__ == "__main__":
    main()
