"""Request bodies checked against Discord's OpenAPI spec, loaded at test time (never copied here).

The spec lives in the `shared/` folder beside the repository root (`../shared/discord-api-spec/
openapi.json`); it is for local checks only. Without it, a few hand checks stand in (content
length, embed count, components shape) and `SpecChecker.source` says so.

discord.py sends some snowflakes as JSON integers where the spec says strings; Discord accepts
them. Exactly those places are tolerated: `allowed_mentions.users`/`roles`, `attachments[].id`
and (seen here too) `message_reference.message_id`/`channel_id`/`guild_id` in replies and
`recipient_id` when opening a DM.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).resolve().parents[4] / "shared" / "discord-api-spec" / "openapi.json"
_DOC = "urn:discord-openapi"


@dataclass(frozen=True)
class Violation:
    method: str
    path: str
    message: str
    where: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}: {self.message} (at {self.where})"


@dataclass(frozen=True)
class _Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    pointer: str | None  # JSON pointer to the application/json request schema
    literal: int  # how many literal segments: more specific templates win


def _pointer_escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _tolerate_integer_snowflakes(body: Any) -> Any:
    """A copy with discord.py's integer snowflakes as strings, only where Discord accepts them."""
    if not isinstance(body, dict):
        return body
    body = copy.deepcopy(body)
    mentions = body.get("allowed_mentions")
    if isinstance(mentions, dict):
        for key in ("users", "roles"):
            if isinstance(mentions.get(key), list):
                mentions[key] = [str(v) if isinstance(v, int) else v for v in mentions[key]]
    for attachment in body.get("attachments") or ():
        if isinstance(attachment, dict) and isinstance(attachment.get("id"), int):
            attachment["id"] = str(attachment["id"])
    if isinstance(body.get("recipient_id"), int):
        body["recipient_id"] = str(body["recipient_id"])
    reference = body.get("message_reference")
    if isinstance(reference, dict):
        for key in ("message_id", "channel_id", "guild_id"):
            if isinstance(reference.get(key), int):
                reference[key] = str(reference[key])
    return body


GUILD_FORUM, GUILD_MEDIA = 15, 16


def _tolerate_media_channels(body: Any) -> Any:
    """A copy without channel type 16 (GUILD_MEDIA) in command options' `channel_types`: Discord
    documents and accepts it (discord.py offers it with forums), but the spec snapshot's
    ChannelTypes enum predates it."""
    if not isinstance(body, list):
        return body
    body = copy.deepcopy(body)

    def scrub(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("channel_types"), list):
                node["channel_types"] = [t for t in node["channel_types"] if t != GUILD_MEDIA]
            for option in node.get("options") or ():
                scrub(option)

    for command in body:
        scrub(command)
    return body


class SpecChecker:
    """Validates a (method, path, JSON body) against the matching operation's request schema."""

    def __init__(self, spec_path: Path = SPEC_PATH) -> None:
        self.spec_path = spec_path
        self.available = spec_path.is_file()
        self.source = (
            f"OpenAPI spec {spec_path}"
            if self.available
            else f"hand checks only: {spec_path} is absent"
        )
        self._operations: list[_Operation] = []
        self._validators: dict[str, Any] = {}
        if self.available:
            self._load()

    def _load(self) -> None:
        spec = _load_spec(str(self.spec_path))
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        registry: Registry[Any] = Registry().with_resource(
            _DOC, Resource.from_contents(spec, default_specification=DRAFT202012)
        )
        for template, item in spec["paths"].items():
            regex = re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template))
            literal = sum(1 for part in template.split("/") if part and "{" not in part)
            for method, operation in item.items():
                if method == "parameters" or not isinstance(operation, dict):
                    continue
                content = operation.get("requestBody", {}).get("content", {})
                pointer = None
                if "application/json" in content:
                    pointer = "/".join(
                        [
                            "#",
                            "paths",
                            _pointer_escape(template),
                            method,
                            "requestBody",
                            "content",
                            "application~1json",
                            "schema",
                        ]
                    )
                    self._validators[pointer] = Draft202012Validator(
                        {"$ref": f"{_DOC}{pointer}"}, registry=registry
                    )
                self._operations.append(
                    _Operation(method.upper(), template, re.compile(f"^{regex}$"), pointer, literal)
                )
        self._operations.sort(key=lambda op: -op.literal)

    def operation(self, method: str, path: str) -> str | None:
        """The spec's path template for this request, or None if the spec has no such operation."""
        if not self.available:
            return None
        for op in self._operations:
            if op.method == method and op.pattern.match(path):
                return op.template
        return None

    def check(self, method: str, path: str, body: Any) -> list[Violation]:
        """Every way `body` breaks the request schema of `method path` (API path, no /api/v10)."""
        if not self.available:
            return _hand_checks(method, path, body)
        for op in self._operations:
            if op.method == method and op.pattern.match(path):
                if op.pointer is None:
                    return []
                validator = self._validators[op.pointer]
                errors = validator.iter_errors(
                    _tolerate_media_channels(_tolerate_integer_snowflakes(body))
                )
                return [
                    Violation(method, path, error.message[:300], "/".join(map(str, error.path)))
                    for error in errors
                ]
        return [Violation(method, path, "no such operation in Discord's API", "")]


