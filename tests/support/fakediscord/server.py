"""FakeDiscord: one loopback aiohttp server with the gateway, the REST API and the CDN.

Tests drive it: `slash()`, `press()`, `message_menu()` (right-click a message → Apps),
`submit()` (a menu's modal) and `submit_form()` (a button's form, sent back) dispatch
INTERACTION_CREATE through the gateway, exactly as Discord would, and `wait_for()` awaits any condition on what the bot did (every request and
message change wakes waiters). `on_create` hooks run when a message is created, before the bot
gets the answer: a test can crash the bot exactly between "posted" and "knows it posted".
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.support.fakediscord.faults import Faults
from tests.support.fakediscord.gateway import Gateway, Session
from tests.support.fakediscord.model import (
    BOT_PERMISSIONS,
    DM_CHANNEL,
    EPHEMERAL,
    LOADING,
    MEMBER_PERMISSIONS,
    Channel,
    Guild,
    Interaction,
    Message,
    Snowflakes,
    Upload,
    User,
)
from tests.support.fakediscord.rest import API, Call, DiscordError, build_app
from tests.support.fakediscord.spec import SPEC_PATH, SpecChecker, Violation

MB = 1024 * 1024
NONCE_WINDOW_SECONDS = 300.0  # Discord dedups an enforced nonce for "a few minutes"
APPLICATION_COMMAND, MESSAGE_COMPONENT, MODAL_SUBMIT = 2, 3, 5
MESSAGE_COMMAND = 3  # an application command's type: a message's context menu
MODAL = 9  # an interaction callback's type: open a modal (a form)
TEXT_INPUT = 4


class FakeDiscord:
    def __init__(
        self, *, spec_path: Path = SPEC_PATH, attachment_size_limit: int = 10 * MB
    ) -> None:
        self.ids = Snowflakes()
        self.token = "fake"
        self.application_id = self.ids()
        self.bot_user = User(self.application_id, "wanbot", bot=True)  # a bot's id is its app's
        self.member = User(self.ids(), "alice")
        guild_id = self.ids()
        self.channel = Channel(self.ids(), "videos", guild_id=guild_id)
        self.guild = Guild(
            guild_id, "Test server", self.member.id, [self.channel], [self.bot_user, self.member]
        )
        self.attachment_size_limit = attachment_size_limit
        self.users: dict[int, User] = {u.id: u for u in (self.bot_user, self.member)}
        self.channels: dict[int, Channel] = {self.channel.id: self.channel}
        self.messages: dict[int, Message] = {}
        self.uploads: dict[int, Upload] = {}
        self.interactions: dict[int, Interaction] = {}
        self.calls: list[Call] = []
        self.violations: list[Violation] = []
        self.nonce_hits = 0
        self.synced_commands: list[dict[str, Any]] = []
        self.faults = Faults()
        self.spec = SpecChecker(spec_path)
        self.gateway = Gateway(self._ready_payloads, self.notify)
        self.on_create: list[Callable[[Message], None]] = []
        self.base_url = ""
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        runner = web.AppRunner(build_app(self), shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        self.gateway.url = self.gateway_url
        return self.base_url

    async def close(self) -> None:
        await self.gateway.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def api_base(self) -> str:
        return f"{self.base_url}{API}"

    @property
    def gateway_url(self) -> str:
        return f"{self.base_url.replace('http://', 'ws://')}/gateway"

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py in this process at the fake; restore on exit."""
        import discord.gateway
        import discord.http
        import yarl

        route, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            discord.http.Route.BASE = route
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway

    # -- waiting ---------------------------------------------------------------------------------

    def notify(self) -> None:
        """Wake every `wait_for` (called on each request, message change and gateway op)."""
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def wait_for(
        self, condition: Callable[[], bool], *, within: float = 20.0, what: str = "condition"
    ) -> None:
        """Return once `condition()` holds; it is checked again after every change."""
        deadline = time.monotonic() + within
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {within} s waiting for {what}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def wait_ready(self, count: int = 1, *, within: float = 20.0) -> None:
        """Wait until the bot identified (or resumed) `count` times in all, and is connected."""
        await self.wait_for(
            lambda: self.gateway.ready_count >= count and bool(self.gateway.live),
            within=within,
            what=f"gateway ready #{count}",
        )

    def assert_no_violations(self) -> None:
        assert not self.violations, "bodies Discord would refuse:\n" + "\n".join(
            map(str, self.violations)
        )

    # -- what members see ------------------------------------------------------------------------

    def channel_messages(self, channel_id: int | None = None) -> list[Message]:
        """Messages everyone in the channel sees (not ephemeral, not deleted), oldest first."""
        wanted = channel_id or self.channel.id
        return [
            m
            for m in self.messages.values()
            if m.channel_id == wanted and not m.ephemeral and not m.deleted
        ]

    def add_member(self, name: str) -> User:
        """Another member of the guild (present from the next GUILD_CREATE on)."""
        user = User(self.ids(), name)
        self.users[user.id] = user
        self.guild.members.append(user)
        return user

    def remove_member(self, user: User) -> None:
        """A member leaves the guild, or is banned from it (their DMs with the bot stay)."""
        self.guild.members.remove(user)

    def say(self, user: User, content: str, channel: Channel | None = None) -> Message:
        """A member posts in a channel (the bot does not need to see it: no intents for it)."""
        return self.create_message(channel or self.channel, user, {"content": content}, [])

    def post(
        self, user: User, *files: Upload, content: str = "", channel: Channel | None = None
    ) -> Message:
        """A member posts `files` (uploaded with `upload`) in a channel, with optional text."""
        where = channel or self.channel
        message = Message(
            self.ids(), where.id, user, content, attachments=list(files), guild_id=where.guild_id
        )
        self.messages[message.id] = message
        self.notify()
        return message

    def upload(self, filename: str, data: bytes, content_type: str | None = None) -> Upload:
        """Put a file on the CDN, as a member's attachment."""
        upload_id = self.ids()
        url = f"{self.base_url}/attachments/{upload_id}/{filename}"
        upload = Upload(upload_id, filename, data, url, content_type)
        self.uploads[upload_id] = upload
        return upload

    # -- interactions ----------------------------------------------------------------------------

    async def slash(
        self,
        command: str,
        subcommand: str | None = None,
        *,
        user: User | None = None,
        channel: Channel | None = None,
        **options: Any,
    ) -> Interaction:
        """Dispatch a slash command; options are typed from their values (Upload: attachment)."""
        resolved: dict[str, Any] = {}
        values = []
        for name, value in options.items():
            if value is None:
                continue
            if isinstance(value, Upload):
                resolved[str(value.id)] = value.to_json()
                values.append({"name": name, "type": 11, "value": str(value.id)})
            else:
                kind = {bool: 5, int: 4, float: 10, str: 3}[type(value)]
                values.append({"name": name, "type": kind, "value": value})
        if subcommand is not None:
            values = [{"name": subcommand, "type": 1, "options": values}]
        data: dict[str, Any] = {"id": str(self.ids()), "name": command, "type": 1}
        data["options"] = values
        if resolved:
            data["resolved"] = {"attachments": resolved}
        return await self._interact(APPLICATION_COMMAND, data, user, channel)

    async def press(
        self, message: Message, custom_id: str, *, user: User | None = None
    ) -> Interaction:
        """Dispatch a button press on `message`."""
        data = {"custom_id": custom_id, "component_type": 2}
        channel = self.channels[message.channel_id]
        return await self._interact(
            MESSAGE_COMPONENT, data, user, channel, message=self.message_json(message)
        )

    async def message_menu(
        self, name: str, message: Message, *, user: User | None = None
    ) -> Interaction:
        """Right-click `message` → Apps → `name`: a message command, the message resolved in
        full (Discord sends a context menu's target with its content and attachments)."""
        data = {
            "id": str(self.ids()),
            "name": name,
            "type": MESSAGE_COMMAND,
            "target_id": str(message.id),
            "resolved": {"messages": {str(message.id): self.message_json(message)}},
        }
        channel = self.channels[message.channel_id]
        return await self._interact(APPLICATION_COMMAND, data, user, channel)

    async def submit(
        self, opened: Interaction, values: dict[str, str], *, user: User | None = None
    ) -> Interaction:
        """Submit the modal the bot answered `opened` with, each field typed by its label (a
        field left out is left empty), its components echoed back as Discord does."""
        modal = opened.modal
        if modal is None:
            raise AssertionError("the bot opened no modal")
        typed = {label: values.get(label, "") for label in opened.modal_fields()}

        def answered(component: dict[str, Any]) -> dict[str, Any]:
            kind = component["type"]
            if kind == 18:
                field = component["component"]
                inner = {"type": field["type"], "custom_id": field["custom_id"]}
                return {"type": 18, "component": inner | {"value": typed[component["label"]]}}
            if kind == 1:
                row = [
                    {
                        "type": c["type"],
                        "custom_id": c["custom_id"],
                        "value": typed[c.get("label") or c["custom_id"]],
                    }
                    for c in component["components"]
                ]
                return {"type": 1, "components": row}
            return {"type": kind}

        unknown = set(values) - set(typed)
        if unknown:
            raise AssertionError(f"the modal has no field {sorted(unknown)}: {sorted(typed)}")
        data = {
            "custom_id": modal["custom_id"],
            "components": [answered(c) for c in modal["components"]],
        }
        channel = self.channels[opened.channel_id]
        return await self._interact(MODAL_SUBMIT, data, user or opened.user, channel)

    def form(self, interaction: Interaction) -> dict[str, Any]:
        """The form (modal) the bot answered `interaction` with: its custom_id, title, boxes."""
        assert interaction.callbacks, "the interaction was not answered"
        callback = interaction.callbacks[0]
        assert callback.get("type") == MODAL, f"answered with a {callback.get('type')}, not a form"
        return dict(callback["data"])

    def form_values(self, interaction: Interaction) -> dict[str, str]:
        """What the form's text boxes hold when it opens, by custom_id."""
        return {box["custom_id"]: box.get("value", "") for box in _boxes(self.form(interaction))}

    async def submit_form(
        self,
        interaction: Interaction,
        values: dict[str, str] | None = None,
        *,
        user: User | None = None,
        custom_id: str | None = None,
    ) -> Interaction:
        """Send back the form the bot answered `interaction` (a button press) with, as the member
        edited it: each text box holds what it opened with unless `values` says otherwise. As
        Discord does, a box over its max_length or a required one left empty never reaches the
        bot (AssertionError here). `custom_id`: a form the bot showed before (it may have
        restarted since)."""
        form = self.form(interaction) if custom_id is None else {"custom_id": custom_id}
        given = dict(values or {})
        rows = []
        for box in _boxes(form):
            value = given.pop(box["custom_id"], box.get("value", ""))
            assert len(value) <= box.get("max_length", 4000), "Discord would not send it"
            assert value or not box.get("required", True), "Discord would not send it"
            rows.append(
                {
                    "type": 1,
                    "components": [
                        {"type": TEXT_INPUT, "custom_id": box["custom_id"], "value": value}
                    ],
                }
            )
        rows += [
            {"type": 1, "components": [{"type": TEXT_INPUT, "custom_id": key, "value": value}]}
            for key, value in given.items()
        ]
        data = {"custom_id": form["custom_id"], "components": rows}
        channel = self.channels[interaction.channel_id]
        extra: dict[str, Any] = {}
        if "message" in interaction.payload:  # a form opened from a message's button
            extra["message"] = interaction.payload["message"]
        return await self._interact(MODAL_SUBMIT, data, user or interaction.user, channel, **extra)

    async def _interact(
        self,
        kind: int,
        data: dict[str, Any],
        user: User | None,
        channel: Channel | None,
        **extra: Any,
    ) -> Interaction:
        interaction = self.new_interaction(kind, data, user, channel, **extra)
        await self.gateway.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    def new_interaction(
        self,
        kind: int,
        data: dict[str, Any],
        user: User | None = None,
        channel: Channel | None = None,
        **extra: Any,
    ) -> Interaction:
        """An interaction the fake knows (its callbacks and followups are answered), not yet
        dispatched: `_interact` sends it over the gateway; a bench dispatches it itself."""
        user = user or self.member
        channel = channel or self.channel
        interaction_id, token = self.ids(), f"itoken-{secrets.token_urlsafe(24)}"
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "token": token,
            "version": 1,
            "channel_id": str(channel.id),
            "channel": channel.to_json(),
            "app_permissions": str(BOT_PERMISSIONS),
            "locale": user.locale,
            "entitlements": [],
            "attachment_size_limit": self.attachment_size_limit,
            "data": data,
            **extra,
        }
        if channel.type == DM_CHANNEL:
            payload |= {"user": user.to_json(), "context": 1}
            payload["authorizing_integration_owners"] = {"1": str(user.id)}
        else:
            payload |= {
                "guild_id": str(self.guild.id),
                "guild": {"id": str(self.guild.id), "locale": self.guild.locale, "features": []},
                "guild_locale": self.guild.locale,
                "member": self.guild.member_json(user) | {"permissions": str(MEMBER_PERMISSIONS)},
                "context": 0,
                "authorizing_integration_owners": {"0": str(self.guild.id)},
            }
        interaction = Interaction(interaction_id, token, kind, user, channel.id, payload)
        self.interactions[interaction_id] = interaction
        return interaction

    def interaction_or_404(self, interaction_id: int, token: str) -> Interaction:
        interaction = self.interactions.get(interaction_id)
        if interaction is None or interaction.token != token:
            raise DiscordError(404, "Unknown interaction", 10062)
        return interaction

    def interaction_by_token(self, token: str) -> Interaction:
        found = next((i for i in self.interactions.values() if i.token == token), None)
        if found is None:
            raise DiscordError(404, "Unknown Webhook", 10015)
        return found

    def interaction_callback(
        self, interaction: Interaction, body: dict[str, Any], files: list[tuple[str, str, bytes]]
    ) -> dict[str, Any]:
        if interaction.callbacks:
            raise DiscordError(400, "Interaction has already been acknowledged.", 40060)
        if body.get("type") == MODAL and interaction.type == MODAL_SUBMIT:
            raise DiscordError(400, "A form cannot answer a form.", 50035)
        interaction.callbacks.append(body)
        kind, data = body.get("type"), body.get("data") or {}
        channel = self.channels[interaction.channel_id]
        if kind in (4, 5):
            flags = int(data.get("flags") or 0) | (LOADING if kind == 5 else 0)
            interaction.original = self.create_message(
                channel,
                self.bot_user,
                {**data, "flags": flags},
                files,
                interaction=interaction,
            )
        elif kind == 7:
            target = int(interaction.payload["message"]["id"])
            self.edit_message(self.messages[target], data, files)
        elif kind == MODAL:
            if interaction.type == MODAL_SUBMIT:
                raise DiscordError(400, "Cannot send a modal in answer to a modal", 50035)
            interaction.modal = data
        original = interaction.original
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(original and original.ephemeral),
            },
            "resource": {"type": kind},
        }
        if original is not None:
            answer["interaction"]["response_message_id"] = str(original.id)
            answer["resource"]["message"] = self.message_json(original)
        return answer

    def followup(
        self, interaction: Interaction, body: dict[str, Any], files: list[tuple[str, str, bytes]]
    ) -> Message:
        """A followup; the first one after a deferral completes the "thinking" message."""
        if not interaction.callbacks:
            raise DiscordError(404, "Unknown Webhook", 10015)
        original = interaction.original
        if original is not None and original.flags & LOADING:
            keep = original.flags & EPHEMERAL
            self.edit_message(original, {k: v for k, v in body.items() if k != "flags"}, files)
            original.flags = keep
            interaction.followups.append(original)
            return original
        channel = self.channels[interaction.channel_id]
        message = self.create_message(channel, self.bot_user, body, files, interaction=interaction)
        interaction.followups.append(message)
        return message

    # -- channels and messages -------------------------------------------------------------------

    def channel_or_404(self, channel_id: int) -> Channel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise DiscordError(404, "Unknown Channel", 10003)
        return channel

    def message_or_404(self, channel_id: int, message_id: int) -> Message:
        message = self.messages.get(message_id)
        if message is None or message.channel_id != channel_id or message.deleted:
            raise DiscordError(404, "Unknown Message", 10008)
        return message

    def dm_channel(self, user: User) -> Channel:
        for channel in self.channels.values():
            if channel.type == DM_CHANNEL and channel.recipient is user:
                return channel
        channel = Channel(self.ids(), "", type=DM_CHANNEL, recipient=user)
        self.channels[channel.id] = channel
        return channel

    def history(
        self, channel_id: int, *, limit: int, before: int | None, after: int | None
    ) -> list[Message]:
        """Like Discord: `limit` messages next to the cursor, newest first."""
        found = sorted(
            (
                m
                for m in self.messages.values()
                if m.channel_id == channel_id and not m.ephemeral and not m.deleted
            ),
            key=lambda m: m.id,
        )
        if after is not None:
            found = [m for m in found if m.id > after][:limit]
        else:
            found = [m for m in found if before is None or m.id < before][-limit:]
        return found[::-1]

    def message_json(self, message: Message) -> dict[str, Any]:
        referenced = self.messages.get(message.reply_to) if message.reply_to else None
        return message.to_json(referenced)

    def create_message(
        self,
        channel: Channel,
        author: User,
        body: dict[str, Any],
        files: list[tuple[str, str, bytes]],
        *,
        interaction: Interaction | None = None,
    ) -> Message:
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            earlier = self._same_nonce(channel.id, author, nonce)
            if earlier is not None:
                self.nonce_hits += 1
                return earlier
        reference = body.get("message_reference")
        if reference:
            reference = self._check_reference(channel, reference)
        message = Message(
            id=self.ids(),
            channel_id=channel.id,
            author=author,
            content=body.get("content") or "",
            embeds=list(body.get("embeds") or ([body["embed"]] if body.get("embed") else [])),
            components=list(body.get("components") or []),
            attachments=self._attachments(body.get("attachments"), files, []),
            flags=int(body.get("flags") or 0),
            nonce=nonce,
            reference=reference,
            guild_id=channel.guild_id,
            interaction_id=interaction.id if interaction else None,
        )
        self.messages[message.id] = message
        for hook in list(self.on_create):
            hook(message)
        self.notify()
        return message

    def edit_message(
        self, message: Message, body: dict[str, Any], files: list[tuple[str, str, bytes]]
    ) -> None:
        message.edits.append(body)
        if "content" in body:
            message.content = body["content"] or ""
        if "embeds" in body:
            message.embeds = list(body["embeds"] or [])
        if "components" in body:
            message.components = list(body["components"] or [])
        if "flags" in body and body["flags"] is not None:
            message.flags = int(body["flags"])
        if "attachments" in body or files:
            message.attachments = self._attachments(
                body.get("attachments"), files, message.attachments
            )
        message.edited_at = time.time()
        self.notify()

    def _same_nonce(self, channel_id: int, author: User, nonce: Any) -> Message | None:
        now = time.monotonic()
        for message in self.messages.values():
            if (
                message.channel_id == channel_id
                and message.author is author
                and message.nonce == nonce
                and now - message.monotonic < NONCE_WINDOW_SECONDS
            ):
                return message
        return None

    def _check_reference(
        self, channel: Channel, reference: dict[str, Any]
    ) -> dict[str, Any] | None:
        target = self.messages.get(int(reference.get("message_id") or 0))
        if target is None or target.deleted or target.channel_id != channel.id:
            if reference.get("fail_if_not_exists", True):
                raise DiscordError(400, "Unknown message", 10008)  # in Discord: a form error
            return None
        out = {"message_id": str(target.id), "channel_id": str(channel.id)}
        if channel.guild_id is not None:
            out["guild_id"] = str(channel.guild_id)
        return out

    def _attachments(
        self,
        described: list[dict[str, Any]] | None,
        files: list[tuple[str, str, bytes]],
        current: list[Upload],
    ) -> list[Upload]:
        """Kept attachments (by id) and new files (`files[n]` for `{"id": n}`)."""
        by_field = {name: (filename, data) for name, filename, data in files}
        kept = {str(u.id): u for u in current}
        out: list[Upload] = []
        if described is None:
            described = (
                [{"id": i} for i in range(len(files))] if files else [{"id": u.id} for u in current]
            )
        for item in described:
            key = str(item.get("id"))
            if key in kept:
                out.append(kept[key])
            elif f"files[{key}]" in by_field:
                filename, data = by_field[f"files[{key}]"]
                upload = self.upload(item.get("filename") or filename, data)
                out.append(upload)
            else:
                raise DiscordError(400, f"attachment {key} has no file and is not kept", 50035)
        return out

    # -- the gateway's READY ---------------------------------------------------------------------

    def application_json(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": "wanbot",
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.member.to_json(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "bot": self.bot_user.to_json(),
        }

    def _ready_payloads(self, session: Session, url: str) -> list[tuple[str, dict[str, Any]]]:
        ready = {
            "v": 10,
            "user": self.bot_user.to_json(),
            "guilds": [{"id": str(self.guild.id), "unavailable": True}],
            "session_id": session.id,
            "resume_gateway_url": url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "session_type": "normal",
            "auth": {},
            "user_settings": {},
            "shard": [0, 1],
        }
        return [("READY", ready), ("GUILD_CREATE", self.guild.to_json())]


def _boxes(form: dict[str, Any]) -> list[dict[str, Any]]:
    """The text boxes of a form, in rows or in labels."""
    found: list[dict[str, Any]] = []
    for component in form.get("components") or ():
        inner = [*(component.get("components") or ()), component.get("component")]
        found += [c for c in inner if isinstance(c, dict) and c.get("type") == TEXT_INPUT]
    return found
