"""What the fake Discord holds: users, the guild, channels, messages, uploads and interactions.

Each object renders itself as the JSON Discord would send for it, so discord.py parses the same
shapes it parses in production. Nothing here does I/O.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
EPHEMERAL = 1 << 6
LOADING = 1 << 7
REPLY = 19
DEFAULT = 0
TEXT_CHANNEL, DM_CHANNEL = 0, 1
# View channel, send messages, embed links, attach files, read history (the README's 117760),
# plus use application commands and send messages in threads.
BOT_PERMISSIONS = 117760 | (1 << 31) | (1 << 38)
MEMBER_PERMISSIONS = 117760 | (1 << 31)


class Snowflakes:
    """Discord-shaped ids that grow with time, like the real ones (history paging relies on it)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def __call__(self) -> int:
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (millis << 22) | (next(self._counter) & 0x3FFFFF)


def iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat()


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    locale: str = "en-US"  # the language their Discord is set to (sent with their interactions)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.username,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class Channel:
    id: int
    name: str
    type: int = TEXT_CHANNEL
    guild_id: int | None = None
    recipient: User | None = None  # DM channels

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": str(self.id), "type": self.type, "last_message_id": None}
        if self.type == DM_CHANNEL:
            data["recipients"] = [self.recipient.to_json()] if self.recipient else []
            return data
        return data | {
            "name": self.name,
            "guild_id": str(self.guild_id),
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    channels: list[Channel]
    members: list[User]
    created_at: float = field(default_factory=time.time)
    locale: str = "en-US"  # the server's primary language (preferred_locale)

    def role_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),  # @everyone has the guild's id
            "name": "@everyone",
            "permissions": str(MEMBER_PERMISSIONS),
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def member_json(self, user: User, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [],
            "joined_at": iso(self.created_at),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "pending": False,
        }
        if with_user:
            data["user"] = user.to_json()
        return data

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "owner_id": str(self.owner_id),
            "roles": [self.role_json()],
            "channels": [c.to_json() for c in self.channels],
            "members": [self.member_json(u) for u in self.members],
            "member_count": len(self.members),
            "unavailable": False,
            "large": False,
            "features": [],
            "emojis": [],
            "stickers": [],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "joined_at": iso(self.created_at),
            "mfa_level": 0,
            "verification_level": 0,
            "explicit_content_filter": 0,
            "default_message_notifications": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "system_channel_id": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "nsfw_level": 0,
        }


@dataclass
class Upload:
    """A file on the fake CDN: an input a member attached, or a file the bot posted."""

    id: int
    filename: str
    data: bytes
    url: str
    content_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": self.url,
            "proxy_url": self.url,
        }
        if self.content_type:
            data["content_type"] = self.content_type
        return data


@dataclass
class Message:
    """A message as Discord keeps it; `edits` holds every PATCH body applied to it, in order."""

    id: int
    channel_id: int
    author: User
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Upload] = field(default_factory=list)
    flags: int = 0
    nonce: str | int | None = None
    reference: dict[str, Any] | None = None
    guild_id: int | None = None
    interaction_id: int | None = None  # set for interaction responses and followups
    created_at: float = field(default_factory=time.time)
    monotonic: float = field(default_factory=time.monotonic)
    edited_at: float | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def reply_to(self) -> int | None:
        return int(self.reference["message_id"]) if self.reference else None

    def custom_ids(self) -> list[str]:
        return [
            child["custom_id"]
            for row in self.components
            for child in row.get("components", ())
            if "custom_id" in child
        ]

    def to_json(self, referenced: Message | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "author": self.author.to_json(),
            "content": self.content,
            "timestamp": iso(self.created_at),
            "edited_timestamp": iso(self.edited_at) if self.edited_at else None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [a.to_json() for a in self.attachments],
            "embeds": self.embeds,
            "components": self.components,
            "pinned": False,
            "type": REPLY if self.reference else DEFAULT,
            "flags": self.flags,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.nonce is not None:
            data["nonce"] = self.nonce
        if self.reference:
            data["message_reference"] = {"type": 0, **self.reference}
            data["referenced_message"] = referenced.to_json() if referenced else None
        return data


@dataclass
class Interaction:
    """An interaction the test dispatched, and every answer the bot gave to it."""

    id: int
    token: str
    type: int
    user: User
    channel_id: int
    payload: dict[str, Any]
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)
    modal: dict[str, Any] | None = None  # the modal the bot answered with (callback type 9)

    @property
    def replies(self) -> list[Message]:
        """The original response (once it has one) and every distinct followup, in order."""
        seen: list[Message] = [self.original] if self.original else []
        return seen + [m for m in self.followups if m is not self.original]

    def modal_texts(self) -> list[str]:
        """The text a modal shows above its fields (text displays)."""
        return [c["content"] for c in (self.modal or {}).get("components", ()) if c["type"] == 10]

    def modal_fields(self) -> dict[str, dict[str, Any]]:
        """A modal's text inputs by their label (in a label component, or the old inline one)."""
        fields: dict[str, dict[str, Any]] = {}
        for component in (self.modal or {}).get("components", ()):
            if component["type"] == 18:
                fields[component["label"]] = component["component"]
            for child in component.get("components", ()):  # an action row (deprecated in modals)
                fields[child.get("label") or child["custom_id"]] = child
        return fields

    def texts(self) -> list[str]:
        """What the member read: content and embed text of every reply."""
        out: list[str] = []
        for message in self.replies:
            if message.content:
                out.append(message.content)
            for embed in message.embeds:
                parts = [embed.get("title"), embed.get("description")]
                parts += [f.get("value") for f in embed.get("fields", ())]
                out.append(" ".join(p for p in parts if p))
        return out