@cache
def _load_spec(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _hand_checks(method: str, path: str, body: Any) -> list[Violation]:
    """The few rules the tests rely on, when the spec is absent."""
    if not isinstance(body, dict):
        return []
    found: list[str] = []
    data = body.get("data") if path.startswith("/interactions/") else body
    if path.startswith("/interactions/") and body.get("type") == _MODAL and isinstance(data, dict):
        return [Violation(method, path, message, "") for message in _modal_checks(data)]
    if isinstance(data, dict):
        content = data.get("content")
        if content is not None and (not isinstance(content, str) or len(content) > 2000):
            found.append("content must be a string of at most 2000 characters")
        embeds = data.get("embeds")
        if embeds is not None and (not isinstance(embeds, list) or len(embeds) > 10):
            found.append("embeds must be a list of at most 10")
        for row in data.get("components") or ():
            if not isinstance(row, dict) or row.get("type") != 1 or len(row["components"]) > 5:
                found.append("components must be action rows of at most 5")
            for child in row.get("components", ()):
                if len(child.get("custom_id", "")) > 100:
                    found.append("custom_id is longer than 100 characters")
        for attachment in data.get("attachments") or ():
            if not isinstance(attachment, dict) or "id" not in attachment:
                found.append("attachments[] need an id")
    return [Violation(method, path, message, "") for message in found]


_MODAL = 9  # an interaction callback that opens a modal
_LABEL, _TEXT_DISPLAY, _TEXT_INPUT = 18, 10, 4


def _modal_checks(data: dict[str, Any]) -> list[str]:
    """A modal's rules: a title of 1–45 characters, 1–5 top-level components (labels, text
    displays, or the deprecated action rows), labels of 1–45 characters, text inputs of at most
    4,000 characters."""
    found: list[str] = []
    if not 1 <= len(data.get("title") or "") <= 45:
        found.append("a modal's title must be 1–45 characters")
    if not 1 <= len(data.get("custom_id") or "") <= 100:
        found.append("a modal's custom_id must be 1–100 characters")
    components = data.get("components") or []
    if not 1 <= len(components) <= 5:
        found.append("a modal has 1–5 components")
    for component in components:
        kind = component.get("type")
        if kind == _LABEL:
            if not 1 <= len(component.get("label") or "") <= 45:
                found.append("a label must be 1–45 characters")
            inputs = [component.get("component") or {}]
        elif kind == 1:
            inputs = component.get("components") or []
        elif kind == _TEXT_DISPLAY:
            if not 1 <= len(component.get("content") or "") <= 4000:
                found.append("a text display must be 1–4000 characters")
            continue
        else:
            found.append(f"a modal cannot hold a component of type {kind}")
            continue
        for field in inputs:
            if field.get("type") == _TEXT_INPUT and not 1 <= field.get("max_length", 4000) <= 4000:
                found.append("a text input takes at most 4000 characters")
    return found
