"""Turn what a person gave (files, URLs, attachment bytes) into checked inputs the provider can fetch.

Order matters for "bad input costs nothing": everything is read and checked before anything is
uploaded or submitted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.dashscope import DashScopeClient
from bot.domain.catalog import MB, MediaType, ModelSpec
from bot.domain.errors import InvalidInput
from bot.domain.requests import GenerationRequest, check_clip_fits
from bot.i18n import _
from bot.media.pools import MediaWorkers
from bot.media.probe import MediaInfo, check_media, too_many_bytes
from bot.net.fetch import Bounds, FetchFailed, TooLarge, fetch

log = logging.getLogger(__name__)

_PASS_THROUGH = ("oss://", "data:")


@dataclass(frozen=True)
class InputFile:
    """One input: where it came from and, when we could read it, its bytes and what they are."""

    media_type: MediaType
    source: str  # a local path, a file's name, or a URL given as one
    data: bytes | None = None  # None: a URL we pass on unread
    info: MediaInfo | None = None
    # A URL given as a URL (generate): the provider fetches it. Everything else is uploaded, so a
    # file merely *named* like a URL ("data:x.png") is still sent as its bytes.
    is_remote: bool = False

    @property
    def filename(self) -> str:
        """A file name for the upload: the source's base name, else one made from the role."""
        name = Path(self.source.split("?", 1)[0]).name
        if name and "." in name:
            return name
        extension = (self.info.format if self.info else "bin").lower()
        return f"{self.media_type.value}.{extension}"


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://", *_PASS_THROUGH))


def limit_bytes(media_type: MediaType, spec: ModelSpec) -> int:
    if media_type is MediaType.DRIVING_AUDIO and spec.audio:
        return spec.audio.max_bytes
    if media_type is MediaType.FIRST_CLIP and spec.clip:
        return spec.clip.max_bytes
    return spec.image.max_bytes


def read_local(media_type: MediaType, path: str, spec: ModelSpec) -> InputFile:
    """Read and check a local file."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise InvalidInput(
            # Translators: {input} is an input's name ("First frame"); {path} is where the file
            # was looked for.
            _("{input}: “{path}” is not a file.", input=media_type.name_text, path=path),
            field=media_type.value,
        )
    limit = limit_bytes(media_type, spec)
    if file.stat().st_size > limit:
        size = f"{file.stat().st_size / MB:.1f}"
        raise InvalidInput(
            too_many_bytes(media_type, size, spec.name, limit), field=media_type.value
        )
    data = file.read_bytes()
    return InputFile(media_type, path, data, check_media(media_type, data, spec))


def from_bytes(media_type: MediaType, name: str, data: bytes, spec: ModelSpec) -> InputFile:
    """Check bytes we already hold (an attachment, a sample)."""
    return InputFile(media_type, name, data, check_media(media_type, data, spec))


async def fetch_remote(
    session: aiohttp.ClientSession,
    media_type: MediaType,
    url: str,
    spec: ModelSpec,
    *,
    workers: MediaWorkers,
    warn: Callable[[str], None] = log.warning,
    fetch_seconds: float = 20.0,
) -> InputFile:
    """Fetch an http(s) URL to check it; a URL that cannot be fetched is passed on unchecked."""
    if url.startswith(_PASS_THROUGH):
        return InputFile(media_type, url, is_remote=True)
    try:
        data = await download(
            session, media_type, url, limit_bytes(media_type, spec), within=fetch_seconds
        )
    except Unreachable as failure:
        warn(
            f"Could not fetch {media_type.label} to check it ({failure.reason}); passing the URL on."
        )
        return InputFile(media_type, url, is_remote=True)
    info = await workers.input_work(check_media, media_type, data, spec)
    return InputFile(media_type, url, data, info, is_remote=True)


def check_inputs_fit(request: GenerationRequest, inputs: Mapping[MediaType, InputFile]) -> None:
    """Check what needs the request and the media together: a clip must leave room to continue."""
    clip = inputs.get(MediaType.FIRST_CLIP)
    if clip is not None and clip.info is not None and clip.info.duration is not None:
        check_clip_fits(request, clip.info.duration)


async def stage(
    client: DashScopeClient,
    request: GenerationRequest,
    inputs: Mapping[MediaType, InputFile],
) -> GenerationRequest:
    """Upload local inputs as temporary oss:// files; URLs are passed through as given."""
    urls: dict[MediaType, str] = {}
    for media_type, item in inputs.items():
        if item.is_remote:
            urls[media_type] = item.source
        else:
            assert item.data is not None, "local inputs are always read"
            urls[media_type] = await client.upload(request.model, item.filename, item.data)
    return request.with_urls(urls)


class Unreachable(InvalidInput):
    """A URL could not be fetched (`reason`: an HTTP status or the kind of network failure)."""

    def __init__(self, media_type: MediaType, reason: str) -> None:
        super().__init__(
            # Translators: {input} is an input's name ("First frame"); {reason} is an HTTP status
            # ("HTTP 404") or the name of a network error.
            _(
                "{input}: could not download the file ({reason}); try attaching it again.",
                input=media_type.name_text,
                reason=reason,
            ),
            field=media_type.value,
        )
        self.reason = reason


async def download(
    session: aiohttp.ClientSession,
    media_type: MediaType,
    url: str,
    limit: int,
    *,
    within: float = 120.0,
) -> bytes:
    """Fetch bytes now (signed URLs expire), refusing anything over `limit`; Unreachable if it fails."""
    try:
        return await fetch(session, url, Bounds(max_bytes=limit, seconds=within))
    except FetchFailed as failure:
        raise Unreachable(media_type, failure.reason) from None
    except TooLarge:
        raise InvalidInput(
            # Translators: {input} is an input's name ("First frame"); {limit} is in megabytes.
            _(
                "{input}: the file is larger than {limit} MB.",
                input=media_type.name_text,
                limit=f"{limit / MB:g}",
            ),
            field=media_type.value,
        ) from None


def dedup_key(request: GenerationRequest, inputs: Mapping[MediaType, InputFile]) -> str:
    """A fingerprint of what a request would make: its parameters and its inputs' bytes."""
    digest = hashlib.sha256()
    body = request.body()
    for field in ("media", "img_url", "audio_url", "first_frame_url", "last_frame_url"):
        body["input"].pop(field, None)  # URLs differ between uploads of the same bytes
    digest.update(json.dumps(body, sort_keys=True).encode())
    for media_type in sorted(inputs):
        item = inputs[media_type]
        digest.update(media_type.value.encode())
        digest.update(hashlib.sha256(item.data or item.source.encode()).digest())
    return digest.hexdigest()
