"""Everything the bot builds once (stores, clients, engine), handed to the cogs and the entry.

The cogs see the part declared in `cogs/served.py` (`CogServices`); `Services` adds what only the
entry uses: the database, the whole settings, the engine's making and the metrics server.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp

from bot.dashscope import DashScopeClient
from bot.engine.inputs import InputStore
from bot.engine.key_ring import DashScopeKey, KeyRing
from bot.engine.metrics import Metrics, NoMetrics
from bot.engine.notifier import Notifier
from bot.engine.runner import Engine
from bot.media.pools import MediaWorkers
from bot.run.health import Heartbeat
from bot.run.prometheus import MetricsServer, PrometheusMetrics
from bot.run.settings import Settings
from cogs.served import CogServices
from storage.database import Database
from storage.guild_settings import GuildSettingsStore
from storage.jobs import JobStore
from storage.leadership import Leadership
from storage.member_settings import MemberSettingsStore
from storage.quotas import QuotaStore


@dataclass(kw_only=True)
class Services(CogServices):
    """What the cogs use, and what the entry runs them on; built once in `process_services`."""

    settings: Settings
    db: Database
    prometheus: PrometheusMetrics | None = None  # with WANBOT_METRICS_PORT: what it serves

    @property
    def metrics(self) -> Metrics:
        """What the engine and the media workers report to (nothing is kept without a port)."""
        return self.prometheus or NoMetrics()

    def make_engine(self, notifier: Notifier) -> Engine:
        """The engine on these stores and keys, telling `notifier` (the caller starts it)."""
        self.engine = Engine(
            db=self.db,
            jobs=self.jobs,
            quotas=self.quotas,
            keys=self.keys,
            notifier=notifier,
            config=self.settings.engine_config(),
            workers=self.workers,
            metrics=self.metrics,
        )
        return self.engine

    async def serve_metrics(self, engine: Engine, heartbeat: Heartbeat) -> MetricsServer | None:
        """Serve /metrics and /healthz if WANBOT_METRICS_PORT is set (the caller closes it)."""
        port = self.settings.metrics_port
        if self.prometheus is None or port is None:
            return None
        server = MetricsServer(
            self.prometheus,
            jobs=self.jobs,
            leadership=Leadership(self.db),
            engine=engine,
            heartbeat=heartbeat,
        )
        await server.start(self.settings.metrics_host, port)
        return server

    @classmethod
    def create(
        cls,
        settings: Settings,
        session: aiohttp.ClientSession,
        db: Database,
        client: DashScopeClient | Sequence[DashScopeKey],
        *,
        clock: Callable[[], float] = time.time,
    ) -> Services:
        """The stores on `db`, configured from `settings`, with one key's client or several keys."""
        jobs = JobStore(db, clock=clock)
        if isinstance(client, DashScopeClient):
            keys = KeyRing.single(client)
        else:
            keys = KeyRing(client, jobs=jobs)
        prometheus = None
        if settings.metrics_port is not None:
            prometheus = PrometheusMetrics(keys=[key.name for key in keys])
        return cls(
            settings=settings,
            session=session,
            db=db,
            jobs=jobs,
            quotas=QuotaStore(
                db,
                default_seconds=settings.quota_default_seconds,
                default_period=settings.quota_period,
                clock=clock,
            ),
            guild_settings=GuildSettingsStore(db, clock=clock),
            member_settings=MemberSettingsStore(db, clock=clock),
            keys=keys,
            workers=MediaWorkers(on_fit=None if prometheus is None else prometheus.fit),
            inputs=InputStore(settings.input_folder, days=settings.input_days, clock=clock),
            prometheus=prometheus,
        )


def configured_keys(settings: Settings, session: aiohttp.ClientSession) -> list[DashScopeKey]:
    """A client for each key the settings name, with its limits (the bot's where it sets none)."""
    return [
        DashScopeKey(
            name=key.name,
            client=DashScopeClient(
                session,
                api_key=key.api_key,
                base_url=settings.key_base_url(key),
                submit_seconds=settings.submit_timeout_seconds,
            ),
            concurrency={**settings.concurrency, **key.concurrency},
            submit_per_second={**settings.submit_per_second, **key.submit_per_second},
            query_budget_per_second=key.query_budget_per_second,
        )
        for key in settings.api_keys()
    ]
