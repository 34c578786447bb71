"""Thin fakes of discord.py at the cog edge, specced on the real classes (a typo fails the test).

Attachments are real `discord.Attachment` objects whose URLs point at a loopback server that
serves the bytes the test made, optionally slowly, and records when each was fetched.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from unittest import mock

import discord
from aiohttp import web
from aiohttp.test_utils import TestServer

MB = 1024 * 1024
_ids = itertools.count(900_000)


@dataclass
class Timeline:
    """The order things happened in, to prove e.g. that the defer came before any download."""

    events: list[tuple[float, str]] = field(default_factory=list)

    def mark(self, what: str) -> None:
        self.events.append((time.perf_counter(), what))

    def first(self, what: str) -> float:
        return next(t for t, name in self.events if name == what)

    def names(self) -> list[str]:
        return [name for _, name in self.events]


class AttachmentHost:
    """A loopback server holding attachment bytes, like Discord's CDN."""

    def __init__(self, timeline: Timeline) -> None:
        self.files: dict[str, bytes] = {}
        self.delay = 0.0
        self.timeline = timeline
        self._server: TestServer | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/attachments/{name}", self._serve)
        self._server = TestServer(app)
        await self._server.start_server()

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.timeline.mark("download")
        if self.delay:
            await asyncio.sleep(self.delay)  # a slow CDN, the thing the defer must not wait for
        return web.Response(body=self.files[request.match_info["name"]])

    def attachment(
        self, name: str, data: bytes, *, content_type: str | None = None, size: int | None = None
    ) -> discord.Attachment:
        """A real Attachment for `data` (its reported size can differ, to test metadata checks)."""
        assert self._server is not None
        self.files[name] = data
        url = str(self._server.make_url(f"/attachments/{name}"))
        payload = {
            "id": next(_ids),
            "filename": name,
            "size": len(data) if size is None else size,
            "url": url,
            "proxy_url": url,
        }
        if content_type:
            payload["content_type"] = content_type
        return discord.Attachment(data=payload, state=SimpleNamespace(http=None))  # type: ignore[arg-type]


async def attachment_host(timeline: Timeline) -> AsyncIterator[AttachmentHost]:
    host = AttachmentHost(timeline)
    await host.start()
    try:
        yield host
    finally:
        await host.close()


def member(
    user_id: int = 1,
    *,
    manage_guild: bool = False,
    role_ids: tuple[int, ...] = (),
) -> discord.Member:
    fake = mock.create_autospec(discord.Member, instance=True, spec_set=True)
    fake.id = user_id
    fake.mention = f"<@{user_id}>"
    fake.guild_permissions = discord.Permissions(manage_guild=manage_guild)
    fake.roles = [SimpleNamespace(id=role) for role in role_ids]
    return fake


def interaction(
    user: discord.Member | None = None,
    *,
    guild_id: int | None = 10,
    channel_id: int = 100,
    filesize_limit: int = 10 * MB,
    timeline: Timeline | None = None,
    client: discord.Client | None = None,
    locale: discord.Locale = discord.Locale.american_english,
    guild_locale: discord.Locale | None = None,
) -> discord.Interaction:
    """An Interaction whose response and followup record what the command did; `locale` is the
    member's Discord language, `guild_locale` the server's."""
    fake = mock.create_autospec(discord.Interaction, instance=True, spec_set=True)
    fake.user = user or member()
    fake.guild_id = guild_id
    fake.guild = None  # no cached server (a test may set one): autospec leaves it unspecced
    fake.channel_id = channel_id
    fake.channel = SimpleNamespace(id=channel_id, parent_id=None)
    fake.filesize_limit = filesize_limit
    fake.locale = locale
    fake.guild_locale = guild_locale if guild_id is not None else None
    fake.extras = {}
    fake.command = None
    if client is not None:
        fake.client = client
    fake.response = mock.create_autospec(discord.InteractionResponse, instance=True, spec_set=True)
    fake.followup = mock.create_autospec(discord.Webhook, instance=True, spec_set=True)
    done = {"value": False}

    async def answered(*args: object, **kwargs: object) -> None:
        done["value"] = True
        if timeline is not None:
            timeline.mark("defer")

    async def replied(*args: object, **kwargs: object) -> None:
        done["value"] = True
        if timeline is not None:
            timeline.mark("reply")

    fake.response.defer.side_effect = answered
    fake.response.send_message.side_effect = replied
    fake.response.is_done.side_effect = lambda: done["value"]
    return fake


def private_replies(fake: discord.Interaction) -> list[str]:
    """Everything sent back to the user, as text (content and embed descriptions), all ephemeral."""
    texts = []
    for call in [*fake.response.send_message.await_args_list, *fake.followup.send.await_args_list]:
        kwargs = call.kwargs
        assert kwargs.get("ephemeral") is True, f"a reply was not ephemeral: {kwargs}"
        content = call.args[0] if call.args else kwargs.get("content")
        if content:
            texts.append(content)
        if kwargs.get("embed") is not None:
            embed = kwargs["embed"]
            texts.append(
                " ".join(
                    filter(None, [embed.title, embed.description, *(f.value for f in embed.fields)])
                )
            )
    return texts


def server(guild_id: int, *members: discord.Member, failing: int | None = None) -> discord.Guild:
    """A server as the bot finds it: `members` are in it (anyone else left or was banned);
    with `failing`, Discord answers every member lookup with that HTTP status."""
    fake = mock.create_autospec(discord.Guild, instance=True, spec_set=True)
    fake.id = guild_id
    present = {m.id: m for m in members}

    async def fetch_member(user_id: int) -> discord.Member:
        if failing is not None:
            raise discord.DiscordServerError(SimpleNamespace(status=failing, reason="x"), "x")  # type: ignore[arg-type]
        if user_id not in present:
            raise discord.NotFound(SimpleNamespace(status=404, reason="x"), "Unknown Member")  # type: ignore[arg-type]
        return present[user_id]

    fake.get_member.side_effect = lambda user_id: None  # no member cache (no members intent)
    fake.fetch_member.side_effect = fetch_member
    return fake
