"""A fake DashScope for the Wan image-to-video models: an aiohttp app on loopback.

It follows ../shared/dashscope-api.md: the same paths, headers, bodies, answers, error codes, rate
limits, upload flow and usage blocks, with task states computed from an injectable clock so tests
never sleep. The demo, the tests and the benchmarks run against it without credentials or network.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import inspect
import json
import logging
import math
import random
import re
import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import BodyPartReader, web

from bot import samples
from bot.catalog import (
    IMAGE2VIDEO_PATH,
    MB,
    MODELS,
    VIDEO_GENERATION_PATH,
    WAN26_I2V_FLASH,
    InputStyle,
    MediaType,
    ModelSpec,
    combination_text,
)
from bot.dashscope.models import PROVIDER_TIMEZONE
from bot.errors import InvalidInput
from bot.media import probe
from bot.requests import SEED_MAX

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------

API_PREFIX = "/api/v1"
OSS_PATH = "/oss"
RESULTS_PATH = "/results"
POLICY_TTL_SECONDS = 300
UPLOAD_TTL_SECONDS = 48 * 3600
MAX_FILE_SIZE_MB = 100
LIST_WINDOW_SECONDS = 24 * 3600
LIST_PAGE_SIZE_MAX = 100  # the real cap is undocumented
OSS_ACCESS_KEY_ID = "LTAI5tSimulatorAccessKey"
# DashScope stamps task times in Beijing time; list windows are read in the same zone.
BEIJING = PROVIDER_TIMEZONE
_UNFINISHED = frozenset({"PENDING", "RUNNING"})
_SCRIPT_OUTCOME = re.compile(r"^(429|500|503|drop|lost|unreadable|ok|slow:\d+(\.\d+)?)$")
_DATA_URL = re.compile(r"^data:([^;,]+)((?:;[^;,]*)*),(.*)$", re.DOTALL)

_JSON_KEY = web.RequestKey("sim_json", object)
_ACCOUNT_KEY = web.RequestKey("sim_account", str)

MediaChecker = Callable[[MediaType, bytes, ModelSpec], object]


@dataclass
class SimulatorConfig:
    """How the fake service behaves; tests may change fields while it runs."""

    pending_seconds: float = 1.0  # time a task stays PENDING
    running_seconds: float = 2.0  # then RUNNING for this long, then SUCCEEDED or FAILED
    result_ttl_seconds: float = 86_400  # the result URL's Expires
    task_ttl_seconds: float = 86_400  # after this a task id answers UNKNOWN
    query_limit_per_second: int = 20  # task query, list and cancel share it, per API key
    concurrency: dict[str, int] = field(default_factory=dict)  # per model; else the catalogue's
    submit_per_second: dict[str, int] = field(default_factory=dict)  # likewise
    failure_rate: float = 0.0  # fraction of tasks that end FAILED (DataInspectionFailed)
    server_error_rate: float = 0.0  # fraction of API requests answered 500 InternalError
    slow_seconds: float = 0.0  # delay before answering every API request
    drop_rate: float = 0.0  # fraction of API requests whose connection is closed unanswered
    seed: int = 0  # for the random faults and failures
    api_keys: frozenset[str] | None = None  # None: any non-empty Bearer key is accepted
    # Keys of one account see each other's tasks (in queries and the task list), each row naming
    # the key that made it; otherwise each key is an account of its own.
    keys_share_account: bool = False
    video_max_side: int = 320  # generated videos are small: longest side, aspect kept
    video_fps: int = 10
    # Called on the bytes of every input the simulator can see (oss:// and data:) at submission;
    # InvalidInput becomes 400 InvalidParameter.DataInspection.
    media_checker: MediaChecker | None = None
    # Per-task timing: (model name, request body) -> (pending seconds, running seconds), called at
    # task creation; None: every task takes pending_seconds and running_seconds.
    timing: Callable[[str, dict[str, Any]], tuple[float, float]] | None = None


# ---------------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class StoredUpload:
    """A file posted to the fake OSS, usable as `oss://<key>` with the model it was meant for."""

    key: str
    data: bytes
    model: str
    time: float
    content_type: str | None


@dataclass(frozen=True)
class _Policy:
    policy: str
    signature: str
    upload_dir: str
    model: str
    expires_at: float
    max_bytes: int


@dataclass
class SimTask:
    """A submitted task; its state is a function of the clock."""

    task_id: str
    spec: ModelSpec
    request_id: str
    submit_time: float
    pending_seconds: float
    running_seconds: float
    resolution: str
    duration: int
    prompt: str
    prompt_extend: bool
    sound: bool
    fail: bool
    input_size: tuple[int, int] | None  # of the first frame or clip, when the bytes were seen
    clip_seconds: float | None
    account: str = field(repr=False)  # a keyed digest of the API key, never the key
    canceled_at: float | None = None

    @property
    def model(self) -> str:
        """The model's name."""
        return self.spec.name

    @property
    def scheduled_at(self) -> float:
        """When the task starts RUNNING."""
        return self.submit_time + self.pending_seconds

    @property
    def ended_at(self) -> float:
        """When the task reaches SUCCEEDED or FAILED."""
        return self.scheduled_at + self.running_seconds

    def status(self, now: float) -> str:
        """Return the task status at `now`, ignoring expiry."""
        if self.canceled_at is not None:
            return "CANCELED"
        if now < self.scheduled_at:
            return "PENDING"
        if now < self.ended_at:
            return "RUNNING"
        return "FAILED" if self.fail else "SUCCEEDED"


