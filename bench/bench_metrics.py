"""What metrics cost: a scrape of `/metrics` on a large database, and what the engine pays to report.

The database holds FINISHED jobs that ended (a bot that ran for months) and UNFINISHED jobs under
way (a big backlog: most queued, some at the provider) on five models. `/metrics` is fetched over
loopback HTTP SCRAPES times, as Prometheus would, on SQLite and on PostgreSQL.

- `metrics_scrape_ms_p50_{sqlite,pg}` / `..._p95_...`: one scrape, from the GET to the last byte
  (the database's count of unfinished jobs by state and model, and the term, read each time).
- `metrics_scrape_bytes_{sqlite,pg}`: its size.
- `metrics_report_us`: one report of the engine's (a provider call: histogram + two counters).

The PostgreSQL server is started here (`pgserver`, as the tests do) and stopped at the end.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import warnings
from pathlib import Path

import aiohttp
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_retention import series
from benchlib import NullNotifier, percentile, report, report_header

from bot.dashscope import DashScopeClient
from bot.domain.catalog import MODELS
from bot.engine.runner import Engine, EngineConfig
from bot.run.health import Heartbeat
from bot.run.prometheus import MetricsServer, PrometheusMetrics
from storage.connect import open_database
from storage.database import Database
from storage.jobs import JobStore
from storage.leadership import Leadership
from storage.quotas import QuotaStore

FINISHED = 200_000
UNFINISHED = 5_000
SCRAPES = 200
REPORTS = 100_000
NOW = 1_800_000_000.0

_JOBS = """
INSERT INTO jobs (id, state, guild_id, user_id, model, resolution, duration, request_json,
                  reserved_seconds, created_at, updated_at)
SELECT n, CASE WHEN n <= {finished} THEN 'delivered'
               WHEN n % 10 = 0 THEN 'running' WHEN n % 10 = 1 THEN 'pending' ELSE 'queued' END,
       1, n % 500, {model}, '720P', 5, '{{}}', 5, {now}, {now}
FROM ({series}) AS s
"""


def model_of(n: str) -> str:
    """The n-th job's model, one of the catalogue's in turn (an SQL expression)."""
    names = sorted(MODELS)
    whens = " ".join(f"WHEN {i} THEN '{name}'" for i, name in enumerate(names))
    return f"(CASE ({n}) % {len(names)} {whens} END)"


async def fill(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            _JOBS.format(
                finished=FINISHED,
                model=model_of("n"),
                now=NOW,
                series=series(db.dialect, 1, FINISHED + UNFINISHED),
            )
        )
    if db.dialect == "postgres":
        await db.fetch_all("ANALYZE")


async def measure(target: str, name: str, folder: Path) -> None:
    async with await open_database(target) as db, aiohttp.ClientSession() as session:
        await fill(db)
        jobs = JobStore(db)
        engine = Engine(  # never started: it reports that it is not the scheduler
            db=db,
            jobs=jobs,
            quotas=QuotaStore(db),
            client=DashScopeClient(
                session, api_key=SecretStr("unused"), base_url="http://127.0.0.1:9"
            ),
            notifier=NullNotifier(),
            config=EngineConfig(spool_dir=folder / "spool"),
        )
        metrics = PrometheusMetrics(keys=["main", "spare"])
        server = MetricsServer(
            metrics,
            jobs=jobs,
            leadership=Leadership(db),
            engine=engine,
            heartbeat=Heartbeat(folder / "heartbeat", db, engine_alive=lambda: engine.alive),
        )
        await server.start("127.0.0.1", 0)
        try:
            url = f"http://127.0.0.1:{server.port}/metrics"
            times: list[float] = []
            size = 0
            for _ in range(SCRAPES):
                started = time.perf_counter()
                async with session.get(url) as answer:
                    body = await answer.read()
                times.append(time.perf_counter() - started)
                size = len(body)
            if b'wanbot_jobs{state="queued"} 4000.0' not in body:
                raise SystemExit(f"{name}: the scrape does not show the 4000 queued jobs")
        finally:
            await server.close()
            await engine.stop()
    report(f"metrics_scrape_ms_p50_{name}", percentile(times, 0.5) * 1000)
    report(f"metrics_scrape_ms_p95_{name}", percentile(times, 0.95) * 1000)
    report(f"metrics_scrape_bytes_{name}", size)


def report_cost() -> None:
    metrics = PrometheusMetrics(keys=["main"])
    started = time.perf_counter()
    for _ in range(REPORTS):
        metrics.provider_call("main", "query", "ok", 0.05)
    report("metrics_report_us", (time.perf_counter() - started) / REPORTS * 1e6)


def main() -> None:
    report_header(__file__, "real time")
    report("jobs", f"{FINISHED} finished, {UNFINISHED} unfinished")
    report_cost()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(measure(str(Path(folder) / "bench.sqlite3"), "sqlite", Path(folder)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgserver and platformdirs (see tests/conftest.py)
        import pgserver

    pg_folder = Path(tempfile.mkdtemp(prefix="wanbot-pg-"))
    pg_folder.chmod(0o755)
    server = pgserver.get_server(pg_folder, cleanup_mode="delete")
    try:
        with tempfile.TemporaryDirectory() as folder:
            asyncio.run(measure(server.get_uri(), "pg", Path(folder)))
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
