"""Probe input media from its bytes and check it against a model's limits.

Only the bytes are trusted: a filename or a content type says nothing about what a file is.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
from PIL import Image

from bot.domain.catalog import (
    MB,
    AudioLimits,
    ClipLimits,
    ImageLimits,
    MediaType,
    ModelSpec,
    Reference,
    Slot,
    role_of,
)
from bot.domain.errors import InvalidInput
from bot.i18n import Text, _

_IMAGE_ORDER = ("JPEG", "PNG", "BMP", "WEBP")
_AUDIO_ORDER = ("wav", "mp3")
_VIDEO_ORDER = ("mp4", "mov")
# FFmpeg's one demuxer for the ISO family; the ftyp brand tells MOV from MP4.
_ISO_DEMUXER = "mov,mp4,m4a,3gp,3g2,mj2"
# verify() checks the whole file only for PNG, and WEBP fails to open when cut short; these two
# only show truncation when decoded (JPEG cheaply, at 1/8 scale).
_DECODE_TO_CHECK = frozenset({"JPEG", "BMP"})


@dataclass(frozen=True)
class MediaInfo:
    kind: Literal["image", "audio", "video"]
    format: str  # images: Pillow name; audio: "wav" | "mp3"; video: "mp4" | "mov"
    size_bytes: int
    width: int | None = None
    height: int | None = None
    duration: float | None = None  # seconds, audio and video
    has_alpha: bool = False  # image has a transparency channel or colour
    has_audio: bool = False  # video has an audio stream


def probe(media_type: Slot, data: bytes) -> MediaInfo:
    """Read what the bytes are, or raise InvalidInput if they are not readable media of that type."""
    return _probe(media_type, data, None)


def check_media(media_type: Slot, data: bytes, spec: ModelSpec) -> MediaInfo:
    """Probe the bytes and check them against `spec`'s limits; raise InvalidInput on the first problem."""
    field, name = media_type.value, media_type.name_text
    limits = _limits(media_type, spec)
    if not _taken(media_type, spec) or limits is None:
        raise InvalidInput(
            # Translators: {input} is an input's name ("Driving audio").
            _("{input}: {model} does not take this input.", input=name, model=spec.name),
            field=field,
        )
    # Refuse a huge upload before any decoder sees it.
    if len(data) > limits.max_bytes:
        raise InvalidInput(
            too_many_bytes(
                media_type,
                _shown(len(data) / MB, 0, limits.max_bytes / MB),
                spec.name,
                limits.max_bytes,
            ),
            field=field,
        )
    info = _probe(media_type, data, spec)
    if info.format not in limits.formats:
        raise _unreadable(media_type, spec)
    if info.kind == "image" and info.format == "PNG" and info.has_alpha:
        raise InvalidInput(
            # Translators: {input} is an input's name ("First frame"); an alpha channel is
            # an image's transparency.
            _(
                "{input}: the PNG has transparency; save it without an alpha channel (or as JPEG).",
                input=name,
            ),
            field=field,
        )
    if info.duration is not None and not isinstance(limits, ImageLimits):
        _check_duration(media_type, info.duration, limits, spec)
    if info.width is not None and info.height is not None and not isinstance(limits, AudioLimits):
        _check_sides(media_type, info.width, info.height, limits, spec)
    return info


def check_described(
    media_type: Slot, spec: ModelSpec, size: int, content_type: str | None, filename: str
) -> None:
    """Check a file as the chat platform describes it, before a byte is read: its `size`, and the
    kind of file it says it is (`content_type`)."""
    field = media_type.value
    limit = spec.max_bytes(role_of(media_type))
    if size > limit:
        shown = f"{size / MB:.1f}"
        raise InvalidInput(too_many_bytes(media_type, shown, spec.name, limit), field=field)
    if size == 0:
        raise InvalidInput(empty(media_type), field=field)
    family = _CONTENT_FAMILY[role_of(media_type)]
    if content_type and not content_type.startswith(family):
        name, kind = media_type.name_text, content_type
        if family == "image/":
            # Translators: {input} is an input's name ("First frame"); {filename} is the file's
            # name; {kind} is the kind of file it says it is ("audio/mpeg").
            message = _(
                "{input}: the file should be an image, but “{filename}” is {kind}.",
                input=name,
                filename=filename,
                kind=kind,
            )
        elif family == "audio/":
            # Translators: {input} is an input's name ("Driving audio"); {filename} is the file's
            # name; {kind} is the kind of file it says it is ("image/png").
            message = _(
                "{input}: the file should be audio, but “{filename}” is {kind}.",
                input=name,
                filename=filename,
                kind=kind,
            )
        else:
            # Translators: {input} is an input's name ("First clip"); {filename} is the file's
            # name; {kind} is the kind of file it says it is ("image/png").
            message = _(
                "{input}: the file should be a video, but “{filename}” is {kind}.",
                input=name,
                filename=filename,
                kind=kind,
            )
        raise InvalidInput(message, field=field)


