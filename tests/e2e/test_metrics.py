"""Metrics and health for operators: `/metrics` scraped over real HTTP while jobs run, `/healthz`.

What is asserted is what an operator's dashboard or alert reads: a job queued shows as waiting,
a 429 counts for its key, a delivered job shows in deliveries and charged seconds, a refused one
in refunded seconds; `/healthz` turns 503 with the reason when the database is gone. The engine
runs against the simulator in virtual time; the `run` and `worker` processes serve it for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from bot.dashscope import DashScopeClient
from bot.dev.local_cluster import Worker, enqueuer
from bot.domain.errors import InvalidInput
from bot.domain.jobs import Job, JobState
from bot.engine.runner import Engine, EngineConfig
from bot.media.pools import MediaWorkers
from bot.run.health import Heartbeat
from bot.run.prometheus import MetricsServer, PrometheusMetrics
from bot.run.services import Services
from bot.run.settings import Settings
from bot.simulator import Simulator, SimulatorConfig
from storage.connect import open_database
from storage.database import Database
from storage.jobs import JobStore
from storage.leadership import Leadership
from storage.quotas import QuotaStore
from tests.support.engine_rig import ALICE, BOB, RecordingNotifier, Rig, video_request
from tests.support.fakediscord import FakeDiscord
from tests.support.fakediscord.wanbot import fast_settings, running_bot
from tests.support.media import noisy_video
from tests.support.postgres import new_postgres_schema

MODEL = "wan2.7-i2v"


@dataclass(frozen=True)
class Scrape:
    """One answer of `/metrics`, as Prometheus reads it."""

    text: str

    def value(self, name: str, **labels: str) -> float:
        """The sample `name` with exactly `labels` (KeyError if the series is missing)."""
        for family in text_string_to_metric_families(self.text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return float(sample.value)
        raise KeyError(f"{name}{labels} is not in the scrape")


Get = Callable[[str], Awaitable[tuple[int, str]]]


@contextlib.asynccontextmanager
async def serving(server: MetricsServer) -> AsyncIterator[Get]:
    """`server` on a free loopback port, and a GET of its paths (status, body)."""
    await server.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:

            async def get(path: str) -> tuple[int, str]:
                async with session.get(f"http://127.0.0.1:{server.port}{path}") as response:
                    return response.status, await response.text()

            yield get
    finally:
        await server.close()


def server_for(
    db: Database, jobs: JobStore, engine: Engine, metrics: PrometheusMetrics
) -> MetricsServer:
    heartbeat = Heartbeat(Path("unused"), db, engine_alive=lambda: engine.alive)
    return MetricsServer(
        metrics, jobs=jobs, leadership=Leadership(db), engine=engine, heartbeat=heartbeat
    )


async def scrape(get: Get) -> Scrape:
    status, text = await get("/metrics")
    assert status == 200
    return Scrape(text)


async def test_a_scrape_while_jobs_run_shows_the_line_the_429s_deliveries_and_seconds(
    rig: Rig,
) -> None:
    metrics = PrometheusMetrics(keys=["default"])
    rig.engine = engine = Engine(
        db=rig.db,
        jobs=rig.jobs,
        quotas=rig.quotas,
        client=rig.client(),
        notifier=rig.notifier,
        config=rig.config,
        clock=rig.clock,
        metrics=metrics,
    )
    async with serving(server_for(rig.db, rig.jobs, engine, metrics)) as get:
        idle = await scrape(get)
        # The key's series exist before anything happens: a rate over them means something.
        assert idle.value("wanbot_provider_throttled_total", key="default", call="submit") == 0
        assert idle.value("wanbot_jobs_waiting", model=MODEL) == 0
        assert idle.value("wanbot_database_up") == 1

        first = await engine.enqueue(video_request(duration=4), ALICE)
        second = await engine.enqueue(video_request(duration=5), BOB)
        queued = await scrape(get)
        assert queued.value("wanbot_jobs_waiting", model=MODEL) == 2
        assert queued.value("wanbot_jobs", state="queued") == 2

        rig.simulator.script("429")  # the first submit is throttled
        await engine.step()
        await engine.settle()
        throttled = await scrape(get)
        assert throttled.value("wanbot_provider_throttled_total", key="default", call="submit") == 1
        assert (
            throttled.value(
                "wanbot_provider_call_seconds_count", call="submit", outcome="throttled"
            )
            == 1
        )
        in_line = [j for j in (first, second) if (await rig.job(j.id)).state is JobState.QUEUED]
        assert in_line, "the throttled job is back in line"
        assert throttled.value("wanbot_jobs_waiting", model=MODEL) == len(in_line)

        await rig.finish(first.id, second.id, engine=engine)
        done = await scrape(get)
        assert done.value("wanbot_deliveries_total", outcome="delivered") == 2
        assert done.value("wanbot_quota_charged_seconds_total") == 4 + 5
        assert done.value("wanbot_jobs_ended_total", model=MODEL, state="delivered") == 2
        assert done.value("wanbot_jobs_waiting", model=MODEL) == 0
        assert all(
            done.value("wanbot_jobs", state=state.value) == 0
            for state in JobState
            if not state.is_final
        )
        assert done.value("wanbot_task_seconds_count", model=MODEL) == 2
        assert done.value("wanbot_provider_call_seconds_count", call="query", outcome="ok") >= 2
        assert done.value("wanbot_provider_requests_total", key="default", call="submit") == 3
        assert done.value("wanbot_quota_refunded_seconds_total") == 0

        rig.simulator.config.failure_rate = 1.0  # the provider refuses the next video
        refused = await engine.enqueue(video_request(duration=3), ALICE)
        await rig.finish(refused.id, engine=engine)
        after = await scrape(get)
        assert after.value("wanbot_quota_refunded_seconds_total") == 3
        assert after.value("wanbot_jobs_ended_total", model=MODEL, state="failed") == 1
        assert after.value("wanbot_quota_charged_seconds_total") == 9
        assert after.value("wanbot_deliveries_total", outcome="delivered") == 2


class RefusingChannel(RecordingNotifier):
    """A channel the bot may not post in: every video post fails, and none was made."""

    async def deliver(self, job: Job, video: Path) -> int | None:
        raise RuntimeError("403 Forbidden (error code: 50013): Missing Permissions")


async def test_a_post_that_fails_counts_as_a_failed_delivery_refunded(rig: Rig) -> None:
    metrics = PrometheusMetrics(keys=["default"])
    rig.engine = engine = Engine(
        db=rig.db,
        jobs=rig.jobs,
        quotas=rig.quotas,
        client=rig.client(),
        notifier=RefusingChannel(),
        config=rig.config,
        clock=rig.clock,
        metrics=metrics,
    )
    async with serving(server_for(rig.db, rig.jobs, engine, metrics)) as get:
        job = await engine.enqueue(video_request(duration=5), ALICE)
        await rig.finish(job.id, engine=engine)
        seen = await scrape(get)
    assert (await rig.job(job.id)).state is JobState.FAILED
    assert seen.value("wanbot_deliveries_total", outcome="post_failed") == 1
    assert seen.value("wanbot_deliveries_total", outcome="delivered") == 0
    assert seen.value("wanbot_quota_refunded_seconds_total") == 5
    assert seen.value("wanbot_quota_charged_seconds_total") == 0


async def test_healthz_answers_200_while_well_then_503_with_the_reason_once_the_database_is_closed(
    database_target: str, tmp_path: Path
) -> None:
    db = await open_database(database_target)
    jobs = JobStore(db)
    async with (
        Simulator(SimulatorConfig()) as fake_dashscope,
        aiohttp.ClientSession() as session,
    ):
        assert fake_dashscope.base_url is not None
        engine = Engine(
            db=db,
            jobs=jobs,
            quotas=QuotaStore(db),
            client=DashScopeClient(
                session, api_key=SecretStr("sk-h"), base_url=fake_dashscope.base_url
            ),
            notifier=RecordingNotifier(),
            config=EngineConfig(spool_dir=tmp_path / "spool"),
        )
        metrics = PrometheusMetrics()
        await engine.start()
        try:
            async with serving(server_for(db, jobs, engine, metrics)) as get:
                assert await get("/healthz") == (200, "healthy: database answers, engine running\n")
                await db.close()
                assert await get("/healthz") == (
                    503,
                    "unhealthy: the database did not answer SELECT 1 within 5 s\n",
                )
                closed = await scrape(get)  # this process's own figures are still served
                assert closed.value("wanbot_database_up") == 0
                assert closed.value("wanbot_scheduler_leading") == 1
        finally:
            await engine.stop()


async def test_the_bot_serves_metrics_and_health_when_a_port_is_set(
    fake: FakeDiscord, simulator: Simulator, tmp_path: Path
) -> None:
    """`python -m bot run`'s bot: the endpoint starts with the engine and stops with the bot."""
    settings = fast_settings(tmp_path, metrics_port=0)
    async with running_bot(fake, simulator, settings) as running:
        server = running.bot.metrics_server
        assert server is not None and server.port
        async with asyncio.timeout(20):
            await running.bot.wait_until_ready()
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{server.port}"
            async with session.get(f"{base}/healthz") as health:
                assert (health.status, await health.text()) == (
                    200,
                    "healthy: database answers, engine running, Discord connected\n",
                )
            async with session.get(f"{base}/metrics") as answer:
                seen = Scrape(await answer.text())
        assert seen.value("wanbot_scheduler_leading") == 1  # SQLite: its one process schedules
        assert seen.value("wanbot_scheduler_term") >= 1
        assert seen.value("wanbot_provider_throttled_total", key="default", call="submit") == 0
    with pytest.raises(aiohttp.ClientConnectionError):  # closed with the bot
        async with aiohttp.ClientSession() as session, session.get(f"{base}/healthz"):
            pass