class _Answer(Exception):
    """An error answer raised from deep in a handler and rendered by the middleware."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> web.Response:
        raise NotImplementedError


class _ApiError(_Answer):
    def response(self) -> web.Response:
        return _error(self.status, self.code, self.message)


class _OssError(_Answer):
    def response(self) -> web.Response:
        request_id = uuid.uuid4().hex[:24].upper()
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
            f"  <Code>{escape(self.code)}</Code>\n  <Message>{escape(self.message)}</Message>\n"
            f"  <RequestId>{request_id}</RequestId>\n  <HostId>simulator</HostId>\n</Error>\n"
        )
        return web.Response(status=self.status, text=body, content_type="application/xml")


class _AuthProblem(Enum):
    """Why a request carries no usable API key; the value is the answer's message."""

    MISSING = "No API-key provided."
    INVALID = "Invalid API-key provided."


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"request_id": str(uuid.uuid4()), "code": code, "message": message}, status=status
    )


def _ok(payload: dict[str, Any]) -> web.Response:
    return web.json_response({**payload, "request_id": str(uuid.uuid4())})


def _bad(message: str) -> _ApiError:
    return _ApiError(400, "InvalidParameter", message)


def _inspection(message: str) -> _ApiError:
    return _ApiError(400, "InvalidParameter.DataInspection", message)


def _throttled(message: str = "Requests rate limit exceeded, please try again later.") -> _ApiError:
    return _ApiError(429, "Throttling.RateQuota", message)


def _format_time(t: float) -> str:
    stamp = datetime.fromtimestamp(t, BEIJING)
    return stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond // 1000:03d}"


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


# ---------------------------------------------------------------------------------------------
# Validation of a create-task body, written against the catalogue and independent of requests.py
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Submission:
    prompt: str
    resolution: str
    duration: int
    prompt_extend: bool
    sound: bool
    inputs: tuple[tuple[MediaType, str, str], ...]  # (type, field path, url)


def _text(container: dict[str, Any], name: str, limit: int, model: str) -> str:
    value = container.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad(f"input.{name} must be a string.")
    # The real service silently truncates over-long prompts for some models; we refuse them so a
    # client that lets one through is caught in tests.
    if len(value) > limit:
        raise _bad(
            f"input.{name} is {len(value)} characters; {model} allows at most {limit} characters."
        )
    return value


