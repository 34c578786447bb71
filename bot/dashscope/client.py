"""An aiohttp client for DashScope's asynchronous video-synthesis API.

One retry loop (`bot.net.retry`) serves every call: 429, 5xx, timeouts and dropped connections are
retried with exponential backoff and full jitter (honouring `Retry-After`); any other 4xx is final. An answer
that cannot be read (not JSON, or not the shape documented) is a `DashScopeError` too, with code
`UnreadableAnswer`: callers handle one error type. The API key goes only into the Authorization
header of API calls, only over https (plain http only to loopback, for the simulator): never to
the OSS upload host or the result URL, never into logs, reprs or exceptions. Result downloads
are bounded in bytes and time, and accepted only from the provider's hosts.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from ipaddress import ip_address
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from pydantic import BaseModel, SecretStr, ValidationError

from bot.dashscope.errors import UNREADABLE as UNREADABLE  # where callers have long found it
from bot.dashscope.errors import DashScopeError, no_answer, result_too_large
from bot.dashscope.models import PROVIDER_TIMEZONE, TaskList, TaskResponse, TaskStatus, UploadPolicy
from bot.domain.catalog import MB
from bot.domain.errors import InvalidInput
from bot.domain.requests import GenerationRequest
from bot.i18n import _
from bot.net.fetch import Bounds, TooLarge, read_body
from bot.net.retry import RetryPolicy, retry

log = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Handler = Callable[[aiohttp.ClientResponse], Awaitable[T]]

_TASK_TIME_FORMAT = "%Y%m%d%H%M%S"
# Results come from the provider's OSS buckets (…oss-cn-beijing.aliyuncs.com and the like).
PROVIDER_RESULT_HOSTS = ("aliyuncs.com",)
DEFAULT_MAX_RESULT_BYTES = 1024 * MB  # real results are tens of MB; this only stops a runaway
DEFAULT_DOWNLOAD_SECONDS = 600.0


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
        result_hosts: tuple[str, ...] = PROVIDER_RESULT_HOSTS,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        download_seconds: float = DEFAULT_DOWNLOAD_SECONDS,
        submit_seconds: float | None = None,
    ) -> None:
        self._session = session
        self._api_key = api_key
        self.base_url = check_base_url(base_url)
        self.retry = retry or RetryPolicy()
        self._timeout = timeout or aiohttp.ClientTimeout(total=None, connect=15, sock_read=60)
        # How long one submit may take in all: the engine's submit deadline is this plus a margin.
        self.submit_seconds = submit_seconds
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._result_hosts = result_hosts
        # Results from loopback only when the API itself is on loopback: the simulator.
        self._loopback_results = is_loopback(urlsplit(self.base_url).hostname or "")
        self.result_bounds = Bounds(
            max_bytes=max_result_bytes,
            seconds=download_seconds,
            follow_redirects=False,
            connect=15,
            sock_read=60,
        )

    def __repr__(self) -> str:
        return f"DashScopeClient(base_url={self.base_url!r})"

    @property
    def max_result_bytes(self) -> int:
        return self.result_bounds.max_bytes

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
        timeout = None
        if self.submit_seconds is not None:
            timeout = aiohttp.ClientTimeout(
                total=self.submit_seconds,
                connect=self._timeout.connect,
                sock_read=self._timeout.sock_read,
            )
        payload = await self._api(
            "POST", request.spec.endpoint, body=request.body(), headers=headers, limits=timeout
        )
        return _parse(TaskResponse, payload)

    async def get_task(self, task_id: str) -> TaskResponse:
        """Return the task's current state (UNKNOWN when it does not exist or has expired)."""
        return _parse(TaskResponse, await self._api("GET", f"/tasks/{task_id}"))

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
        return _parse(TaskList, await self._api("GET", "/tasks", params=params))

    async def upload(self, model: str, filename: str, data: bytes) -> str:
        """Upload `data` as a temporary file usable by `model` for 48 h; return its oss:// URL."""
        payload = await self._api("GET", "/uploads", params={"action": "getPolicy", "model": model})
        policy = _parse(UploadPolicy, payload.get("data") or {})
        if len(data) > policy.max_file_size_mb * MB:
            raise InvalidInput(
                # Translators: {filename} is an input file's name; sizes are in megabytes.
                _(
                    "“{filename}” is {size} MB; the provider takes uploads of at most {limit} MB.",
                    filename=filename,
                    size=f"{len(data) / MB:.1f}",
                    limit=policy.max_file_size_mb,
                )
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

    def check_result_url(self, url: str) -> None:
        """Refuse a result URL that is not the provider's (https, on its hosts), before fetching."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if self._loopback_results and is_loopback(host) and parts.scheme in ("http", "https"):
            return
        trusted = any(host == h or host.endswith("." + h) for h in self._result_hosts)
        if parts.scheme != "https" or not trusted:
            shown = host or "?"
            raise DashScopeError(
                None,
                "UntrustedResultUrl",
                f"the result link is not an https link on the provider's hosts ({shown})",
                final=True,
                # Translators: part of an error ("UntrustedResultUrl: …"); {host} is a web host.
                explained=_(
                    "the result link is not an https link on the provider's hosts ({host})",
                    host=shown,
                ),
            )

    async def download(self, url: str, destination: Path, *, chunk_size: int = 256 * 1024) -> int:
        """Stream the result at `url` to `destination` within the byte and time bounds; return its
        size. Redirects are not followed: a result is served where the provider said."""
        self.check_result_url(url)
        bounds = self.result_bounds

        async def stream(response: aiohttp.ClientResponse) -> int:
            return await read_body(
                response, bounds.max_bytes, to=destination, chunk_bytes=chunk_size
            )

        try:
            return await self._send("GET", url, stream, **bounds.request_options())
        except TooLarge:
            raise result_too_large(bounds.max_bytes) from None

    async def _api(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        limits: aiohttp.ClientTimeout | None = None,
    ) -> dict[str, Any]:
        auth = {"Authorization": f"Bearer {self._api_key.get_secret_value()}"}
        return await self._send(
            method,
            self.base_url + path,
            _json_body,
            json=body,
            params=params,
            headers={**auth, **(headers or {})},
            timeout=limits or self._timeout,
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
        kwargs.setdefault("timeout", self._timeout)
        failed: DashScopeError | None = None  # the last refusal or lost connection, not a handler's

        async def attempt() -> T:
            nonlocal failed
            try:
                async with self._session.request(
                    method,
                    url,
                    data=data() if data else None,
                    **kwargs,
                ) as response:
                    if response.status == 200:
                        return await handler(response)
                    error = await _error_from(response)
                    error.retry_after = _retry_after(response)
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
                error = no_answer(exc)
            failed = error
            raise error

        def retryable(error: Exception) -> bool:
            # An error raised while reading a 200 answer (unreadable, too large) is final.
            return error is failed and isinstance(error, DashScopeError) and error.retryable

        def retrying(error: Exception, attempt: int, delay: float) -> None:
            log.info("%s %s: %s; retry %d in %.2fs", method, shown, error, attempt, delay)

        try:
            return await retry(
                attempt,
                self.retry,
                retryable=retryable,
                retry_after=lambda error: error.retry_after if error is failed else None,
                sleep=self._sleep,
                rng=self._rng,
                on_retry=retrying,
            )
        except DashScopeError as error:
            if error is failed:
                log.warning("%s %s failed: %s", method, shown, error)
            raise


async def _json_body(response: aiohttp.ClientResponse) -> dict[str, Any]:
    raw = await response.read()
    try:
        payload = json.loads(raw or b"{}")
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        text = raw[:120].decode("utf-8", "replace").strip()
        raise DashScopeError(
            response.status,
            UNREADABLE,
            f"the answer is not JSON: {text!r}",
            # Translators: part of an error ("UnreadableAnswer: …"); {excerpt} is the start of
            # the provider's answer, quoted.
            explained=_("the answer is not JSON: {excerpt}", excerpt=repr(text)),
        )
    log.debug("%s %s -> %s", response.method, response.url.path, payload.get("request_id"))
    return payload


def _parse(model: type[M], payload: dict[str, Any]) -> M:
    """The answer as `model`, or an UnreadableAnswer error naming what did not fit."""
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the answer"
        raise DashScopeError(
            200,
            UNREADABLE,
            f"{where}: {first['msg']}",
            payload.get("request_id") if isinstance(payload.get("request_id"), str) else None,
        ) from None


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Accept an API base URL like `https://dashscope.aliyuncs.com/api/v1`; plain http only on
    loopback (the simulator), since the key travels in its headers."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidInput(
            f"The base URL {url!r} is not a web address like "
            "https://dashscope.aliyuncs.com/api/v1.",
            field="base_url",
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise InvalidInput(
            f"The base URL {url!r} uses plain http, which would send the API key in clear; "
            "use https (plain http is only for a simulator on this machine).",
            field="base_url",
        )
    return url.strip().rstrip("/")


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
