"""The client's edges: answers it cannot read, result links it must not follow, keys kept off plain http."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from bot.dashscope import DashScopeClient, DashScopeError, RetryPolicy
from bot.dashscope.client import UNREADABLE
from bot.domain.catalog import MediaType
from bot.domain.errors import InvalidInput
from bot.simulator import Simulator
from tests.support.provider import API_KEY, IMAGE_URL, RecordedSleeps, build


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(
            web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html"),
            id="an HTML page with status 200",
        ),
        pytest.param(web.json_response({"request_id": "r1"}), id="JSON without output"),
        pytest.param(
            web.json_response({"output": {"task_id": "t1", "task_status": "PAUSED"}}),
            id="an unknown task_status",
        ),
        pytest.param(web.json_response(["not", "an", "object"]), id="a JSON list"),
    ],
)
async def test_an_unreadable_answer_is_a_typed_provider_error(
    session: aiohttp.ClientSession, sleeps: RecordedSleeps, answer: web.Response
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return answer

    app = web.Application()
    app.router.add_get("/api/v1/tasks/{task_id}", handler)
    async with TestServer(app) as server:
        client = DashScopeClient(
            session, api_key=SecretStr(API_KEY), base_url=str(server.make_url("/api/v1"))
        )
        with pytest.raises(DashScopeError) as failed:
            await client.get_task("t1")
    assert failed.value.code == UNREADABLE
    assert failed.value.unclear, "a submit answered like this must be reconciled, not retried"
    assert API_KEY not in str(failed.value)


async def test_a_submit_answered_unreadably_is_unclear(
    client: DashScopeClient, simulator: Simulator
) -> None:
    simulator.script("unreadable")
    with pytest.raises(DashScopeError) as failed:
        await client.submit(build("wan2.7-i2v", {MediaType.FIRST_FRAME: IMAGE_URL}))
    assert failed.value.code == UNREADABLE and failed.value.unclear


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/result.mp4",
        "https://aliyuncs.com.evil.example/result.mp4",
        "http://dashscope-result.oss-cn-beijing.aliyuncs.com/result.mp4",  # plain http
        "file:///etc/passwd",
    ],
)
async def test_result_links_off_the_providers_https_hosts_are_refused_unfetched(
    session: aiohttp.ClientSession, tmp_path: Path, url: str
) -> None:
    client = DashScopeClient(
        session, api_key=SecretStr(API_KEY), base_url="https://dashscope.aliyuncs.com/api/v1"
    )
    with pytest.raises(DashScopeError) as failed:
        await client.download(url, tmp_path / "out.mp4")
    assert failed.value.code == "UntrustedResultUrl"
    assert not failed.value.retryable
    assert not list(tmp_path.iterdir())


def test_provider_result_hosts_are_trusted() -> None:
    client = DashScopeClient(
        None,  # type: ignore[arg-type]  # never used: the check comes before any request
        api_key=SecretStr(API_KEY),
        base_url="https://dashscope.aliyuncs.com/api/v1",
    )
    client.check_result_url(
        "https://dashscope-result-bj.oss-cn-beijing.aliyuncs.com/x.mp4?Expires=1"
    )


@pytest.fixture
async def results_host() -> AsyncIterator[tuple[TestServer, dict[str, int]]]:
    """A loopback host serving a big file, a redirect, and a file that never finishes."""
    hits = {"big": 0, "redirect": 0}

    async def big(request: web.Request) -> web.StreamResponse:
        hits["big"] += 1
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(64):
            await response.write(b"\0" * 64 * 1024)  # 4 MiB, no Content-Length
        return response

    async def redirect(request: web.Request) -> web.Response:
        hits["redirect"] += 1
        raise web.HTTPFound("https://evil.example.com/x.mp4")

    async def stalls(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        while True:  # a trickle: each chunk in time, the whole never
            await response.write(b"\0" * 1024)
            await asyncio.sleep(0.05)  # the fake host's pace, not a wait for state

    app = web.Application()
    app.router.add_get("/big.mp4", big)
    app.router.add_get("/redirect.mp4", redirect)
    app.router.add_get("/stalls.mp4", stalls)
    async with TestServer(app) as server:
        yield server, hits


def loopback_client(
    session: aiohttp.ClientSession, server: TestServer, **bounds: object
) -> DashScopeClient:
    return DashScopeClient(
        session,
        api_key=SecretStr(API_KEY),
        base_url=str(server.make_url("/api/v1")),  # on loopback, like the simulator
        retry=RetryPolicy(attempts=1),
        **bounds,  # type: ignore[arg-type]
    )


async def test_a_result_over_the_byte_cap_is_refused_and_nothing_is_kept(
    session: aiohttp.ClientSession, results_host: tuple[TestServer, dict[str, int]], tmp_path: Path
) -> None:
    server, _ = results_host
    client = loopback_client(session, server, max_result_bytes=1024 * 1024)
    with pytest.raises(DashScopeError) as failed:
        await client.download(str(server.make_url("/big.mp4")), tmp_path / "out.mp4")
    assert failed.value.code == "ResultTooLarge"
    assert not list(tmp_path.iterdir()), "no partial file is left behind"


async def test_a_result_download_does_not_follow_redirects(
    session: aiohttp.ClientSession, results_host: tuple[TestServer, dict[str, int]], tmp_path: Path
) -> None:
    server, _ = results_host
    client = loopback_client(session, server)
    with pytest.raises(DashScopeError) as failed:
        await client.download(str(server.make_url("/redirect.mp4")), tmp_path / "out.mp4")
    assert failed.value.status == 302
    assert not list(tmp_path.iterdir())


async def test_a_result_download_is_bounded_in_time(
    session: aiohttp.ClientSession, results_host: tuple[TestServer, dict[str, int]], tmp_path: Path
) -> None:
    server, _ = results_host
    client = loopback_client(session, server, download_seconds=0.3)
    with pytest.raises(DashScopeError) as failed:
        await client.download(str(server.make_url("/stalls.mp4")), tmp_path / "out.mp4")
    assert failed.value.status is None and "timed out" in failed.value.message
    assert not list(tmp_path.iterdir())


async def test_loopback_results_only_when_the_api_is_on_loopback(
    session: aiohttp.ClientSession, results_host: tuple[TestServer, dict[str, int]], tmp_path: Path
) -> None:
    server, hits = results_host
    client = DashScopeClient(
        session, api_key=SecretStr(API_KEY), base_url="https://dashscope.aliyuncs.com/api/v1"
    )
    with pytest.raises(DashScopeError, match="UntrustedResultUrl"):
        await client.download(str(server.make_url("/big.mp4")), tmp_path / "out.mp4")
    assert hits["big"] == 0


@pytest.mark.parametrize(
    "url", ["http://dashscope.aliyuncs.com/api/v1", "http://10.0.0.5:8080/api/v1"]
)
def test_plain_http_to_another_host_is_refused_it_would_send_the_key_in_clear(url: str) -> None:
    with pytest.raises(InvalidInput, match="plain http"):
        DashScopeClient(None, api_key=SecretStr(API_KEY), base_url=url)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8765/api/v1", "http://localhost:1/api/v1", "http://[::1]:2/api/v1"]
)
def test_plain_http_to_loopback_is_allowed_for_the_simulator(url: str) -> None:
    DashScopeClient(None, api_key=SecretStr(API_KEY), base_url=url)  # type: ignore[arg-type]
