"""The fake's REST API (`/api/v10/...`) and CDN (`/attachments/...`) as an aiohttp app.

A middleware records every API request, applies injected faults, checks JSON bodies (and the
`payload_json` of multipart bodies) against Discord's OpenAPI spec and answers 400 with Discord's
"Invalid Form Body" when one breaks it. Handlers keep state in the `FakeDiscord` they serve.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.support.fakediscord.faults import error_body

if TYPE_CHECKING:
    from tests.support.fakediscord.server import FakeDiscord

API = "/api/v10"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_FAKE = web.AppKey("fake", object)
_BODY = web.RequestKey("body", object)
_FILES = web.RequestKey("files", list)


@dataclass
class Call:
    """One API request as the fake saw it."""

    method: str
    path: str  # without /api/v10
    query: dict[str, str]
    body: Any  # JSON, or the payload_json of a multipart body
    files: list[tuple[str, str, bytes]]  # (field, filename, bytes)
    at: float = field(default_factory=time.monotonic)
    status: int | None = None


class DiscordError(Exception):
    """An error answer in Discord's shape."""

    def __init__(self, status: int, message: str | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(status, message, code)


def build_app(fake: FakeDiscord) -> web.Application:
    app = web.Application(middlewares=[_middleware], client_max_size=64 * 1024 * 1024)
    app[_FAKE] = fake
    routes = RestRoutes(fake)
    add = app.router.add_route
    add("GET", "/gateway", fake.gateway.handle)
    add("GET", "/attachments/{id}/{filename}", routes.cdn)
    add("GET", f"{API}/gateway", routes.get_gateway)
    add("GET", f"{API}/gateway/bot", routes.get_gateway)
    add("GET", f"{API}/users/@me", routes.me)
    add("GET", f"{API}/oauth2/applications/@me", routes.application)
    add("POST", f"{API}/users/@me/channels", routes.open_dm)
    add("GET", f"{API}/users/{{user_id}}", routes.get_user)
    add("GET", f"{API}/guilds/{{guild_id}}/members/{{user_id}}", routes.get_member)
    add("GET", f"{API}/channels/{{channel_id}}", routes.get_channel)
    add("GET", f"{API}/channels/{{channel_id}}/messages", routes.history)
    add("POST", f"{API}/channels/{{channel_id}}/messages", routes.create)
    add("GET", f"{API}/channels/{{channel_id}}/messages/{{message_id}}", routes.get_message)
    add("PATCH", f"{API}/channels/{{channel_id}}/messages/{{message_id}}", routes.edit)
    add("DELETE", f"{API}/channels/{{channel_id}}/messages/{{message_id}}", routes.delete)
    add("POST", f"{API}/interactions/{{id}}/{{token}}/callback", routes.callback)
    add("POST", f"{API}/webhooks/{{app_id}}/{{token}}", routes.followup)
    for method in ("GET", "PATCH", "DELETE"):
        add(method, f"{API}/webhooks/{{app_id}}/{{token}}/messages/{{message_id}}", routes.webhook)
    add("PUT", f"{API}/applications/{{app_id}}/commands", routes.sync)
    add("PUT", f"{API}/applications/{{app_id}}/guilds/{{guild_id}}/commands", routes.sync)
    return app


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON with exactly `application/json`: discord.py reads nothing else as JSON (no charset)."""
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(f"{API}/"):
        return await handler(request)
    fake: FakeDiscord = request.app[_FAKE]  # type: ignore[assignment]
    path = request.path[len(API) :]
    body, files = await _read_body(request)
    call = Call(request.method, path, dict(request.query), body, files)
    fake.calls.append(call)
    try:
        fault = fake.faults.take(request.method, path)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            response: web.StreamResponse = json_response(fault.body, status=fault.status)
        else:
            _check_auth(fake, request, path)
            _check_body(fake, request.method, path, body)
            request[_BODY], request[_FILES] = body, files
            response = await handler(request)
    except DiscordError as error:
        response = json_response(error.body, status=error.status)
    call.status = response.status
    fake.notify()
    return response


async def _read_body(request: web.Request) -> tuple[Any, list[tuple[str, str, bytes]]]:
    if not request.can_read_body:
        return None, []
    if request.content_type == "multipart/form-data":
        body: Any = None
        files: list[tuple[str, str, bytes]] = []
        reader = await request.multipart()
        async for part in reader:
            data = await part.read()  # type: ignore[union-attr]
            if part.name == "payload_json":
                body = json.loads(bytes(data))
            else:
                files.append((part.name or "", part.filename or "", bytes(data)))  # type: ignore[union-attr]
        return body, files
    raw = await request.read()
    return (json.loads(raw) if raw else None), []


def _check_auth(fake: FakeDiscord, request: web.Request, path: str) -> None:
    if path.startswith(("/webhooks/", "/interactions/")):
        return  # authorised by the interaction token in the path
    if path == "/gateway":
        return  # public, as on Discord (/gateway/bot is not)
    if request.headers.get("Authorization") != f"Bot {fake.token}":
        raise DiscordError(401, "401: Unauthorized", 0)


def _check_body(fake: FakeDiscord, method: str, path: str, body: Any) -> None:
    if body is None:
        return
    found = fake.spec.check(method, path, body)
    if found:
        fake.violations.extend(found)
        raise DiscordError(400, "Invalid Form Body: " + "; ".join(map(str, found)), 50035)


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError as error:
        raise DiscordError(404, "Unknown", 10000) from error


class RestRoutes:
    """Route handlers; state lives in `fake`."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    async def cdn(self, request: web.Request) -> web.Response:
        upload = self.fake.uploads.get(_int(request, "id"))
        if upload is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=upload.data, content_type=upload.content_type or "application/octet-stream"
        )

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.fake.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def me(self, request: web.Request) -> web.Response:
        return json_response(self.fake.bot_user.to_json())

    async def application(self, request: web.Request) -> web.Response:
        return json_response(self.fake.application_json())

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.fake.users.get(_int(request, "user_id"))
        if user is None:
            raise DiscordError(404, "Unknown User", 10013)
        return json_response(user.to_json())

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self.fake.guild
        if _int(request, "guild_id") != guild.id:
            raise DiscordError(404, "Unknown Guild", 10004)
        user_id = _int(request, "user_id")
        member = next((u for u in guild.members if u.id == user_id), None)
        if member is None:  # never joined, left, or banned
            raise DiscordError(404, "Unknown Member", 10007)
        return json_response(guild.member_json(member))

    async def open_dm(self, request: web.Request) -> web.Response:
        body = request[_BODY] or {}
        user = self.fake.users.get(int(body.get("recipient_id", 0)))
        if user is None:
            raise DiscordError(400, "Invalid Recipient(s)", 50033)
        return json_response(self.fake.dm_channel(user).to_json())

    async def get_channel(self, request: web.Request) -> web.Response:
        return json_response(self.fake.channel_or_404(_int(request, "channel_id")).to_json())

    async def history(self, request: web.Request) -> web.Response:
        channel = self.fake.channel_or_404(_int(request, "channel_id"))
        query = request.query
        limit = max(1, min(100, int(query.get("limit", 50))))
        found = self.fake.history(
            channel.id,
            limit=limit,
            before=int(query["before"]) if "before" in query else None,
            after=int(query["after"]) if "after" in query else None,
        )
        return json_response([self.fake.message_json(m) for m in found])

    async def create(self, request: web.Request) -> web.Response:
        channel = self.fake.channel_or_404(_int(request, "channel_id"))
        message = self.fake.create_message(
            channel, self.fake.bot_user, request[_BODY] or {}, request[_FILES]
        )
        return json_response(self.fake.message_json(message))

    async def get_message(self, request: web.Request) -> web.Response:
        message = self.fake.message_or_404(_int(request, "channel_id"), _int(request, "message_id"))
        return json_response(self.fake.message_json(message))

    async def edit(self, request: web.Request) -> web.Response:
        message = self.fake.message_or_404(_int(request, "channel_id"), _int(request, "message_id"))
        self.fake.edit_message(message, request[_BODY] or {}, request[_FILES])
        return json_response(self.fake.message_json(message))

    async def delete(self, request: web.Request) -> web.Response:
        message = self.fake.message_or_404(_int(request, "channel_id"), _int(request, "message_id"))
        message.deleted = True
        return web.Response(status=204)

    async def callback(self, request: web.Request) -> web.StreamResponse:
        interaction = self.fake.interaction_or_404(_int(request, "id"), request.match_info["token"])
        result = self.fake.interaction_callback(interaction, request[_BODY] or {}, request[_FILES])
        if request.query.get("with_response") in ("1", "true", "True"):
            return json_response(result)
        return web.Response(status=204)

    async def followup(self, request: web.Request) -> web.StreamResponse:
        interaction = self.fake.interaction_by_token(request.match_info["token"])
        message = self.fake.followup(interaction, request[_BODY] or {}, request[_FILES])
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(self.fake.message_json(message))
        return web.Response(status=204)

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        interaction = self.fake.interaction_by_token(request.match_info["token"])
        wanted = request.match_info["message_id"]
        message = (
            interaction.original
            if wanted == "@original"
            else next((m for m in interaction.followups if str(m.id) == wanted), None)
        )
        if message is None or message.deleted:
            raise DiscordError(404, "Unknown Message", 10008)
        if request.method == "DELETE":
            message.deleted = True
            return web.Response(status=204)
        if request.method == "PATCH":
            self.fake.edit_message(message, request[_BODY] or {}, request[_FILES])
        return json_response(self.fake.message_json(message))

    async def sync(self, request: web.Request) -> web.Response:
        commands = request[_BODY] or []
        answer = [  # Discord answers a context menu with an empty description
            {"description": "", **c}
            | {"id": str(self.fake.ids()), "application_id": str(self.fake.application_id)}
            for c in commands
        ]
        self.fake.synced_commands = answer
        return json_response(answer)