def _url_field(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{where} must be a non-empty URL string.")
    return value


def _collect_inputs(
    inp: dict[str, Any], spec: ModelSpec, template: str | None
) -> tuple[tuple[MediaType, str, str], ...]:
    inputs: dict[MediaType, tuple[str, str]] = {}
    if spec.input_style is InputStyle.MEDIA:
        media = inp.get("media")
        allowed = [m.value for m in MediaType if m in spec.media_types]
        if not isinstance(media, list) or not media:
            raise _bad(
                "input.media is required: a list of {type, url} items with types among "
                + ", ".join(allowed)
                + "."
            )
        for index, item in enumerate(media):
            where = f"input.media[{index}]"
            if not isinstance(item, dict):
                raise _bad(f"{where} must be an object with type and url.")
            kind = item.get("type")
            if kind not in allowed:
                raise _bad(f"{where}.type must be one of {', '.join(allowed)}; got {kind!r}.")
            media_type = MediaType(kind)
            if media_type in inputs:
                raise _bad(
                    f"input.media: type {kind} appears more than once; each type may appear "
                    "at most once."
                )
            inputs[media_type] = (f"{where}.url", _url_field(item.get("url"), f"{where}.url"))
    else:
        fields = (
            {"img_url": MediaType.FIRST_FRAME, "audio_url": MediaType.DRIVING_AUDIO}
            if spec.input_style is InputStyle.IMG_URL
            else {"first_frame_url": MediaType.FIRST_FRAME, "last_frame_url": MediaType.LAST_FRAME}
        )
        required = next(iter(fields))
        if inp.get(required) is None:
            raise _bad(f"input.{required} is required for {spec.name}.")
        for name, media_type in fields.items():
            if inp.get(name) is not None:
                inputs[media_type] = (f"input.{name}", _url_field(inp[name], f"input.{name}"))

    present = frozenset(inputs)
    combinations = spec.template_combinations if template else spec.combinations
    if present not in combinations:
        if spec.input_style is InputStyle.KEYFRAMES and template:
            raise _bad(
                "input.last_frame_url cannot be used with input.template; send only "
                "first_frame_url and template."
            )
        if spec.input_style is InputStyle.KEYFRAMES:
            unless = " unless input.template names an effect" if spec.templates else ""
            raise _bad(f"input.last_frame_url is required for {spec.name}{unless}.")
        raise _bad(
            f"input: {combination_text(present) or 'no media'} is not a combination {spec.name} "
            "accepts; allowed: " + "; ".join(combination_text(c) for c in combinations) + "."
        )
    return tuple((m, where, url) for m, (where, url) in inputs.items())


def _validate_body(body: dict[str, Any], spec: ModelSpec) -> _Submission:
    inp = body.get("input")
    if not isinstance(inp, dict):
        raise _bad("input is required and must be an object.")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise _bad("parameters must be an object.")
    # Unknown input fields are tolerated: the SDK sends extend_prompt, function and prompt: null.
    prompt = _text(inp, "prompt", spec.prompt_max, spec.name)
    _text(inp, "negative_prompt", spec.negative_prompt_max, spec.name)
    template = inp.get("template")
    if template is not None and template not in spec.templates:
        names = ", ".join(spec.templates) if spec.templates else "none (this model has no effects)"
        raise _bad(
            f"input.template {template!r} is not an effect of {spec.name}; allowed: {names}."
        )
    inputs = _collect_inputs(inp, spec, template)

    resolution = params.get("resolution", spec.default_resolution)
    if resolution not in spec.resolutions:
        raise _bad(
            f"parameters.resolution {resolution!r} is not supported by {spec.name}; allowed: "
            + ", ".join(spec.resolutions)
            + "."
        )
    duration = params.get("duration", spec.default_duration)
    if (
        isinstance(duration, bool)
        or not isinstance(duration, int)
        or duration not in spec.durations
    ):
        raise _bad(
            f"parameters.duration {duration!r} is not supported by {spec.name}; allowed: "
            f"{spec.duration_text}."
        )
    seed = params.get("seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX
    ):
        raise _bad(f"parameters.seed must be an integer from 0 to {SEED_MAX}; got {seed!r}.")
    for name in ("prompt_extend", "watermark", "audio"):
        if name in params and not isinstance(params[name], bool):
            raise _bad(f"parameters.{name} must be true or false; got {params[name]!r}.")
    shot_type = params.get("shot_type")
    if shot_type is not None and shot_type not in ("single", "multi"):
        raise _bad(f"parameters.shot_type must be single or multi; got {shot_type!r}.")

    # Only wan2.6-i2v-flash can be made silent; `audio` overrides audio_url.
    silenced = spec.name == WAN26_I2V_FLASH.name and params.get("audio") is False
    return _Submission(
        prompt=prompt,
        resolution=resolution,
        duration=duration,
        prompt_extend=params.get("prompt_extend", True),
        sound=spec.has_sound and not silenced,
        inputs=inputs,
    )


def _decode_data_url(where: str, url: str) -> bytes:
    match = _DATA_URL.match(url)
    if match is None or not match.group(1).startswith("image/"):
        raise _bad(f"{where}: a data: URL must be data:image/<format>;base64,<data>.")
    if ";base64" not in match.group(2):
        raise _bad(f"{where}: a data: URL must be base64-encoded.")
    try:
        return base64.b64decode(match.group(3), validate=True)
    except (binascii.Error, ValueError):
        raise _inspection(f"{where}: the base64 data could not be decoded.") from None


def _probe(media_type: MediaType, data: bytes) -> tuple[int, int, float | None] | None:
    """Return (width, height, seconds) of a first frame or clip, or None when unreadable."""
    try:
        info = probe(media_type, data)
    except InvalidInput:
        # Unreadable bytes are the media checker's business; here they only lose the aspect.
        return None
    if info.width is None or info.height is None:
        return None
    return info.width, info.height, info.duration


# ---------------------------------------------------------------------------------------------
# The simulator and its routes
# ---------------------------------------------------------------------------------------------


class Simulator:
    """A fake DashScope image-to-video service; see the module docstring."""

    def __init__(
        self, config: SimulatorConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config or SimulatorConfig()
        self.clock = clock
        self.requests: list[RecordedRequest] = []
        self.tasks: dict[str, SimTask] = {}
        self.uploads: dict[str, StoredUpload] = {}
        self.base_url: str | None = None
        self._secret = secrets.token_bytes(32)
        self._script: deque[str] = deque()
        self._fault_rng = random.Random(f"{self.config.seed}:faults")
        self._failure_rng = random.Random(f"{self.config.seed}:failures")
        self._submits: dict[tuple[str, str], deque[float]] = {}
        self._queries: dict[str, deque[float]] = {}
        self._query_times: list[float] = []
        self._policies: dict[str, _Policy] = {}
        self._videos: dict[tuple[int, int, int, bool, int], bytes] = {}
        self._video_locks: dict[tuple[int, int, int, bool, int], asyncio.Lock] = {}
        self._runner: web.AppRunner | None = None
        self._app = self._build_app()

    # -- public API ----------------------------------------------------------------------------

    @property
    def app(self) -> web.Application:
        """The aiohttp application, for callers that run it themselves."""
        return self._app

    def script(self, *outcomes: str) -> None:
        """Force the outcomes of the next API requests, in order: 429, 500, 503, drop (closed
        before it is handled), lost (handled, then closed unanswered), unreadable (an HTML page
        with status 200), slow:S, ok."""
        for outcome in outcomes:
            if not _SCRIPT_OUTCOME.match(outcome):
                raise ValueError(f"Unknown scripted outcome {outcome!r}.")
        self._script.extend(outcomes)

    def peak_queries_per_second(self) -> int:
        """Return the most task queries, lists and cancels received in any 1-second window."""
        times = sorted(self._query_times)
        peak = start = 0
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
        async def middleware(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            try:
                return await self._dispatch(request, handler)
            except _Answer as answer:
                return answer.response()
            except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
                if not request.path.startswith(API_PREFIX + "/"):
                    raise
                return _error(
                    exc.status, "InvalidURL", f"{request.method} {request.path} is not an API."
                )

        # Bodies may carry base64 images of up to 10 MB.
        app = web.Application(middlewares=[middleware], client_max_size=32 * MB)
        api = API_PREFIX
        app.router.add_post(api + VIDEO_GENERATION_PATH, self._create_video_generation)
        app.router.add_post(api + IMAGE2VIDEO_PATH, self._create_image2video)
        app.router.add_get(api + "/tasks", self._list_tasks)
        app.router.add_get(api + "/tasks/{task_id}", self._get_task)
        app.router.add_post(api + "/tasks/{task_id}/cancel", self._cancel_task)
        app.router.add_get(api + "/uploads", self._get_policy)
        app.router.add_post(OSS_PATH, self._oss_upload)
        app.router.add_get(RESULTS_PATH + "/{name}", self._download)
        return app

    async def _dispatch(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        is_api = request.path.startswith(API_PREFIX + "/")
        body: Any = None
        if is_api and request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
        request[_JSON_KEY] = body
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
        if not is_api:
            return await handler(request)
        if request.path.startswith(API_PREFIX + "/tasks"):
            self._query_times.append(self.clock())
        outcome = self._script.popleft() if self._script else None
        dropped = await self._apply_faults(request, outcome)
        if dropped is not None:
            return dropped
        if not isinstance(account, str):
            raise _ApiError(401, "InvalidApiKey", account.value)
        request[_ACCOUNT_KEY] = account
        if outcome == "unreadable":
            return web.Response(
                text="<html><body>502 Bad Gateway</body></html>", content_type="text/html"
            )
        if outcome != "lost":
            return await handler(request)
        with contextlib.suppress(_Answer):
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
        return hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()[:24]

    async def _apply_faults(
        self, request: web.Request, outcome: str | None
    ) -> web.StreamResponse | None:
        if outcome is None:
            roll = self._fault_rng.random()
            if roll < self.config.drop_rate:
                outcome = "drop"
            elif roll < self.config.drop_rate + self.config.server_error_rate:
                outcome = "500"
        delay = self.config.slow_seconds
        if outcome and outcome.startswith("slow:"):
            delay += float(outcome.removeprefix("slow:"))
        if outcome not in (None, "ok"):
            log.debug("Fault %s for %s %s", outcome, request.method, request.path)
        if delay > 0:
            await asyncio.sleep(delay)
        if outcome == "drop":
            # The body has been read, so the client sees the connection close without an answer
            # (ServerDisconnectedError) rather than a reset while sending.
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=499)  # never sent; only shows in the access log
        if outcome == "429":
            raise _throttled()
        if outcome == "500":
            raise _ApiError(
                500, "InternalError", "An internal error has occurred, please try again later."
            )
        if outcome == "503":
            raise _ApiError(
                503, "ModelUnavailable", "Model is unavailable, please try again later."
            )
        return None

    def _check_query_limit(self, account: str) -> None:
        now = self.clock()
        window = self._queries.setdefault(account, deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= self.config.query_limit_per_second:
            raise _throttled()
        window.append(now)

    def _visible(self, task_id: str, account: str, now: float) -> SimTask | None:
        task = self.tasks.get(task_id)
        if task is None or (task.account != account and not self.config.keys_share_account):
            return None
        if now - task.submit_time > self.config.task_ttl_seconds:
            return None
        return task

    # -- create --------------------------------------------------------------------------------

    async def _create_video_generation(self, request: web.Request) -> web.Response:
        return await self._create(request, VIDEO_GENERATION_PATH)

    async def _create_image2video(self, request: web.Request) -> web.Response:
        return await self._create(request, IMAGE2VIDEO_PATH)

    async def _create(self, request: web.Request, path: str) -> web.Response:
        if request.headers.get("X-DashScope-Async", "").lower() != "enable":
            raise _ApiError(
                403, "AccessDenied", "current user api does not support synchronous calls"
            )
        body = request[_JSON_KEY]
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object with model, input and parameters.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _bad("model is required.")
        # Unknown models answer 400 InvalidParameter (not 404 ModelNotFound), as the API does for
        # model names it has never heard of.
        spec = MODELS.get(model)
        if spec is None:
            raise _bad("Model not exist.")
        if spec.endpoint != path:
            raise _bad("url error, please check url!")
        submission = _validate_body(body, spec)
        resolve = request.headers.get("X-DashScope-OssResourceResolve", "").lower() == "enable"
        blobs = [
            (media_type, where, data)
            for media_type, where, url in submission.inputs
            if (data := self._input_bytes(where, url, media_type, spec, resolve)) is not None
        ]
        probe = await self._inspect(spec, blobs)

        # Rate limits are checked after the last await so that the count and the new task agree.
        account: str = request[_ACCOUNT_KEY]
        now = self.clock()
        self._check_submit_limits(account, spec, now)
        pending, running = self.config.pending_seconds, self.config.running_seconds
        if self.config.timing is not None:
            pending, running = self.config.timing(spec.name, body)
        task = SimTask(
            task_id=str(uuid.uuid4()),
            spec=spec,
            request_id=str(uuid.uuid4()),
            submit_time=now,
            pending_seconds=pending,
            running_seconds=running,
            resolution=submission.resolution,
            duration=submission.duration,
            prompt=submission.prompt,
            prompt_extend=submission.prompt_extend,
            sound=submission.sound,
            fail=self._failure_rng.random() < self.config.failure_rate,
            input_size=probe[:2] if probe else None,
            clip_seconds=probe[2] if probe else None,
            account=account,
        )
        self.tasks[task.task_id] = task
        return web.json_response(
            {
                "output": {"task_status": "PENDING", "task_id": task.task_id},
                "request_id": task.request_id,
            }
        )

    def _input_bytes(
        self, where: str, url: str, media_type: MediaType, spec: ModelSpec, resolve: bool
    ) -> bytes | None:
        if url.startswith(("http://", "https://")):
            return None  # accepted without fetching
        if url.startswith("data:"):
            # Base64 is documented for images of img_url and keyframe models only.
            image = media_type in (MediaType.FIRST_FRAME, MediaType.LAST_FRAME)
            if spec.input_style is InputStyle.MEDIA or not image:
                raise _bad(
                    f"{where}: data: URLs are accepted only for images of img_url and keyframe "
                    "models; use an http(s) or oss:// URL."
                )
            return _decode_data_url(where, url)
        if url.startswith("oss://"):
            if not resolve:
                raise _inspection(
                    f"{where} is an oss:// URL, which needs the header "
                    "X-DashScope-OssResourceResolve: enable."
                )
            upload = self.uploads.get(url)
            if (
                upload is None
                or upload.model != spec.name
                or self.clock() - upload.time > UPLOAD_TTL_SECONDS
            ):
                raise _inspection(
                    "Download the media resource timed out during the data inspection process: "
                    f"{where} names no file uploaded for {spec.name}."
                )
            return upload.data
        raise _bad(f"{where} must be an http(s) or oss:// URL (or a data: URL for an image).")

    async def _inspect(
        self, spec: ModelSpec, blobs: list[tuple[MediaType, str, bytes]]
    ) -> tuple[int, int, float | None] | None:
        """Run the media checker on every visible input; return the first frame's or clip's size."""
        checker = self.config.media_checker
        if checker is not None:
            for media_type, where, data in blobs:
                try:
                    result = await asyncio.to_thread(checker, media_type, data, spec)
                    if inspect.isawaitable(result):
                        await result
                except InvalidInput as exc:
                    raise _inspection(str(exc) or f"{where} failed the data inspection.") from None
        for media_type, _, data in blobs:
            if media_type in (MediaType.FIRST_FRAME, MediaType.FIRST_CLIP):
                return await asyncio.to_thread(_probe, media_type, data)
        return None

    def _check_submit_limits(self, account: str, spec: ModelSpec, now: float) -> None:
        per_second = self.config.submit_per_second.get(spec.name, spec.submit_per_second)
        window = self._submits.setdefault((account, spec.name), deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= per_second:
            raise _throttled()
        limit = self.config.concurrency.get(spec.name, spec.concurrency)
        unfinished = sum(
            1
            for task in self.tasks.values()
            if task.account == account and task.model == spec.name
            if task.status(now) in _UNFINISHED
        )
        # Which code the real service uses for the concurrency cap is unconfirmed.
        if unfinished >= limit:
            raise _throttled(
                f"Requests rate limit exceeded: {spec.name} allows {limit} concurrent tasks "
                "(PENDING or RUNNING); please try again later."
            )
        window.append(now)

    # -- query, cancel, list -------------------------------------------------------------------

    async def _get_task(self, request: web.Request) -> web.Response:
        account: str = request[_ACCOUNT_KEY]
        self._check_query_limit(account)
        task_id = request.match_info["task_id"]
        now = self.clock()
        task = self._visible(task_id, account, now)
        if task is None:
            return _ok({"output": {"task_id": task_id, "task_status": "UNKNOWN"}})
        status = task.status(now)
        output: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": status,
            "submit_time": _format_time(task.submit_time),
        }
        payload: dict[str, Any] = {"output": output}
        if status in ("RUNNING", "SUCCEEDED", "FAILED"):
            output["scheduled_time"] = _format_time(task.scheduled_at)
        if status in ("SUCCEEDED", "FAILED"):
            output["end_time"] = _format_time(task.ended_at)
        if status == "FAILED":
            output["code"] = "DataInspectionFailed"
            output["message"] = "Input or output data may contain inappropriate content."
        if status == "SUCCEEDED":
            output["video_url"] = self._video_url(request, task)
            output["orig_prompt"] = task.prompt
            if task.prompt_extend and task.spec.family != "wan2.6":
                output["actual_prompt"] = (
                    f"{task.prompt} Cinematic lighting, smooth camera motion, rich detail."
                ).strip()
            payload["usage"] = self._usage(task)
        return _ok(payload)

    async def _cancel_task(self, request: web.Request) -> web.Response:
        account: str = request[_ACCOUNT_KEY]
        self._check_query_limit(account)
        now = self.clock()
        task = self._visible(request.match_info["task_id"], account, now)
        if task is None or task.status(now) != "PENDING":
            raise _ApiError(
                400,
                "UnsupportedOperation",
                "Failed to cancel the task, please confirm if the task is in PENDING status.",
            )
        task.canceled_at = now
        return _ok({})

    async def _list_tasks(self, request: web.Request) -> web.Response:
        account: str = request[_ACCOUNT_KEY]
        self._check_query_limit(account)
        query = request.query
        now = self.clock()
        end = self._list_time(query, "end_time", now)
        start = self._list_time(query, "start_time", end - LIST_WINDOW_SECONDS)
        if end < start:
            raise _bad("start_time must not be later than end_time.")
        if end - start > LIST_WINDOW_SECONDS:
            raise _bad("start_time and end_time may be at most 24 hours apart.")
        page_no = self._list_int(query, "page_no", 1, 1, 10**6)
        page_size = self._list_int(query, "page_size", 10, 1, LIST_PAGE_SIZE_MAX)
        rows = []
        for task in sorted(self.tasks.values(), key=lambda t: t.submit_time, reverse=True):
            if self._visible(task.task_id, account, now) is None:
                continue
            if not start <= task.submit_time <= end:
                continue
            if query.get("task_id") and task.task_id != query["task_id"]:
                continue
            if query.get("model_name") and task.model != query["model_name"]:
                continue
            status = task.status(now)
            if query.get("status") and status != query["status"]:
                continue
            rows.append(self._list_row(task, status))
        page = rows[(page_no - 1) * page_size : page_no * page_size]
        return _ok(
            {
                "total": len(rows),
                "data": page,
                "total_page": math.ceil(len(rows) / page_size),
                "page_no": page_no,
                "page_size": page_size,
            }
        )

    @staticmethod
    def _list_time(query: Any, name: str, default: float) -> float:
        text = query.get(name)
        if not text:
            return default
        try:
            return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING).timestamp()
        except ValueError:
            raise _bad(f"{name} must be YYYYMMDDhhmmss; got {text!r}.") from None

    @staticmethod
    def _list_int(query: Any, name: str, default: int, low: int, high: int) -> int:
        text = query.get(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise _bad(f"{name} must be an integer from {low} to {high}; got {text!r}.")
        return value

    @staticmethod
    def _list_row(task: SimTask, status: str) -> dict[str, Any]:
        service = "image2video" if task.spec.endpoint == IMAGE2VIDEO_PATH else "video-generation"
        row: dict[str, Any] = {
            "api_key_id": str(int(task.account[:12], 16)),  # the key that made it
            "caller_parent_id": "1000000000000000",
            "caller_uid": "1000000000000000",
            "gmt_create": round(task.submit_time * 1000),
            "model_name": task.model,
            "region": "cn-beijing",
            "request_id": task.request_id,
            "status": status,
            "task_id": task.task_id,
            "user_api_unique_key": f"apikey:v1:aigc:{service}:video-synthesis:{task.model}",
        }
        if status in ("RUNNING", "SUCCEEDED", "FAILED"):
            row["start_time"] = round(task.scheduled_at * 1000)
        if status in ("SUCCEEDED", "FAILED"):
            row["end_time"] = round(task.ended_at * 1000)
        return row

    def _usage(self, task: SimTask) -> dict[str, Any]:
        sr = int(task.resolution.removesuffix("P"))
        seconds = task.duration
        family = task.spec.family
        if family == "wan2.1":
            return {"video_duration": seconds, "video_count": 1, "video_ratio": "standard"}
        if family == "wan2.2":
            return {"video_duration": seconds, "video_count": 1, "SR": sr}
        if family == "wan2.6":
            usage: dict[str, Any] = {
                "duration": seconds,
                "input_video_duration": 0,
                "output_video_duration": seconds,
                "SR": sr,
                "video_count": 1,
            }
            if task.model == WAN26_I2V_FLASH.name:
                usage["audio"] = task.sound
            return usage
        # wan2.7. Unconfirmed: whether `duration` counts the input clip when continuing one; we
        # treat the requested duration as the total and report the clip's length as input.
        clip = round(task.clip_seconds) if task.clip_seconds else 0
        width, height = task.input_size or (16, 9)
        divisor = math.gcd(width, height)
        return {
            "SR": sr,
            "duration": seconds,
            "fps": 30,
            "input_video_duration": clip,
            "output_video_duration": max(0, seconds - clip),
            "ratio": f"{width // divisor}:{height // divisor}",
            "video_count": 1,
        }

    # -- uploads -------------------------------------------------------------------------------

    async def _get_policy(self, request: web.Request) -> web.Response:
        if request.query.get("action") != "getPolicy":
            raise _bad("action must be getPolicy.")
        model = request.query.get("model")
        if not model or model not in MODELS:
            raise _bad(f"Model not exist: model {model!r} cannot take uploads.")
        now = self.clock()
        day = datetime.fromtimestamp(now, BEIJING).strftime("%Y-%m-%d")
        upload_dir = f"dashscope-instant/{secrets.token_hex(16)}/{day}/{uuid.uuid4()}"
        expires_at = now + POLICY_TTL_SECONDS
        max_bytes = MAX_FILE_SIZE_MB * MB
        document = {
            "expiration": datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "conditions": [
                ["content-length-range", 0, max_bytes],
                ["starts-with", "$key", upload_dir],
            ],
        }
        policy = base64.b64encode(json.dumps(document).encode()).decode()
        signature = base64.b64encode(
            hmac.new(self._secret, policy.encode(), hashlib.sha1).digest()
        ).decode()
        self._policies[policy] = _Policy(
            policy, signature, upload_dir, model, expires_at, max_bytes
        )
        return _ok(
            {
                "data": {
                    "policy": policy,
                    "signature": signature,
                    "upload_dir": upload_dir,
                    "upload_host": f"http://{request.host}{OSS_PATH}",
                    "expire_in_seconds": POLICY_TTL_SECONDS,
                    "max_file_size_mb": MAX_FILE_SIZE_MB,
                    "capacity_limit_mb": 999_999_999,
                    "oss_access_key_id": OSS_ACCESS_KEY_ID,
                    "x_oss_object_acl": "private",
                    "x_oss_forbid_overwrite": "true",
                }
            }
        )

    async def _oss_upload(self, request: web.Request) -> web.Response:
        if not request.content_type.startswith("multipart/"):
            raise _OssError(400, "InvalidArgument", "The request must be multipart/form-data.")
        reader = await request.multipart()
        fields: dict[str, str] = {}
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.name != "file":
                fields[part.name] = await part.text()
                continue
            # Fields after `file` are ignored by OSS, so the policy is judged before reading it.
            grant = self._check_policy(fields)
            data = bytearray()
            while chunk := await part.read_chunk():
                data += chunk
                if len(data) > grant.max_bytes:
                    raise _OssError(
                        400,
                        "EntityTooLarge",
                        "Your proposed upload exceeds the maximum allowed size.",
                    )
            url = f"oss://{fields['key']}"
            if url in self.uploads and fields.get("x-oss-forbid-overwrite", "").lower() == "true":
                raise _OssError(
                    409, "FileAlreadyExists", "The object you specified already exists."
                )
            self.uploads[url] = StoredUpload(
                key=fields["key"],
                data=bytes(data),
                model=grant.model,
                time=self.clock(),
                content_type=fields.get("x-oss-content-type"),
            )
            status = fields.get("success_action_status", "204")
            return web.Response(status=int(status) if status in ("200", "201", "204") else 204)
        raise _OssError(400, "InvalidArgument", "The multipart form has no file field.")

    def _check_policy(self, fields: dict[str, str]) -> _Policy:
        if fields.get("OSSAccessKeyId") != OSS_ACCESS_KEY_ID:
            raise _OssError(
                403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist."
            )
        grant = self._policies.get(fields.get("policy", ""))
        if grant is None:
            raise _OssError(
                403, "AccessDenied", "Invalid according to Policy: Policy is not valid."
            )
        if not hmac.compare_digest(fields.get("Signature", ""), grant.signature):
            raise _OssError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if self.clock() > grant.expires_at:
            raise _OssError(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
        key = fields.get("key", "")
        if not key.startswith(grant.upload_dir + "/") or key == grant.upload_dir + "/":
            raise _OssError(
                403,
                "AccessDenied",
                f'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", '
                f'"{grant.upload_dir}"]',
            )
        return grant

    # -- results -------------------------------------------------------------------------------

    def _signature(self, name: str, expires: int) -> str:
        return hmac.new(self._secret, f"{name}:{expires}".encode(), hashlib.sha1).hexdigest()

    def _video_url(self, request: web.Request, task: SimTask) -> str:
        name = f"{task.task_id}.mp4"
        expires = int(task.ended_at + self.config.result_ttl_seconds)
        return (
            f"http://{request.host}{RESULTS_PATH}/{name}?Expires={expires}"
            f"&OSSAccessKeyId=sim&Signature={self._signature(name, expires)}"
        )

    async def _download(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            expires = int(request.query.get("Expires", ""))
        except ValueError:
            expires = -1
        signature = request.query.get("Signature", "")
        if expires < 0 or not hmac.compare_digest(signature, self._signature(name, expires)):
            raise _OssError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if self.clock() > expires:
            raise _OssError(403, "AccessDenied", "Request has expired.")
        task = self.tasks.get(name.removesuffix(".mp4"))
        if task is None or task.status(self.clock()) != "SUCCEEDED":
            raise _OssError(404, "NoSuchKey", "The specified key does not exist.")
        return web.Response(body=await self._video_bytes(task), content_type="video/mp4")

    async def _video_bytes(self, task: SimTask) -> bytes:
        width, height = task.input_size or (16, 9)
        side = self.config.video_max_side
        scale = side / max(width, height)
        fps = self.config.video_fps
        key = (task.duration, _even(width * scale), _even(height * scale), task.sound, fps)
        async with self._video_locks.setdefault(key, asyncio.Lock()):
            if key not in self._videos:
                self._videos[key] = await asyncio.to_thread(
                    samples.make_video,
                    float(task.duration),
                    key[1],
                    key[2],
                    fps=fps,
                    with_audio=task.sound,
                )
        return self._videos[key]


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
