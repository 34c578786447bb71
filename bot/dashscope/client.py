"""An aiohttp client for DashScope's asynchronous video-synthesis API.

One retry loop serves every call: 429, 5xx, timeouts and dropped connections are retried with
exponential backoff and full jitter (honouring `Retry-After`); any other 4xx is final. The API
key goes only into the Authorization header of API calls: never to the OSS upload host or the
result URL, never into logs, reprs or exceptions.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from pydantic import SecretStr

from bot.catalog import MB
from bot.dashscope.models import PROVIDER_TIMEZONE, TaskList, TaskResponse, TaskStatus, UploadPolicy
from bot.errors import InvalidInput, WanbotError
from bot.requests import GenerationRequest

log = logging.getLogger(__name__)

T = TypeVar("T")
Handler = Callable[[aiohttp.ClientResponse], Awaitable[T]]

_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_TASK_TIME_FORMAT = "%Y%m%d%H%M%S"


class DashScopeError(WanbotError):
    """The provider (or the way to it) refused or failed a call.

    `status` is the HTTP status, or None when no answer came (timeout, dropped connection).
    """

    def __init__(
        self, status: int | None, code: str, message: str, request_id: str | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        where = f"HTTP {status}" if status is not None else "no answer"
        suffix = f", request {request_id}" if request_id else ""
        super().__init__(f"{code}: {message} ({where}{suffix})")

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in _RETRYABLE_STATUS


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff for the given 0-based attempt."""
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