async def test_no_port_no_endpoint_and_nothing_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANBOT_METRICS_PORT", "")  # blank, as a compose file leaves it: off
    settings = Settings(database_path=tmp_path / "db.sqlite3")
    assert settings.metrics_port is None and settings.metrics_host == "127.0.0.1"
    async with (
        aiohttp.ClientSession() as session,
        await open_database(settings.database_path) as db,
    ):
        client = DashScopeClient(session, api_key=SecretStr("sk"), base_url="http://127.0.0.1:9")
        services = Services.create(settings, session, db, client)
        try:
            assert services.prometheus is None
            engine = services.make_engine(RecordingNotifier())
            heartbeat = Heartbeat(tmp_path / "hb", db, engine_alive=lambda: engine.alive)
            assert await services.serve_metrics(engine, heartbeat) is None
        finally:
            services.workers.close()


async def test_a_port_already_taken_is_one_line_naming_the_setting(rig: Rig) -> None:
    metrics = PrometheusMetrics()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = server_for(rig.db, rig.jobs, rig.engine, metrics)
        with pytest.raises(InvalidInput) as refused:
            await server.start("127.0.0.1", port)
    assert str(refused.value) == (
        f"WANBOT_METRICS_PORT: cannot listen on 127.0.0.1:{port} (Address already in use);"
        " choose a free port (or WANBOT_METRICS_HOST), or unset it to turn metrics off."
    )


