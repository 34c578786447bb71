"""A minimal fake of Discord's REST API, and a slow attachment CDN, for the memory and ack benches.

Each runs in its own process (`python bench/fake_rest.py rest|cdn`), prints its port on the first
line of stdout, and serves until terminated, so its CPU and memory are not the bot's. The bot
reaches the REST fake through `discord.http.Route.BASE` (see `point_discord_at`).

REST answers just what discord.py needs for the notifier and for slash commands: login
(GET /users/@me, GET /oauth2/applications/@me), GET /channels/{id}, POST and PATCH channel
messages (JSON or multipart; the message echoes the embeds and components sent), interaction
callbacks, and webhook follow-ups. Every answer carries X-RateLimit headers with room to spare,
so discord.py's bucket bookkeeping runs but never has to wait (real Discord would make it wait:
see bench_memory.py). GET /_bench/callbacks returns when each interaction callback arrived
(time.monotonic(), which on Linux is one clock for every process).

CDN serves GET /attachments/{size}/{name}: `size` bytes of zeros at `--rate` bytes/s in 64 KiB
pieces (404 for size 0), and GET /_bench/downloads returns every download's start and end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

APPLICATION_ID = 1_100_000_000_000_000_001
BOT_USER = {
    "id": str(APPLICATION_ID),
    "username": "wanbot",
    "discriminator": "0",
    "global_name": "wanbot",
    "avatar": None,
    "bot": True,
    "public_flags": 0,
}
OWNER = BOT_USER | {"id": "1100000000000000002", "username": "owner", "bot": False}
GUILD_ID = 1_100_000_000_000_000_003
PIECE = 64 * 1024


def _json(data: Any) -> web.Response:
    """JSON as Discord labels it: discord.py parses only an exact `application/json`."""
    return web.Response(
        body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )


def channel_json(channel_id: int) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(GUILD_ID),
        "name": f"channel-{channel_id}",
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


class FakeRest:
    def __init__(self) -> None:
        self.ids = itertools.count(1_200_000_000_000_000_000)
        self.callbacks: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._ratelimit_headers], client_max_size=64 * 1024**2)
        api = "/api/v10"
        app.router.add_get(api + "/users/@me", self._me)
        app.router.add_get(api + "/oauth2/applications/@me", self._application)
        app.router.add_get(api + "/channels/{channel}", self._channel)
        app.router.add_post(api + "/channels/{channel}/messages", self._create)
        app.router.add_patch(api + "/channels/{channel}/messages/{message}", self._edit)
        app.router.add_post(api + "/interactions/{id}/{token}/callback", self._callback)
        app.router.add_post(api + "/webhooks/{app}/{token}", self._followup)
        app.router.add_patch(api + "/webhooks/{app}/{token}/messages/{message}", self._followup)
        app.router.add_get("/_bench/callbacks", self._callbacks)
        app.router.add_get("/_bench/counts", self._counts)
        return app

    @web.middleware
    async def _ratelimit_headers(self, request: web.Request, handler: Any) -> web.StreamResponse:
        route = request.match_info.route.resource
        name = route.canonical if route is not None else request.path
        key = f"{request.method} {name}"
        self.counts[key] = self.counts.get(key, 0) + 1
        response = await handler(request)
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

    async def _me(self, request: web.Request) -> web.Response:
        return _json(BOT_USER)

    async def _application(self, request: web.Request) -> web.Response:
        return _json(
            {
                "id": str(APPLICATION_ID),
                "name": "wanbot",
                "icon": None,
                "description": "",
                "summary": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": OWNER,
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "bot": BOT_USER,
            }
        )

    async def _channel(self, request: web.Request) -> web.Response:
        return _json(channel_json(int(request.match_info["channel"])))

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            raw = form.get("payload_json")
            return json.loads(str(raw)) if raw is not None else {}
        if request.can_read_body:
            return await request.json()
        return {}

    def _message(
        self, channel_id: str, body: dict[str, Any], message_id: int | None = None
    ) -> dict[str, Any]:
        return {
            "id": str(message_id or next(self.ids)),
            "channel_id": channel_id,
            "guild_id": str(GUILD_ID),
            "author": BOT_USER,
            "content": body.get("content") or "",
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": int(body.get("flags") or 0),
        }

    async def _create(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        return _json(self._message(request.match_info["channel"], body))

    async def _edit(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        message_id = int(request.match_info["message"])
        return _json(self._message(request.match_info["channel"], body, message_id))

    async def _callback(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()  # first thing: the figure is when the callback got here
        self.callbacks[request.match_info["id"]] = arrived
        body = await self._body(request)
        kind = body.get("type")
        return _json(
            {
                "interaction": {
                    "id": request.match_info["id"],
                    "type": 2,
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": bool(
                        int((body.get("data") or {}).get("flags") or 0) & 64
                    ),
                },
                "resource": {"type": kind},
            }
        )

    async def _followup(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        return _json(self._message("0", body))

    async def _callbacks(self, request: web.Request) -> web.Response:
        return _json(self.callbacks)

    async def _counts(self, request: web.Request) -> web.Response:
        return _json(self.counts)


class SlowCdn:
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
        return _json(self.downloads)


async def serve(app: web.Application) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()


@contextlib.contextmanager
def spawn(kind: str, *args: str) -> Iterator[str]:
    """Run this script as `kind` in a child process; yield its base URL (http://127.0.0.1:port)."""
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), kind, *args],
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
    """Send every discord.py REST call (bot and webhook/interaction routes) to the fake."""
    import discord.http

    discord.http.Route.BASE = f"{base_url}/api/v10"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("rest", "cdn"))
    parser.add_argument("--rate", type=float, default=2 * 1024**2, help="CDN bytes per second")
    args = parser.parse_args()
    app = FakeRest().app() if args.kind == "rest" else SlowCdn(args.rate).app()
    asyncio.run(serve(app))


if __name__ == "__main__":
    main()
