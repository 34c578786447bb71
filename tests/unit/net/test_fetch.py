"""The one bounded fetch: whole bodies from slow streams, caps, redirects, nothing left behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.net.fetch import Bounds, FetchFailed, TooLarge, fetch


@pytest.fixture
async def host() -> AsyncIterator[TestServer]:
    """Bodies in slow pieces (more than any one buffer holds), a stated size, a redirect."""

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(int(request.query.get("pieces", "4"))):
            await response.write(b"x" * 100_000)
            await asyncio.sleep(0.01)  # the fake host's pace: each piece arrives on its own
        return response

    async def stated(request: web.Request) -> web.Response:
        return web.Response(body=b"y" * 5000)

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/trickle")

    app = web.Application()
    app.router.add_get("/trickle", trickle)
    app.router.add_get("/stated", stated)
    app.router.add_get("/moved", moved)
    server = TestServer(app)
    async with server:
        yield server


async def test_a_slow_body_is_read_whole_to_memory_and_to_a_file(
    session: aiohttp.ClientSession, host: TestServer, tmp_path: Path
) -> None:
    bounds = Bounds(max_bytes=400_000, seconds=10)
    assert await fetch(session, str(host.make_url("/trickle")), bounds) == b"x" * 400_000
    target = tmp_path / "body.bin"
    size = await fetch(session, str(host.make_url("/trickle")), bounds, to=target)
    assert size == target.stat().st_size == 400_000
    assert [p.name for p in tmp_path.iterdir()] == ["body.bin"]


@pytest.mark.parametrize("path", ["/trickle?pieces=5", "/stated"])
async def test_a_body_over_the_cap_is_refused_and_nothing_is_kept(
    session: aiohttp.ClientSession, host: TestServer, tmp_path: Path, path: str
) -> None:
    with pytest.raises(TooLarge):
        await fetch(session, str(host.make_url(path)), Bounds(max_bytes=4000, seconds=10))
    with pytest.raises(TooLarge):
        await fetch(session, str(host.make_url(path)), Bounds(4000, 10), to=tmp_path / "body.bin")
    assert not list(tmp_path.iterdir())


async def test_redirects_are_followed_only_when_the_bounds_allow(
    session: aiohttp.ClientSession, host: TestServer
) -> None:
    url = str(host.make_url("/moved"))
    assert len(await fetch(session, url, Bounds(max_bytes=1_000_000, seconds=10))) == 400_000
    with pytest.raises(FetchFailed) as failed:
        await fetch(session, url, Bounds(1_000_000, 10, follow_redirects=False))
    assert (failed.value.status, failed.value.reason) == (302, "HTTP 302")


async def test_no_answer_in_time_is_a_fetch_failure(
    session: aiohttp.ClientSession, host: TestServer
) -> None:
    with pytest.raises(FetchFailed) as failed:
        await fetch(session, str(host.make_url("/trickle?pieces=100")), Bounds(10**9, 0.1))
    assert failed.value.status is None and "Timeout" in failed.value.reason