_CONTENT_FAMILY = {
    MediaType.FIRST_FRAME: "image/",
    MediaType.LAST_FRAME: "image/",
    MediaType.DRIVING_AUDIO: "audio/",
    MediaType.FIRST_CLIP: "video/",
    MediaType.REFERENCE_IMAGE: "image/",
    MediaType.REFERENCE_VIDEO: "video/",
    MediaType.VIDEO: "video/",
}


def _taken(slot: Slot, spec: ModelSpec) -> bool:
    """Whether `spec` takes an input in `slot` (a reference's voice: where it takes voices)."""
    if isinstance(slot, Reference) and slot.voice:
        return spec.reference_voices
    return role_of(slot) in spec.media_types


def too_many_bytes(media_type: Slot, size: str, model: str, limit_bytes: int) -> Text:
    """The refusal of a file of `size` MB (formatted) over `model`'s `limit_bytes`."""
    # Translators: {input} is an input's name ("First frame"); {size} and {limit} are sizes in
    # megabytes ("20.9", "20").
    return _(
        "{input}: the file is {size} MB; {model} takes at most {limit} MB.",
        input=media_type.name_text,
        size=size,
        model=model,
        limit=f"{limit_bytes / MB:g}",
    )


def empty(media_type: Slot) -> Text:
    """The refusal of an empty file."""
    # Translators: {input} is an input's name ("First frame").
    return _("{input}: the file is empty (0 bytes).", input=media_type.name_text)


def _limits(media_type: Slot, spec: ModelSpec) -> ImageLimits | AudioLimits | ClipLimits | None:
    role = role_of(media_type)
    if role is MediaType.DRIVING_AUDIO:
        return spec.audio
    if role in (MediaType.FIRST_CLIP, MediaType.REFERENCE_VIDEO, MediaType.VIDEO):
        return spec.clip
    return spec.image


def _probe(media_type: Slot, data: bytes, spec: ModelSpec | None) -> MediaInfo:
    if not data:
        raise InvalidInput(empty(media_type), field=media_type.value)
    role = role_of(media_type)
    if role in (MediaType.FIRST_FRAME, MediaType.LAST_FRAME, MediaType.REFERENCE_IMAGE):
        return _probe_image(media_type, data, spec)
    if role is MediaType.DRIVING_AUDIO:
        return _probe_audio(media_type, data)
    return _probe_video(media_type, data)


