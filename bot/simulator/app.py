"""The simulator as one aiohttp app: routes, authentication, the request record, start and serve.

Every request passes one middleware: it is recorded (without the API key), given its scripted or
random fault, and refused without a usable key; error answers raised by the handlers are rendered
there. The handlers belong to the pieces composed here: uploads, tasks and results.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from aiohttp import web

from bot.domain.catalog import IMAGE2VIDEO_PATH, MB, VIDEO_GENERATION_PATH
from bot.simulator.config import Context, SimulatorConfig
from bot.simulator.faults import Faults
from bot.simulator.lifecycle import SimTask
from bot.simulator.results import Results
from bot.simulator.tasks import Tasks
from bot.simulator.uploads import StoredUpload, Uploads
from bot.simulator.wire import (
    ACCOUNT_KEY,
    API_PREFIX,
    JSON_KEY,
    OSS_PATH,
    RESULTS_PATH,
    Answer,
    ApiError,
    error,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the simulator saw it, without the API key."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    authorized: bool
    time: float


class _AuthProblem(Enum):
    """Why a request carries no usable API key; the value is the answer's message."""

    MISSING = "No API-key provided."
    INVALID = "Invalid API-key provided."


class Simulator:
    """A fake DashScope image-to-video service; see the package docstring."""

    def __init__(
        self, config: SimulatorConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._context = Context(config or SimulatorConfig(), clock, secrets.token_bytes(32))
        self.requests: list[RecordedRequest] = []
        self.arrived = asyncio.Event()  # set at every request (tests wait on it, then clear it)
        self.base_url: str | None = None
        self._faults = Faults(self._context)
        self._uploads = Uploads(self._context)
        self.uploads: dict[str, StoredUpload] = self._uploads.files
        self.tasks: dict[str, SimTask] = {}
        self._results = Results(self._context, self.tasks)
        self._tasks = Tasks(self._context, self.tasks, self._uploads, self._results)
        self._query_times: dict[str, list[float]] = {}  # whose limits -> arrivals
        self._runner: web.AppRunner | None = None
        self._app = self._build_app()

    # -- public API ----------------------------------------------------------------------------

    @property
    def config(self) -> SimulatorConfig:
        """How the service behaves; tests may change fields, or replace it, while it runs."""
        return self._context.config

    @config.setter
    def config(self, config: SimulatorConfig) -> None:
        self._context.config = config

    @property
    def clock(self) -> Callable[[], float]:
        """The clock every task time is read from; tests may replace it while it runs."""
        return self._context.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._context.clock = clock

    @property
    def app(self) -> web.Application:
        """The aiohttp application, for callers that run it themselves."""
        return self._app

    def script(self, *outcomes: str) -> None:
        """Force the outcomes of the next API requests, in order: 429, 500, 503, drop (closed
        before it is handled), lost (handled, then closed unanswered), unreadable (an HTML page
        with status 200), slow:S, ok."""
        self._faults.script(*outcomes)

    def peak_queries_per_second(self) -> int:
        """Return the most task queries, lists and cancels any one account received in any
        1-second window, counted on arrival (as its query limit counts them)."""
        peak = 0
        for arrivals in self._query_times.values():
            times = sorted(arrivals)
            start = 0
            for end, t in enumerate(times):
                while t - times[start] >= 1.0:
                    start += 1
                peak = max(peak, end - start + 1)
        return peak

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 picks a free port) and return the API base URL."""
        if self._runner is not None:
            raise RuntimeError("The simulator is already running.")
        runner = web.AppRunner(self._app, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        netloc = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.base_url = f"http://{netloc}:{bound_port}{API_PREFIX}"
        log.info("DashScope simulator listening on %s", self.base_url)
        return self.base_url

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- plumbing ------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            try:
                return await self._dispatch(request, handler)
            except Answer as answer:
                return answer.response()
            except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
                if not request.path.startswith(API_PREFIX + "/"):
                    raise
                return error(
                    exc.status, "InvalidURL", f"{request.method} {request.path} is not an API."
                )

        # Bodies may carry base64 images of up to 10 MB.
        app = web.Application(middlewares=[middleware], client_max_size=32 * MB)
        api, tasks = API_PREFIX, self._tasks
        app.router.add_post(api + VIDEO_GENERATION_PATH, tasks.create_video_generation)
        app.router.add_post(api + IMAGE2VIDEO_PATH, tasks.create_image2video)
        app.router.add_get(api + "/tasks", tasks.list_tasks)
        app.router.add_get(api + "/tasks/{task_id}", tasks.get_task)
        app.router.add_post(api + "/tasks/{task_id}/cancel", tasks.cancel_task)
        app.router.add_get(api + "/uploads", self._uploads.get_policy)
        app.router.add_post(OSS_PATH, self._uploads.upload)
        app.router.add_get(RESULTS_PATH + "/{name}", self._results.download)
        return app

    async def _dispatch(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        arrived = self.clock()
        is_api = request.path.startswith(API_PREFIX + "/")
        body: Any = None
        if is_api and request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
        request[JSON_KEY] = body
        account = self._account(request.headers.get("Authorization"))
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
                json=body,
                authorized=isinstance(account, str),
                time=self.clock(),
            )
        )
        self.arrived.set()
        if not is_api:
            return await handler(request)
        if request.path.startswith(API_PREFIX + "/tasks"):
            holder = self._tasks.limits_of(account) if isinstance(account, str) else "nobody"
            self._query_times.setdefault(holder, []).append(arrived)
        outcome = self._faults.next_scripted()
        dropped = await self._faults.apply(request, outcome)
        if dropped is not None:
            return dropped
        if not isinstance(account, str):
            raise ApiError(401, "InvalidApiKey", account.value)
        request[ACCOUNT_KEY] = account
        if outcome == "unreadable":
            return web.Response(
                text="<html><body>502 Bad Gateway</body></html>", content_type="text/html"
            )
        if outcome != "lost":
            return await handler(request)
        with contextlib.suppress(Answer):
            await handler(request)  # the work is done, but its answer never arrives
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=499)

    def _account(self, authorization: str | None) -> str | _AuthProblem:
        """Return a keyed digest standing for the caller's API key, or what is wrong with it."""
        if not authorization or not authorization.strip():
            return _AuthProblem.MISSING
        scheme, _, key = authorization.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer":
            return _AuthProblem.INVALID
        if not key:
            return _AuthProblem.MISSING
        if self.config.api_keys is not None and key not in self.config.api_keys:
            return _AuthProblem.INVALID
        return hmac.new(self._context.secret, key.encode(), hashlib.sha256).hexdigest()[:24]


async def serve(
    port: int,
    config: SimulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    ready: asyncio.Future[str] | None = None,
) -> None:
    """Run a simulator until cancelled, printing its base URL (and setting `ready`) once it listens."""
    simulator = Simulator(config)
    url = await simulator.start(host, port)
    print(f"DashScope simulator listening on {url}", flush=True)
    if ready is not None:
        ready.set_result(url)
    try:
        await asyncio.Event().wait()
    finally:
        await simulator.close()