async def test_each_fit_is_timed_with_its_outcome(tmp_path: Path) -> None:
    metrics = PrometheusMetrics()
    workers = MediaWorkers(on_fit=metrics.fit)
    source = noisy_video(tmp_path / "big.mp4", 3, 640, 360, with_audio=True)
    try:
        assert await workers.fit(source, tmp_path / "fitted.mp4", 150_000) is not None
        assert await workers.fit(source, tmp_path / "tiny.mp4", 2_000) is None
    finally:
        workers.close()
    seen = Scrape(metrics_text(metrics))
    assert seen.value("wanbot_fit_seconds_count", outcome="fitted") == 1
    assert seen.value("wanbot_fit_seconds_count", outcome="too_big") == 1
    assert seen.value("wanbot_fit_seconds_sum", outcome="fitted") > 0


def metrics_text(metrics: PrometheusMetrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()


async def test_a_worker_process_serves_the_cluster_s_figures(
    postgres_server: str, tmp_path: Path
) -> None:
    """`python -m bot worker` on PostgreSQL: the scheduler says so, and what it delivered."""
    url = await new_postgres_schema(postgres_server)
    async with Simulator(
        SimulatorConfig(pending_seconds=0.2, running_seconds=0.3)
    ) as fake_dashscope:
        assert fake_dashscope.base_url is not None
        worker = Worker(
            "w1",
            database_url=url,
            api_base_url=fake_dashscope.base_url,
            api_key="sk-metrics",
            output_dir=tmp_path / "out",
            folder=tmp_path / "w1",
            settings={
                "WANBOT_METRICS_PORT": "0",
                "WANBOT_TICK_SECONDS": "0.3",
                "WANBOT_POLL_DENSE_SECONDS": "0.2",
                "WANBOT_HEARTBEAT_PATH": str(tmp_path / "heartbeat"),
            },
        )
        await worker.start()
        try:
            async with asyncio.timeout(60):
                line = await worker.wait_for("Metrics at http://127.0.0.1:")
                port = int(re.search(r":(\d+)/metrics", line).group(1))  # type: ignore[union-attr]
                await worker.wait_for("This process is the scheduler now")
                async with enqueuer(url, tmp_path) as queue:
                    job = await queue.enqueue(video_request(duration=5), ALICE)
                # Its status update says so after the delivery is recorded (and counted).
                await worker.wait_for(f"Job {job.id}: delivered")
            async with aiohttp.ClientSession() as session:
                base = f"http://127.0.0.1:{port}"
                async with session.get(f"{base}/metrics") as answer:
                    seen = Scrape(await answer.text())
                async with session.get(f"{base}/healthz") as health:
                    assert health.status == 200, await health.text()
        finally:
            await worker.stop()
    assert seen.value("wanbot_scheduler_leading") == 1
    assert seen.value("wanbot_scheduler_term") == 1
    assert seen.value("wanbot_deliveries_total", outcome="delivered") == 1
    assert seen.value("wanbot_quota_charged_seconds_total") == 5
    assert seen.value("wanbot_jobs", state="queued") == 0
    assert seen.value("wanbot_delivery_leases") == 0