def _probe_image(media_type: Slot, data: bytes, spec: ModelSpec | None) -> MediaInfo:
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt, (width, height) = image.format or "", image.size
            has_alpha = image.has_transparency_data
            image.verify()
        if fmt in _DECODE_TO_CHECK:
            with Image.open(io.BytesIO(data)) as image:
                image.draft(None, (max(1, width // 8), max(1, height // 8)))
                image.load()
    except Image.DecompressionBombError as exc:
        raise InvalidInput(
            # Translators: {input} is an input's name ("First frame").
            _(
                "{input}: the image is far too large (more than {millions} million pixels).",
                input=media_type.name_text,
                millions=2 * (Image.MAX_IMAGE_PIXELS or 0) // 1_000_000,
            ),
            field=media_type.value,
        ) from exc
    # Pillow's decoders raise many kinds of exception on corrupt input; all mean "not readable".
    except Exception as exc:
        raise _unreadable(media_type, spec) from exc
    return MediaInfo(
        kind="image",
        format=fmt,
        size_bytes=len(data),
        width=width,
        height=height,
        has_alpha=has_alpha,
    )


def _probe_audio(media_type: Slot, data: bytes) -> MediaInfo:
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            demuxer = container.format.name
            has_stream = bool(container.streams.audio)
            duration = _duration(container)
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise _unreadable(media_type, None) from exc
    if demuxer not in _AUDIO_ORDER or not has_stream or duration is None:
        raise _unreadable(media_type, None)
    return MediaInfo(kind="audio", format=demuxer, size_bytes=len(data), duration=duration)


def probe_video_file(path: Path) -> MediaInfo:
    """Probe a video on disk without reading it into memory (results can be large)."""
    with path.open("rb") as file:
        head = file.read(12)
    return _probe_video_source(MediaType.FIRST_CLIP, str(path), head, path.stat().st_size)


def _probe_video(media_type: Slot, data: bytes) -> MediaInfo:
    return _probe_video_source(media_type, io.BytesIO(data), data[:12], len(data))


def _probe_video_source(
    media_type: Slot, source: str | io.BytesIO, head: bytes, size: int
) -> MediaInfo:
    try:
        with av.open(source, mode="r") as container:
            demuxer = container.format.name
            video = container.streams.video[0] if container.streams.video else None
            width, height = (
                (video.codec_context.width, video.codec_context.height) if video else (0, 0)
            )
            has_audio = bool(container.streams.audio)
            duration = _duration(container)
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise _unreadable(media_type, None) from exc
    if demuxer != _ISO_DEMUXER or not width or not height or duration is None:
        raise _unreadable(media_type, None)
    # Old QuickTime files have no ftyp box at all; every MP4 starts with one.
    brand = head[8:12] if head[4:8] == b"ftyp" else b"qt  "
    return MediaInfo(
        kind="video",
        format="mov" if brand == b"qt  " else "mp4",
        size_bytes=size,
        width=width,
        height=height,
        duration=duration,
        has_audio=has_audio,
    )


def _duration(container: av.container.InputContainer) -> float | None:
    if container.duration is not None:
        return container.duration / av.time_base
    for stream in container.streams:
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
    return None


def _check_duration(
    media_type: Slot, seconds: float, limits: AudioLimits | ClipLimits, spec: ModelSpec
) -> None:
    low, high = limits.min_seconds, limits.max_seconds
    if not low <= seconds <= high:
        raise InvalidInput(
            # Translators: {input} is an input's name ("Driving audio"); {length} is in seconds
            # ("31.0").
            _(
                "{input}: the file is {length} s long; {model} takes {shortest}–{longest} s.",
                input=media_type.name_text,
                length=_shown(seconds, low, high),
                model=spec.name,
                shortest=f"{low:g}",
                longest=f"{high:g}",
            ),
            field=media_type.value,
        )


def _check_sides(
    media_type: Slot,
    width: int,
    height: int,
    limits: ImageLimits | ClipLimits,
    spec: ModelSpec,
) -> None:
    name, field = media_type.name_text, media_type.value
    for side, is_width in ((width, True), (height, False)):
        if side > limits.max_side:
            if is_width:
                # Translators: {input} is an input's name ("First frame"); px are pixels.
                message = _(
                    "{input}: the width is {size} px; {model} takes at most {limit} px.",
                    input=name,
                    size=side,
                    model=spec.name,
                    limit=limits.max_side,
                )
            else:
                # Translators: {input} is an input's name ("First frame"); px are pixels.
                message = _(
                    "{input}: the height is {size} px; {model} takes at most {limit} px.",
                    input=name,
                    size=side,
                    model=spec.name,
                    limit=limits.max_side,
                )
            raise InvalidInput(message, field=field)
        if side < limits.min_side:
            if is_width:
                # Translators: {input} is an input's name ("First frame"); px are pixels.
                message = _(
                    "{input}: the width is {size} px; {model} needs at least {limit} px.",
                    input=name,
                    size=side,
                    model=spec.name,
                    limit=limits.min_side,
                )
            else:
                # Translators: {input} is an input's name ("First frame"); px are pixels.
                message = _(
                    "{input}: the height is {size} px; {model} needs at least {limit} px.",
                    input=name,
                    size=side,
                    model=spec.name,
                    limit=limits.min_side,
                )
            raise InvalidInput(message, field=field)
    ratio = max(width, height) / min(width, height)
    if limits.max_aspect is not None and ratio > limits.max_aspect:
        shown = _shown(ratio, 1, limits.max_aspect).rstrip("0").rstrip(".")
        bound = f"{limits.max_aspect:g}"
        raise InvalidInput(
            # Translators: {input} is an input's name ("First frame"); {ratio} is its width to
            # its height ("9:1"), {width}×{height} its size in pixels; {bound} is a number ("8").
            _(
                "{input}: the shape is {ratio} ({width}×{height}); {model} takes shapes between "
                "1:{bound} and {bound}:1.",
                input=name,
                ratio=f"{shown}:1" if width >= height else f"1:{shown}",
                width=width,
                height=height,
                model=spec.name,
                bound=bound,
            ),
            field=field,
        )


def _unreadable(media_type: Slot, spec: ModelSpec | None) -> InvalidInput:
    name, field = media_type.name_text, media_type.value
    role = role_of(media_type)
    order = {
        MediaType.DRIVING_AUDIO: _AUDIO_ORDER,
        MediaType.FIRST_CLIP: _VIDEO_ORDER,
        MediaType.REFERENCE_VIDEO: _VIDEO_ORDER,
        MediaType.VIDEO: _VIDEO_ORDER,
    }.get(role, _IMAGE_ORDER)
    limits = _limits(media_type, spec) if spec else None
    formats = limits.formats if limits else frozenset(order)
    listed = ", ".join([f.upper() for f in order if f in formats] + sorted(formats - set(order)))
    if role is MediaType.DRIVING_AUDIO:
        # Translators: {input} is an input's name ("Driving audio"); {formats} is a list of file
        # formats ("WAV, MP3").
        message = _(
            "{input}: the file is not audio in one of these formats: {formats}.",
            input=name,
            formats=listed,
        )
    elif order is _VIDEO_ORDER:
        # Translators: {input} is an input's name ("First clip"); {formats} is a list of file
        # formats ("MP4, MOV").
        message = _(
            "{input}: the file is not a video in one of these formats: {formats}.",
            input=name,
            formats=listed,
        )
    elif spec:
        # Translators: {input} is an input's name ("First frame"); {formats} is a list of file
        # formats ("JPEG, PNG, BMP, WEBP").
        message = _(
            "{input}: the file is not an image {model} can read; send one of these formats: "
            "{formats}.",
            input=name,
            model=spec.name,
            formats=listed,
        )
    else:
        # Translators: {input} is an input's name ("First frame"); {formats} is a list of file
        # formats ("JPEG, PNG, BMP, WEBP").
        message = _(
            "{input}: the file is not a readable image; send one of these formats: {formats}.",
            input=name,
            formats=listed,
        )
    return InvalidInput(message, field=field)


def _shown(value: float, low: float, high: float) -> str:
    # One decimal, unless rounding would put a refused value inside [low, high] ("20.0 MB; takes
    # at most 20 MB"): then two decimals rounded away from the range.
    text = f"{value:.1f}"
    if low <= float(text) <= high:
        rounding = math.ceil if value > high else math.floor
        text = f"{rounding(round(value * 100, 6)) / 100:.2f}"
    return text


def at_least(png: bytes, min_side: int) -> bytes:
    """Scale an image up (keeping its shape) so its shorter side is at least `min_side` px."""
    with Image.open(io.BytesIO(png)) as image:
        short = min(image.size)
        if short >= min_side:
            return png
        scale = min_side / short
        size = (math.ceil(image.width * scale), math.ceil(image.height * scale))
        out = io.BytesIO()
        image.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(out, format="PNG")
        return out.getvalue()


def content_family(media_type: MediaType) -> str:
    """The kind of file `media_type` takes, as a content type starts ("image/", "video/",
    "audio/"): what a chat platform's description of a file is checked against."""
    return _CONTENT_FAMILY[media_type]
