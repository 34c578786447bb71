"""Metrics and health for operators: Prometheus figures of what the bot does, and the HTTP endpoint
that serves them beside `/healthz` (off unless `WANBOT_METRICS_PORT` is set; see docs/metrics.md).

`PrometheusMetrics` is the engine's `Metrics` (bot/engine/metrics.py) on a registry of its own,
never prometheus_client's global one (a test may build several). What this process does is
counted as it happens: provider calls, 429s, task times, deliveries, fits, quota seconds. What
the database knows is read when scraped: jobs in each unfinished state, jobs waiting per model,
the scheduler's term. So every process reports the database's truth, whichever is the scheduler
(and while none is): take `max` over processes for those, `sum` for the counters. Whether this
process is the scheduler, and the deliveries it carries, are its own.

The server runs on the process's event loop (aiohttp). `/healthz` answers 200 and one line while
the heartbeat's checks pass (bot/run/health.py: the database answers, the engine's loops run and, for
`run`, the Discord gateway is connected), else 503 and the reason.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder

from bot.domain.catalog import MODELS
from bot.domain.errors import InvalidInput
from bot.domain.jobs import JobState
from bot.engine.metrics import Call, CallOutcome, DeliveryOutcome
from bot.engine.runner import Engine
from bot.media.pools import FitOutcome
from bot.run.health import PING_SECONDS, Heartbeat
from storage.jobs import JobStore
from storage.leadership import Leadership

log = logging.getLogger(__name__)

CALLS: tuple[Call, ...] = ("submit", "query", "list", "cancel")
DELIVERY_OUTCOMES: tuple[DeliveryOutcome, ...] = (
    "delivered",
    "post_failed",
    "result_expired",
    "download_failed",
    "unplayable",
)
UNFINISHED = tuple(state for state in JobState if not state.is_final)
# Answers come in tens of milliseconds; a submit may wait on a busy service; the client gives up
# on a read after 60 s.
CALL_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Wan tasks take from under a minute to a quarter of an hour.
TASK_BUCKETS = (30.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0, 450.0, 600.0, 900.0, 1800.0)
FIT_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)


class PrometheusMetrics:
    """The engine's metrics, kept as Prometheus counters, histograms and gauges."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        """`keys`: the configured keys' names, so that their series exist (at 0) from the start
        and a rate over them means something before their first 429."""
        # No `_created` series beside each counter and histogram: they would double the series
        # for a time Prometheus does not need (it sees resets by itself). The library's switch.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)  # process_*: memory, CPU, open files (Linux)
        self._calls = Histogram(
            "wanbot_provider_call_seconds",
            "DashScope calls by call (submit, query, list, cancel) and outcome"
            " (ok, throttled, refused, no_answer): the network's time",
            ["call", "outcome"],
            buckets=CALL_BUCKETS,
            registry=registry,
        )
        self._requests = Counter(
            "wanbot_provider_requests",
            "DashScope calls sent per key and call; query, list and cancel count against the"
            " account's 20 queries a second",
            ["key", "call"],
            registry=registry,
        )
        self._throttled = Counter(
            "wanbot_provider_throttled",
            "DashScope calls refused with 429 (too many requests), per key and call",
            ["key", "call"],
            registry=registry,
        )
        self._tasks = Histogram(
            "wanbot_task_seconds",
            "Time a task took at DashScope, per model (as the engine learns it for polling)",
            ["model"],
            buckets=TASK_BUCKETS,
            registry=registry,
        )
        self._deliveries = Counter(
            "wanbot_deliveries",
            "Deliveries this process carried, by outcome",
            ["outcome"],
            registry=registry,
        )
        self._ended = Counter(
            "wanbot_jobs_ended",
            "Jobs this process ended, per model and final state",
            ["model", "state"],
            registry=registry,
        )
        self._charged = Counter(
            "wanbot_quota_charged_seconds",
            "Seconds of video charged to quotas at delivery (what DashScope bills)",
            registry=registry,
        )
        self._refunded = Counter(
            "wanbot_quota_refunded_seconds",
            "Seconds of video held for jobs that ended without a video, given back",
            registry=registry,
        )
        self._fits = Histogram(
            "wanbot_fit_seconds",
            "Re-encoding a video under the upload limit (waiting for a free thread included),"
            " by outcome (fitted, too_big)",
            ["outcome"],
            buckets=FIT_BUCKETS,
            registry=registry,
        )
        self._jobs = Gauge(
            "wanbot_jobs",
            "Unfinished jobs in each state, as the database has them (read at each scrape)",
            ["state"],
            registry=registry,
        )
        self._waiting = Gauge(
            "wanbot_jobs_waiting",
            "Jobs queued and not yet sent to DashScope, per model, as the database has them",
            ["model"],
            registry=registry,
        )
        self._term = Gauge(
            "wanbot_scheduler_term",
            "The scheduler's term (generation) as the database has it: it goes up at each takeover",
            registry=registry,
        )
        self._leading = Gauge(
            "wanbot_scheduler_leading",
            "1 while this process is the scheduler, else 0",
            registry=registry,
        )
        self._leases = Gauge(
            "wanbot_delivery_leases",
            "Deliveries this process carries now, each under its lease",
            registry=registry,
        )
        self._database_up = Gauge(
            "wanbot_database_up",
            "1 if the database answered this scrape's reads, else 0 (the wanbot_jobs,"
            " wanbot_jobs_waiting and wanbot_scheduler_term figures are then missing or old)",
            registry=registry,
        )
        for key in keys:
            for call in CALLS:
                self._requests.labels(key, call)
                self._throttled.labels(key, call)
        for outcome in DELIVERY_OUTCOMES:
            self._deliveries.labels(outcome)

    # -- what the engine tells (bot.engine.metrics.Metrics) ---------------------------------------

    def provider_call(self, key: str, call: Call, outcome: CallOutcome, seconds: float) -> None:
        self._calls.labels(call, outcome).observe(seconds)
        self._requests.labels(key, call).inc()
        if outcome == "throttled":
            self._throttled.labels(key, call).inc()

    def task_seconds(self, model: str, seconds: float) -> None:
        self._tasks.labels(model).observe(seconds)

    def delivery(self, outcome: DeliveryOutcome) -> None:
        self._deliveries.labels(outcome).inc()

    def job_ended(self, model: str, state: str) -> None:
        self._ended.labels(model, state).inc()

    def quota_charged(self, seconds: int) -> None:
        self._charged.inc(max(0, seconds))

    def quota_refunded(self, seconds: int) -> None:
        self._refunded.inc(max(0, seconds))

    def fit(self, outcome: FitOutcome, seconds: float) -> None:
        self._fits.labels(outcome).observe(seconds)

    # -- read at each scrape ------------------------------------------------------------------------

    async def read(self, jobs: JobStore, leadership: Leadership, engine: Engine) -> None:
        """Bring the gauges up to date: this process's part from its engine, the rest from the
        database (within a few seconds: a stuck database must not hold the scrape)."""
        self._leading.set(1 if engine.scheduling else 0)
        self._leases.set(engine.deliveries_carried)
        try:
            async with asyncio.timeout(PING_SECONDS):
                counts = await jobs.unfinished_counts()
                term = await leadership.current()
        except Exception as error:  # any failure: the scrape still shows this process's figures
            log.warning("Metrics: could not read the database (%s)", error)
            self._database_up.set(0)
            self._jobs.clear()
            self._waiting.clear()
            return
        self._database_up.set(1)
        for state in UNFINISHED:
            self._jobs.labels(state.value).set(
                sum(n for (counted, _model), n in counts.items() if counted is state)
            )
        waiting = {model: n for (state, model), n in counts.items() if state is JobState.QUEUED}
        for model in sorted({*MODELS, *waiting}):  # every model: 0 is a figure too
            self._waiting.labels(model).set(waiting.get(model, 0))
        self._term.set(term.generation if term is not None else 0)


class MetricsServer:
    """`/metrics` and `/healthz` over HTTP, on the running event loop."""

    def __init__(
        self,
        metrics: PrometheusMetrics,
        *,
        jobs: JobStore,
        leadership: Leadership,
        engine: Engine,
        heartbeat: Heartbeat,
    ) -> None:
        self.metrics = metrics
        self._jobs = jobs
        self._leadership = leadership
        self._engine = engine
        self._heartbeat = heartbeat
        self._runner: web.AppRunner | None = None
        self.port: int | None = None  # once started: the port it listens on

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port (0: any free port); one line naming the setting if it cannot."""
        app = web.Application()
        app.router.add_get("/metrics", self._scrape)
        app.router.add_get("/healthz", self._health)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            await runner.cleanup()
            why = os.strerror(error.errno) if error.errno else str(error)
            raise InvalidInput(
                f"WANBOT_METRICS_PORT: cannot listen on {host}:{port} ({why});"
                " choose a free port (or WANBOT_METRICS_HOST), or unset it to turn metrics off."
            ) from None
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        shown = f"[{host}]" if ":" in host else host
        log.info("Metrics at http://%s:%d/metrics, health at /healthz", shown, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _scrape(self, request: web.Request) -> web.Response:
        await self.metrics.read(self._jobs, self._leadership, self._engine)
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(
            body=encode(self.metrics.registry), headers={"Content-Type": content_type}
        )

    async def _health(self, request: web.Request) -> web.Response:
        try:
            trouble = await self._heartbeat.trouble()
        except Exception as error:  # a check that broke says so, as the heartbeat does
            trouble = f"the health check failed: {type(error).__name__}: {error}"
        if trouble is not None:
            return web.Response(status=503, text=f"unhealthy: {trouble}\n")
        gateway = ", Discord connected" if self._heartbeat.connected is not None else ""
        return web.Response(text=f"healthy: database answers, engine running{gateway}\n")
