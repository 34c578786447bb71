"""Whether a create-task body is one the model accepts, and what its inputs are made of.

Written against the catalogue and independent of bot/domain/requests.py, so a client bug that
requests.py shares is still caught. Inputs the simulator can see (data: URLs and oss:// uploads)
are decoded, run through the configured media checker and probed for the result's aspect;
http(s) URLs are accepted without fetching.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import inspect
import re
from dataclasses import dataclass
from typing import Any

from bot.domain.catalog import (
    REFERENCES,
    WAN26_I2V_FLASH,
    InputStyle,
    MediaType,
    ModelSpec,
    Reference,
    Slot,
    combination_text,
    durations_text,
    role_of,
)
from bot.domain.errors import InvalidInput
from bot.domain.requests import SEED_MAX
from bot.media.probe import probe
from bot.simulator.config import MediaChecker
from bot.simulator.uploads import Uploads
from bot.simulator.wire import bad, inspection

_DATA_URL = re.compile(r"^data:([^;,]+)((?:;[^;,]*)*),(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Submission:
    """What a valid create-task body asks for."""

    prompt: str
    resolution: str
    duration: int
    prompt_extend: bool
    sound: bool
    # (slot, field path, url): a role given once, or the n-th reference (or its voice)
    inputs: tuple[tuple[Slot, str, str], ...]
    template: str | None = None
    ratio: str | None = None  # the shape asked for, for a model that takes one
    multi_shot: bool = False  # parameters.shot_type "multi"
    keep_sound: bool = False  # wan2.7-videoedit's audio_setting "origin": the clip's own sound


def _text(container: dict[str, Any], name: str, limit: int, model: str) -> str:
    value = container.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad(f"input.{name} must be a string.")
    # The real service silently truncates over-long prompts for some models; we refuse them so a
    # client that lets one through is caught in tests.
    if len(value) > limit:
        raise bad(
            f"input.{name} is {len(value)} characters; {model} allows at most {limit} characters."
        )
    return value


def _url_field(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad(f"{where} must be a non-empty URL string.")
    return value


def _reference_extras(
    item: dict[str, Any], where: str, spec: ModelSpec, slot: Slot
) -> list[tuple[Slot, str, str]]:
    """A media item's `reference_voice` (an input of its own) and `reference_description`,
    checked: only on a reference of a model that takes them."""
    extras: list[tuple[Slot, str, str]] = []
    for key in ("reference_voice", "reference_description"):
        if item.get(key) is None:
            continue
        if not isinstance(slot, Reference) or not spec.reference_voices:
            raise bad(f"{where}.{key} is supported only on reference items of wan2.7-r2v.")
        if key == "reference_description" and not isinstance(item[key], str):
            raise bad(f"{where}.reference_description must be a string.")
    if isinstance(slot, Reference) and item.get("reference_voice") is not None:
        url = _url_field(item["reference_voice"], f"{where}.reference_voice")
        voice = Reference(slot.number, slot.role, voice=True)
        extras.append((voice, f"{where}.reference_voice", url))
    return extras


def _collect_inputs(
    inp: dict[str, Any], spec: ModelSpec, template: str | None
) -> tuple[tuple[Slot, str, str], ...]:
    inputs: dict[Slot, tuple[str, str]] = {}
    if spec.input_style is InputStyle.MEDIA:
        media = inp.get("media")
        allowed = [m.value for m in MediaType if m in spec.media_types]
        if not isinstance(media, list) or not media:
            raise bad(
                "input.media is required: a list of {type, url} items with types among "
                + ", ".join(allowed)
                + "."
            )
        for index, item in enumerate(media):
            where = f"input.media[{index}]"
            if not isinstance(item, dict):
                raise bad(f"{where} must be an object with type and url.")
            kind = item.get("type")
            if kind not in allowed:
                raise bad(f"{where}.type must be one of {', '.join(allowed)}; got {kind!r}.")
            media_type = MediaType(kind)
            slot: Slot = media_type
            if media_type in REFERENCES:
                number = 1 + sum(1 for s in inputs if isinstance(s, Reference) and not s.voice)
                if number > spec.max_references:
                    raise bad(
                        f"input.media: at most {spec.max_references} reference_image and "
                        "reference_video items in all."
                    )
                slot = Reference(number, media_type)
            elif media_type in inputs:
                raise bad(
                    f"input.media: type {kind} appears more than once; each type may appear "
                    "at most once."
                )
            inputs[slot] = (f"{where}.url", _url_field(item.get("url"), f"{where}.url"))
            for extra, place, url in _reference_extras(item, where, spec, slot):
                inputs[extra] = (place, url)
    elif spec.input_style is InputStyle.TEXT:
        if inp.get("media") is not None:
            raise bad(f"input.media is not supported by {spec.name}; it takes no image.")
        for name in ("img_url", "first_frame_url", "last_frame_url"):
            if inp.get(name) is not None:
                raise bad(f"input.{name} is not supported by {spec.name}; it takes no image.")
        if inp.get("audio_url") is not None:
            url = _url_field(inp["audio_url"], "input.audio_url")
            inputs[MediaType.DRIVING_AUDIO] = ("input.audio_url", url)
    else:
        fields = (
            {"img_url": MediaType.FIRST_FRAME, "audio_url": MediaType.DRIVING_AUDIO}
            if spec.input_style is InputStyle.IMG_URL
            else {"first_frame_url": MediaType.FIRST_FRAME, "last_frame_url": MediaType.LAST_FRAME}
        )
        required = next(iter(fields))
        if inp.get(required) is None:
            raise bad(f"input.{required} is required for {spec.name}.")
        for name, media_type in fields.items():
            if inp.get(name) is not None:
                inputs[media_type] = (f"input.{name}", _url_field(inp[name], f"input.{name}"))

    present = media_roles(inputs)
    combinations = spec.template_combinations if template else spec.combinations
    if present not in combinations:
        if spec.input_style is InputStyle.KEYFRAMES and template:
            raise bad(
                "input.last_frame_url cannot be used with input.template; send only "
                "first_frame_url and template."
            )
        if spec.input_style is InputStyle.KEYFRAMES:
            unless = " unless input.template names an effect" if spec.templates else ""
            raise bad(f"input.last_frame_url is required for {spec.name}{unless}.")
        raise bad(
            f"input: {combination_text(present) or 'no media'} is not a combination {spec.name} "
            "accepts; allowed: " + "; ".join(combination_text(c) for c in combinations) + "."
        )
    return tuple((m, where, url) for m, (where, url) in inputs.items())


def media_roles(slots: Any) -> frozenset[MediaType]:
    """The media types given among `slots` (a reference's voice is not one)."""
    return frozenset(
        slot if isinstance(slot, MediaType) else slot.role
        for slot in slots
        if isinstance(slot, MediaType) or not slot.voice
    )


def validate_body(body: dict[str, Any], spec: ModelSpec) -> Submission:
    """Check a create-task body against `spec` and return what it asks for."""
    inp = body.get("input")
    if not isinstance(inp, dict):
        raise bad("input is required and must be an object.")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise bad("parameters must be an object.")
    # Unknown input fields are tolerated: the SDK sends extend_prompt, function and prompt: null.
    prompt = _text(inp, "prompt", spec.prompt_max, spec.name)
    if spec.prompt_required and not prompt.strip():
        raise bad(f"input.prompt is required for {spec.name}.")
    _text(inp, "negative_prompt", spec.negative_prompt_max, spec.name)
    template = inp.get("template")
    if template is not None and template not in spec.templates:
        names = ", ".join(spec.templates) if spec.templates else "none (this model has no effects)"
        raise bad(f"input.template {template!r} is not an effect of {spec.name}; allowed: {names}.")
    inputs = _collect_inputs(inp, spec, template)

    resolution = params.get("resolution", spec.default_resolution)
    if resolution not in spec.resolutions:
        raise bad(
            f"parameters.resolution {resolution!r} is not supported by {spec.name}; allowed: "
            + ", ".join(spec.resolutions)
            + "."
        )
    # wan2.7-videoedit: 0 (or none) is the clip's own length, known once the clip is read.
    duration = params.get("duration", 0 if spec.duration_from_input else spec.default_duration)
    from_input = spec.duration_from_input and duration == 0
    if (
        isinstance(duration, bool)
        or not isinstance(duration, int)
        or (duration not in spec.durations and not from_input)
    ):
        raise bad(
            f"parameters.duration {duration!r} is not supported by {spec.name}; allowed: "
            f"{spec.duration_text}."
        )
    present = media_roles(slot for slot, _, _ in inputs)
    if not from_input and duration not in spec.durations_for(present):
        raise bad(
            f"parameters.duration {duration!r} is not supported by {spec.name} with "
            f"{combination_text(present)}; allowed: {durations_text(spec.durations_for(present))}."
        )
    ratio = params.get("ratio")
    if ratio is not None and ratio not in spec.ratios:
        allowed = (
            ", ".join(spec.ratios) if spec.ratios else "none (the first frame's shape is kept)"
        )
        raise bad(
            f"parameters.ratio {ratio!r} is not supported by {spec.name}; allowed: {allowed}."
        )
    seed = params.get("seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX
    ):
        raise bad(f"parameters.seed must be an integer from 0 to {SEED_MAX}; got {seed!r}.")
    for name in ("prompt_extend", "watermark", "audio"):
        if name in params and not isinstance(params[name], bool):
            raise bad(f"parameters.{name} must be true or false; got {params[name]!r}.")
    # The service ignores a shot type where it does nothing (undocumented); refused here, so a
    # client that sends one to a model without shot types, or "multi" without the prompt
    # extended, is caught in tests (../shared/dashscope-api.md §7.4).
    shot_type = params.get("shot_type")
    if shot_type is not None and shot_type not in spec.shot_types:
        allowed = ", ".join(spec.shot_types) if spec.shot_types else "none (one shot only)"
        raise bad(
            f"parameters.shot_type {shot_type!r} is not supported by {spec.name}; "
            f"allowed: {allowed}."
        )
    if shot_type == "multi" and params.get("prompt_extend", True) is False:
        raise bad("parameters.shot_type multi takes effect only with prompt_extend true.")
    audio_setting = params.get("audio_setting")
    if audio_setting is not None and audio_setting not in spec.audio_settings:
        allowed = ", ".join(spec.audio_settings) if spec.audio_settings else "none"
        raise bad(
            f"parameters.audio_setting {audio_setting!r} is not supported by {spec.name}; "
            f"allowed: {allowed}."
        )

    # Only wan2.6-i2v-flash can be made silent; `audio` overrides audio_url.
    silenced = spec.name == WAN26_I2V_FLASH.name and params.get("audio") is False
    return Submission(
        prompt=prompt,
        resolution=resolution,
        duration=duration,
        prompt_extend=params.get("prompt_extend", True),
        sound=spec.has_sound and not silenced,
        inputs=inputs,
        template=template,
        # A first frame decides the shape where a ratio could (wan2.7-r2v ignores the ratio).
        ratio=None if MediaType.FIRST_FRAME in present else ratio or spec.default_ratio,
        multi_shot=shot_type == "multi",
        keep_sound=audio_setting == "origin",
    )


def decode_data_url(where: str, url: str) -> bytes:
    match = _DATA_URL.match(url)
    if match is None or not match.group(1).startswith("image/"):
        raise bad(f"{where}: a data: URL must be data:image/<format>;base64,<data>.")
    if ";base64" not in match.group(2):
        raise bad(f"{where}: a data: URL must be base64-encoded.")
    try:
        return base64.b64decode(match.group(3), validate=True)
    except (binascii.Error, ValueError):
        raise inspection(f"{where}: the base64 data could not be decoded.") from None


def probe_size(media_type: Slot, data: bytes) -> tuple[int, int, float | None] | None:
    """Return (width, height, seconds) of a first frame or clip, or None when unreadable."""
    try:
        info = probe(media_type, data)
    except InvalidInput:
        # Unreadable bytes are the media checker's business; here they only lose the aspect.
        return None
    if info.width is None or info.height is None:
        return None
    return info.width, info.height, info.duration


def input_bytes(
    where: str,
    url: str,
    media_type: Slot,
    spec: ModelSpec,
    resolve: bool,
    uploads: Uploads,
    account: str,
) -> bytes | None:
    """Return the bytes behind an input URL, or None for an http(s) URL, which is not fetched."""
    if url.startswith(("http://", "https://")):
        return None  # accepted without fetching
    if url.startswith("data:"):
        # Base64 is documented for images of img_url and keyframe models only.
        image = role_of(media_type) in (MediaType.FIRST_FRAME, MediaType.LAST_FRAME)
        if spec.input_style is InputStyle.MEDIA or not image:
            raise bad(
                f"{where}: data: URLs are accepted only for images of img_url and keyframe "
                "models; use an http(s) or oss:// URL."
            )
        return decode_data_url(where, url)
    if url.startswith("oss://"):
        if not resolve:
            raise inspection(
                f"{where} is an oss:// URL, which needs the header "
                "X-DashScope-OssResourceResolve: enable."
            )
        upload = uploads.find(url, spec.name, account)
        if upload is None:
            raise inspection(
                "Download the media resource timed out during the data inspection process: "
                f"{where} names no file uploaded for {spec.name} by this account."
            )
        return upload.data
    raise bad(f"{where} must be an http(s) or oss:// URL (or a data: URL for an image).")


async def inspect_inputs(
    checker: MediaChecker | None, spec: ModelSpec, blobs: list[tuple[Slot, str, bytes]]
) -> tuple[int, int, float | None] | None:
    """Run the media checker on every visible input; return the first frame's or clip's size."""
    if checker is not None:
        for media_type, where, data in blobs:
            try:
                result = await asyncio.to_thread(checker, media_type, data, spec)
                if inspect.isawaitable(result):
                    await result
            except InvalidInput as exc:
                raise inspection(str(exc) or f"{where} failed the data inspection.") from None
    for media_type, _, data in blobs:
        if media_type in (MediaType.FIRST_FRAME, MediaType.FIRST_CLIP, MediaType.VIDEO):
            return await asyncio.to_thread(probe_size, media_type, data)
    return None