class DashScopeClient:
    """Submit, query, cancel and list tasks; upload inputs; download results."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_key: SecretStr,
        base_url: str,
        retry: RetryPolicy | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._session = session
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._timeout = timeout or aiohttp.ClientTimeout(total=None, connect=15, sock_read=60)
        self._sleep = sleep
        self._rng = rng or random.Random()

    def __repr__(self) -> str:
        return f"DashScopeClient(base_url={self.base_url!r})"

    def with_retry(self, retry: RetryPolicy) -> DashScopeClient:
        """The same client with another retry policy (the engine retries submits itself)."""
        clone = copy.copy(self)
        clone.retry = retry
        return clone

    async def submit(self, request: GenerationRequest) -> TaskResponse:
        """Create an asynchronous task for `request`; the answer carries its task id."""
        headers = {"X-DashScope-Async": "enable"}
        if request.uses_oss:
            headers["X-DashScope-OssResourceResolve"] = "enable"
        payload = await self._api(
            "POST", request.spec.endpoint, body=request.body(), headers=headers
        )
        return TaskResponse.model_validate(payload)

    async def get_task(self, task_id: str) -> TaskResponse:
        """Return the task's current state (UNKNOWN when it does not exist or has expired)."""
        return TaskResponse.model_validate(await self._api("GET", f"/tasks/{task_id}"))

    async def cancel(self, task_id: str) -> None:
        """Cancel a task; the provider allows it only while the task is PENDING."""
        await self._api("POST", f"/tasks/{task_id}/cancel")

    async def list_tasks(
        self,
        *,
        start: datetime,
        end: datetime,
        model: str | None = None,
        status: TaskStatus | None = None,
        page_no: int = 1,
        page_size: int = 10,
    ) -> TaskList:
        """List tasks created between `start` and `end` (at most 24 h apart; naive means local)."""
        params = {
            "start_time": start.astimezone(PROVIDER_TIMEZONE).strftime(_TASK_TIME_FORMAT),
            "end_time": end.astimezone(PROVIDER_TIMEZONE).strftime(_TASK_TIME_FORMAT),
            "page_no": str(page_no),
            "page_size": str(page_size),
        }
        if model:
            params["model_name"] = model
        if status:
            params["status"] = status.value
        return TaskList.model_validate(await self._api("GET", "/tasks", params=params))

    async def upload(self, model: str, filename: str, data: bytes) -> str:
        """Upload `data` as a temporary file usable by `model` for 48 h; return its oss:// URL."""
        payload = await self._api("GET", "/uploads", params={"action": "getPolicy", "model": model})
        policy = UploadPolicy.model_validate(payload.get("data") or {})
        if len(data) > policy.max_file_size_mb * MB:
            raise InvalidInput(
                f"{filename} is {len(data) / MB:.1f} MB; uploads take at most "
                f"{policy.max_file_size_mb} MB."
            )
        key = f"{policy.upload_dir}/{Path(filename).name}"

        def form() -> aiohttp.FormData:
            # Field order as the SDK sends it; OSS requires `file` to be the last field.
            data_form = aiohttp.FormData()
            data_form.add_field("OSSAccessKeyId", policy.oss_access_key_id)
            data_form.add_field("Signature", policy.signature)
            data_form.add_field("policy", policy.policy)
            data_form.add_field("key", key)
            data_form.add_field("x-oss-object-acl", policy.x_oss_object_acl)
            data_form.add_field("x-oss-forbid-overwrite", policy.x_oss_forbid_overwrite)
            data_form.add_field("success_action_status", "200")
            data_form.add_field("file", data, filename=Path(filename).name)
            return data_form

        await self._send("POST", policy.upload_host, _ignore_body, data=form)
        return f"oss://{key}"

    async def download(self, url: str, destination: Path, *, chunk_size: int = 256 * 1024) -> int:
        """Stream the file at `url` (a result URL) to `destination`; return its size in bytes."""
        partial = destination.with_name(destination.name + ".part")

        async def stream(response: aiohttp.ClientResponse) -> int:
            size = 0
            with partial.open("wb") as out:
                async for chunk in response.content.iter_chunked(chunk_size):
                    out.write(chunk)
                    size += len(chunk)
            return size

        try:
            size = await self._send("GET", url, stream)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(destination)
        return size

    async def _api(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        auth = {"Authorization": f"Bearer {self._api_key.get_secret_value()}"}
        return await self._send(
            method,
            self.base_url + path,
            _json_body,
            json=body,
            params=params,
            headers={**auth, **(headers or {})},
        )

    async def _send(
        self,
        method: str,
        url: str,
        handler: Handler[T],
        *,
        data: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> T:
        shown = url.split("?", 1)[0]  # result URLs carry signatures in the query
        for attempt in range(self.retry.attempts):
            retry_after: float | None = None
            try:
                async with self._session.request(
                    method,
                    url,
                    data=data() if data else None,
                    timeout=self._timeout,
                    **kwargs,
                ) as response:
                    if response.status == 200:
                        return await handler(response)
                    error = await _error_from(response)
                    retry_after = _retry_after(response)
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
                error = DashScopeError(None, type(exc).__name__, _describe(exc))
            if not error.retryable or attempt + 1 == self.retry.attempts:
                log.warning("%s %s failed: %s", method, shown, error)
                raise error
            delay = (
                retry_after if retry_after is not None else self.retry.backoff(attempt, self._rng)
            )
            log.info("%s %s: %s; retry %d in %.2fs", method, shown, error, attempt + 1, delay)
            await self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")


async def _json_body(response: aiohttp.ClientResponse) -> dict[str, Any]:
    payload = json.loads(await response.read() or b"{}")
    log.debug("%s %s -> %s", response.method, response.url.path, payload.get("request_id"))
    return payload


async def _ignore_body(response: aiohttp.ClientResponse) -> None:
    await response.read()


async def _error_from(response: aiohttp.ClientResponse) -> DashScopeError:
    raw = await response.read()
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        text = raw.decode("utf-8", "replace").strip()
        return DashScopeError(
            response.status, f"HTTP{response.status}", text[:300] or response.reason or ""
        )
    message = payload.get("message") or payload.get("msg") or response.reason or ""
    return DashScopeError(
        response.status,
        payload.get("code") or f"HTTP{response.status}",
        message,
        payload.get("request_id"),
    )


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, min(float(value), 120.0))
    except ValueError:
        return None  # an HTTP date: rare here; fall back to backoff


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "the request timed out"
    return str(exc) or type(exc).__name__
