"""Make docs/usage-chart.png: a plausible week of a server's videos, drawn by `python -m bot usage`.

Fills a throwaway SQLite database through the stores, as the engine would (seven members over
last week, an 800 s budget, a few failed videos refunded), then runs the command as an operator
does. The numbers are seeded; the dates are last week's, so a new run differs only in them.

    python docs/make_usage_chart.py
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's code, not an installed copy

from bot.domain.catalog import MediaType  # noqa: E402
from bot.domain.errors import QuotaExceeded  # noqa: E402
from bot.domain.jobs import Requester  # noqa: E402
from bot.domain.quota import Period, period_bounds  # noqa: E402
from bot.domain.requests import GenerationRequest, MediaItem  # noqa: E402
from bot.engine.virtual import VirtualClock  # noqa: E402
from storage.connect import open_database  # noqa: E402
from storage.jobs import JobStore  # noqa: E402
from storage.quotas import QuotaStore  # noqa: E402

GUILD = 1_180_000_000_000_000_001
MEMBERS = {  # user id → how keen (videos a day, on average)
    1_180_000_000_000_000_101: 3.6,
    1_180_000_000_000_000_102: 2.8,
    1_180_000_000_000_000_103: 2.1,
    1_180_000_000_000_000_104: 1.5,
    1_180_000_000_000_000_105: 1.1,
    1_180_000_000_000_000_106: 0.7,
    1_180_000_000_000_000_107: 0.4,
}
BUDGET = 800
COST_PER_SECOND = "0.10"
DAY = 86_400


async def fill(database: Path, seed: int = 7) -> None:
    """Last week's videos, each reserved when asked for and then billed or refunded."""
    rng = random.Random(seed)
    this_week, _ = period_bounds(Period.WEEK, time.time())
    last_week = this_week - 7 * DAY
    clock = VirtualClock(last_week)
    async with await open_database(database) as db:
        jobs = JobStore(db, clock=clock)
        quotas = QuotaStore(db, default_seconds=300, clock=clock)
        await quotas.set_budget(GUILD, BUDGET)
        asks = [
            (last_week + day * DAY + rng.uniform(8, 23.5) * 3600, user_id)
            for day in range(7)
            for user_id, keen in MEMBERS.items()
            for _ in range(_poisson(rng, keen * (1.4 if day >= 4 else 0.8)))  # busier weekend
        ]
        for at, user_id in sorted(asks):
            clock.now = at
            seconds = rng.choice((5, 5, 10, 10, 15))
            request = GenerationRequest(
                model="wan2.7-i2v",
                media=(MediaItem(type=MediaType.FIRST_FRAME, url="https://example.com/a.png"),),
                duration=seconds,
            )
            try:
                async with db.transaction() as tx:
                    job_id = await jobs.create(
                        tx,
                        requester=Requester(user_id, GUILD),
                        request=request,
                        reserved_seconds=seconds,
                    )
                    await quotas.reserve(
                        tx, guild_id=GUILD, user_id=user_id, seconds=seconds, job_id=job_id
                    )
            except QuotaExceeded:
                continue  # refused, as the bot would: nothing was queued
            async with db.transaction() as tx:
                if rng.random() < 0.08:
                    await quotas.refund(tx, job_id=job_id, reason="failed")
                else:
                    await quotas.commit(tx, job_id=job_id, billed_seconds=seconds)


def _poisson(rng: random.Random, mean: float) -> int:
    count, threshold, product = 0, math.exp(-mean), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def main() -> None:
    output = ROOT / "docs" / "usage-chart.png"
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "wanbot.sqlite3"
        asyncio.run(fill(database))
        environment = {
            **os.environ,
            "WANBOT_DATABASE_PATH": str(database),
            "WANBOT_COST_PER_SECOND_USD": COST_PER_SECOND,
            "WANBOT_QUOTA_PERIOD": "week",
        }
        command = [sys.executable, "-m", "bot", "usage", "--guild", str(GUILD)]
        command += ["--period", "previous", "--output", str(output)]
        subprocess.run(command, cwd=ROOT, env=environment, check=True)


if __name__ == "__main__":
    main()
