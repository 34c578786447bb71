"""The fake Discord in a process of its own, for the benches: its CPU and memory are not the bot's.

`spawn("discord")` runs `python -m tests.support.fakediscord.process discord`, which prints its
port on the first line of stdout and serves until terminated: a `FakeDiscord` (the one the tests
use) whose bodies are not checked against the OpenAPI spec (the tests do that; a bench measures
the bot), whose REST answers carry X-RateLimit headers with room to spare (so discord.py's bucket
bookkeeping runs but never has to wait; real Discord would make it wait), and which adds:

- GET /_bench/info: the bot's token and the application's, guild's and channel's ids
- POST /_bench/channels {"count": n}: n more text channels in the guild; their ids
- POST /_bench/slash {"command", "subcommand", "options": {option: str | int | bool},
  "attachments": {option: {"filename", "size",
  "url", "content_type"}}}: a new member's slash command, known to the fake (its callback and
  followups are answered) but not dispatched: its INTERACTION_CREATE payload, which the bench
  hands to the bot itself
- GET /_bench/callbacks: when each interaction callback arrived, by interaction id, in
  time.monotonic() (on Linux one clock for every process)
- GET /_bench/posts: each message posted with files: [arrived, answered] in time.monotonic(), the
  body's bytes and its channel, in the order they arrived
- GET /_bench/counts: the requests per route, e.g. "POST /api/v10/channels/{channel_id}/messages"

`spawn("cdn", "--rate", R)` runs a slow attachment CDN instead: GET /attachments/{size}/{name}
sends `size` bytes of zeros at R bytes/s in 64 KiB pieces (404 for size 0), and GET
/_bench/downloads returns every download's name, start and end (time.monotonic()).
`point_discord_at` sends discord.py's REST calls in the bench's process to the fake.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.support import ROOT
from tests.support.fakediscord.model import Channel
from tests.support.fakediscord.rest import API, build_app
from tests.support.fakediscord.server import APPLICATION_COMMAND, FakeDiscord

PIECE = 64 * 1024
NO_SPEC = Path("/nonexistent/openapi.json")  # a spec that is not there: bodies go unchecked

Handler = Any  # aiohttp's handler type, as the fake's own middleware takes it


class BenchRoutes:
    """What a bench asks of the fake beside Discord's own routes, and the figures it reads."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.callbacks: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.posts: list[dict[str, Any]] = []

    def install(self, app: web.Application) -> None:
        app.middlewares.insert(0, self._measure)  # outermost: an arrival is timed first
        app.router.add_get("/_bench/info", self._info)
        app.router.add_post("/_bench/channels", self._channels)
        app.router.add_post("/_bench/slash", self._slash)
        app.router.add_get("/_bench/callbacks", self._callbacks)
        app.router.add_get("/_bench/counts", self._counts)
        app.router.add_get("/_bench/posts", self._posts)

    @web.middleware
    async def _measure(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        arrived = time.monotonic()
        if not request.path.startswith(f"{API}/"):
            return await handler(request)
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else request.path
        key = f"{request.method} {route}"
        self.counts[key] = self.counts.get(key, 0) + 1
        if route.endswith("/callback"):
            self.callbacks[request.match_info["id"]] = arrived
        response: web.StreamResponse = await handler(request)
        if key.endswith("/messages") and request.content_type.startswith("multipart/"):
            self.posts.append(
                {
                    "arrived": arrived,
                    "answered": time.monotonic(),
                    "bytes": request.content_length,
                    "channel": request.match_info.get("channel_id"),
                }
            )
        response.headers.update(
            {
                "X-RateLimit-Bucket": f"b{abs(hash(key)) % 10**8}",
                "X-RateLimit-Limit": "10000",
                "X-RateLimit-Remaining": "9999",
                "X-RateLimit-Reset-After": "1.000",
                "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            }
        )
        return response

    async def _info(self, request: web.Request) -> web.Response:
        fake = self.fake
        return web.json_response(
            {
                "token": fake.token,
                "application_id": fake.application_id,
                "guild_id": fake.guild.id,
                "channel_id": fake.channel.id,
            }
        )

    async def _channels(self, request: web.Request) -> web.Response:
        fake, made = self.fake, []
        for _ in range(int((await request.json())["count"])):
            channel = Channel(fake.ids(), f"bench-{len(fake.channels)}", guild_id=fake.guild.id)
            fake.guild.channels.append(channel)
            fake.channels[channel.id] = channel
            made.append(channel.id)
        return web.json_response(made)

    async def _slash(self, request: web.Request) -> web.Response:
        fake, body = self.fake, await request.json()
        values, resolved = [], {}
        for option, attachment in (body.get("attachments") or {}).items():
            attachment_id = str(fake.ids())
            resolved[attachment_id] = {
                "id": attachment_id,
                "proxy_url": attachment["url"],
                **attachment,
            }
            values.append({"name": option, "type": 11, "value": attachment_id})
        for option, value in (body.get("options") or {}).items():
            kind = 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 3
            values.append({"name": option, "type": kind, "value": value})
        if body.get("subcommand"):
            values = [{"name": body["subcommand"], "type": 1, "options": values}]
        data: dict[str, Any] = {"id": str(fake.ids()), "name": body["command"], "type": 1}
        data["options"] = values
        if resolved:
            data["resolved"] = {"attachments": resolved}
        member = fake.add_member(f"member{len(fake.users)}")
        interaction = fake.new_interaction(APPLICATION_COMMAND, data, member)
        return web.json_response(interaction.payload)

    async def _callbacks(self, request: web.Request) -> web.Response:
        return web.json_response(self.callbacks)

    async def _counts(self, request: web.Request) -> web.Response:
        return web.json_response(self.counts)

    async def _posts(self, request: web.Request) -> web.Response:
        return web.json_response(self.posts)


class SlowCdn:
    """Attachments of any size, streamed at `rate` bytes per second each."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.downloads: list[tuple[str, float, float | None]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/attachments/{size}/{name}", self._serve)
        app.router.add_get("/_bench/downloads", self._list)
        return app

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        size = int(request.match_info["size"])
        if size == 0:
            return web.Response(status=404)
        index = len(self.downloads)
        name = request.match_info["name"]
        self.downloads.append((name, time.monotonic(), None))
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = size
        await response.prepare(request)
        piece = b"\0" * PIECE
        sent = 0
        started = time.monotonic()
        try:
            while sent < size:
                chunk = piece[: min(PIECE, size - sent)]
                await response.write(chunk)
                sent += len(chunk)
                ahead = started + sent / self.rate - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
            await response.write_eof()
        except ConnectionResetError:
            pass  # the bench ended while this download was still running: expected
        finally:
            self.downloads[index] = (name, self.downloads[index][1], time.monotonic())
        return response

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response(self.downloads)


async def serve(app: web.Application) -> int:
    """Serve `app` on a free loopback port; print the port on stdout's first line."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port: int = runner.addresses[0][1]
    print(port, flush=True)
    return port


async def serve_discord() -> None:
    fake = FakeDiscord(spec_path=NO_SPEC)
    app = build_app(fake)
    BenchRoutes(fake).install(app)
    port = await serve(app)
    fake.base_url = f"http://127.0.0.1:{port}"
    fake.gateway.url = fake.gateway_url
    await asyncio.Event().wait()


async def serve_cdn(rate: float) -> None:
    await serve(SlowCdn(rate).app())
    await asyncio.Event().wait()


@contextlib.contextmanager
def spawn(kind: str, *args: str) -> Iterator[str]:
    """Run the fake Discord ("discord") or the slow CDN ("cdn") in a child process; yield its
    base URL (http://127.0.0.1:port); terminate it afterwards."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fakediscord.process", kind, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        child.wait(timeout=10)


def point_discord_at(base_url: str) -> None:
    """Send every discord.py REST call in this process (bot, webhook and interaction routes) to
    the fake at `base_url`."""
    import discord.http

    discord.http.Route.BASE = f"{base_url}{API}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("discord", "cdn"))
    parser.add_argument("--rate", type=float, default=2 * 1024**2, help="CDN bytes per second")
    args = parser.parse_args()
    asyncio.run(serve_discord() if args.kind == "discord" else serve_cdn(args.rate))


if __name__ == "__main__":
    main()
