"""Read or fetch every input at once and check it from its bytes, not its name.

Order matters for "bad input costs nothing": everything is read and checked before anything is
uploaded or submitted. Attachments are downloaded at once (their signed URLs expire); a path is
read; a URL given as a URL (generate) is fetched to check it, and passed on unchecked if it cannot
be fetched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiohttp

from bot.domain.catalog import MB, MediaType, ModelSpec, Reference, Slot, role_of
from bot.domain.errors import InvalidInput
from bot.domain.requests import GenerationRequest, check_clip_fits, check_edit_fits
from bot.i18n import _
from bot.intake.ask import Attachment, Held, Source
from bot.media.pools import MediaWorkers
from bot.media.probe import MediaInfo, check_media, too_many_bytes
from bot.net.fetch import Bounds, FetchFailed, TooLarge, fetch

log = logging.getLogger(__name__)

T = TypeVar("T")

_PASS_THROUGH = ("oss://", "data:")


@dataclass(frozen=True)
class InputFile:
    """One input: where it came from and, when we could read it, its bytes and what they are."""

    media_type: Slot
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


def read_local(media_type: Slot, path: str, spec: ModelSpec) -> InputFile:
    """Read and check a local file."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise InvalidInput(
            # Translators: {input} is an input's name ("First frame"); {path} is where the file
            # was looked for.
            _("{input}: “{path}” is not a file.", input=media_type.name_text, path=path),
            field=media_type.value,
        )
    limit = spec.max_bytes(role_of(media_type))
    if file.stat().st_size > limit:
        size = f"{file.stat().st_size / MB:.1f}"
        raise InvalidInput(
            too_many_bytes(media_type, size, spec.name, limit), field=media_type.value
        )
    data = file.read_bytes()
    return InputFile(media_type, path, data, check_media(media_type, data, spec))


def from_bytes(media_type: Slot, name: str, data: bytes, spec: ModelSpec) -> InputFile:
    """Check bytes we already hold (an attachment, a sample)."""
    return InputFile(media_type, name, data, check_media(media_type, data, spec))


async def fetch_remote(
    session: aiohttp.ClientSession,
    media_type: Slot,
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
            session, media_type, url, spec.max_bytes(role_of(media_type)), within=fetch_seconds
        )
    except Unreachable as failure:
        warn(
            f"Could not fetch {media_type.label} to check it ({failure.reason}); passing the URL on."
        )
        return InputFile(media_type, url, is_remote=True)
    info = await workers.input_work(check_media, media_type, data, spec)
    return InputFile(media_type, url, data, info, is_remote=True)


def check_inputs_fit(request: GenerationRequest, inputs: Mapping[Slot, InputFile]) -> None:
    """Check what needs the request and the media together: a clip must leave room to continue."""
    clip = inputs.get(MediaType.FIRST_CLIP)
    if clip is not None and clip.info is not None and clip.info.duration is not None:
        check_clip_fits(request, clip.info.duration)
    edited = inputs.get(MediaType.VIDEO)
    if edited is not None and edited.info is not None and edited.info.duration is not None:
        check_edit_fits(request, edited.info.duration)


def with_billed_input(
    request: GenerationRequest, inputs: Mapping[Slot, InputFile]
) -> GenerationRequest:
    """For a model that bills its input clips (wan2.7-r2v's reference clips, the clip
    wan2.7-videoedit edits), the request with
    their seconds as read (a clip passed on unread counts as the shortest the model takes), so
    the quota holds what the video will cost; anything else as it is."""
    spec = request.spec
    if spec.billed_input_cap is None:
        return request
    shortest = spec.clip.min_seconds if spec.clip else 0.0
    seconds = sum(
        file.info.duration if file.info and file.info.duration is not None else shortest
        for slot, file in inputs.items()
        if slot is MediaType.VIDEO
        or (
            isinstance(slot, Reference)
            and not slot.voice
            and slot.role is MediaType.REFERENCE_VIDEO
        )
    )
    return request.model_copy(update={"input_seconds": round(seconds, 3)})


class Unreachable(InvalidInput):
    """A URL could not be fetched (`reason`: an HTTP status or the kind of network failure)."""

    def __init__(self, media_type: Slot, reason: str) -> None:
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
    media_type: Slot,
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


class Reader:
    """Reads and checks inputs with one HTTP session and the media workers."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        workers: MediaWorkers,
        *,
        warn: Callable[[str], None] = log.warning,
    ) -> None:
        self._session = session
        self._workers = workers
        self._warn = warn  # a URL passed on unchecked (generate)

    async def read(self, spec: ModelSpec, sources: Mapping[Slot, Source]) -> dict[Slot, InputFile]:
        """Read or fetch every input at once and check the bytes, not the names; the first
        problem in the order given is the one raised."""
        raw = await _every(*(self._bytes(t, source, spec) for t, source in sources.items()))
        checked = await _every(
            *(
                self._check(t, source, data, spec)
                for (t, source), data in zip(sources.items(), raw, strict=True)
            )
        )
        return dict(zip(sources, checked, strict=True))

    async def _bytes(self, media_type: Slot, source: Source, spec: ModelSpec) -> bytes | None:
        """The input's bytes; None for a URL passed on unread (checked when it can be fetched)."""
        if isinstance(source, Held):
            return source.data
        if isinstance(source, Attachment):
            return await download(
                self._session, media_type, source.url, spec.max_bytes(role_of(media_type))
            )
        return None  # a path or URL: read and checked together, as generate always has

    async def _check(
        self, media_type: Slot, source: Source, data: bytes | None, spec: ModelSpec
    ) -> InputFile:
        if isinstance(source, str):
            if is_url(source):
                return await fetch_remote(
                    self._session, media_type, source, spec, workers=self._workers, warn=self._warn
                )
            return await self._workers.input_work(read_local, media_type, source, spec)
        assert data is not None, "attachments and held bytes are read first"
        name = source.filename if isinstance(source, Attachment) else source.name
        return await self._workers.input_work(from_bytes, media_type, name, data, spec)


async def _every(*steps: Awaitable[T]) -> list[T]:
    """Run `steps` together to the end; raise the first failure in their order, if any."""
    outcomes = await asyncio.gather(*steps, return_exceptions=True)
    done: list[T] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        done.append(outcome)
    return done
