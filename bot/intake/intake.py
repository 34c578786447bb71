"""Intake: read or fetch the inputs → check them → derive → stage; one pipeline for /video and generate.

Order matters for "bad input costs nothing": what needs no download is checked first (the
server's rules, the catalogue, an attachment's size and type as Discord states them), then
every input is read or fetched at once (signed URLs expire) and checked from its bytes, then
anything derived is made (the default length of a continuation; the tail or last frame of a
finished video), and only then are local bytes uploaded to the provider's OSS (URLs pass
through), with the DashScope key chosen for the job: an upload belongs to that key's account,
so the job is queued on the same key. Nothing here knows Discord: an attachment arrives as an
`Attachment` (URL, name, size, content type).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import aiohttp

from bot.domain.catalog import DEFAULT_MODEL, LONGEST_SECONDS, MB, MODELS, MediaType, ModelSpec
from bot.domain.errors import InvalidInput
from bot.domain.guild import GuildSettings
from bot.domain.jobs import Job
from bot.domain.requests import GenerationRequest, MediaItem, continuation_duration
from bot.engine.key_ring import KeyRing
from bot.i18n import _
from bot.intake.inputs import (
    InputFile,
    check_inputs_fit,
    dedup_key,
    download,
    fetch_remote,
    from_bytes,
    is_url,
    limit_bytes,
    read_local,
    stage,
)
from bot.media.edit import last_frame_png, tail_clip
from bot.media.pools import MediaWorkers
from bot.media.probe import at_least, empty, too_many_bytes
from bot.net.fetch import Bounds, fetch

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST, LAST = MediaType.FIRST_FRAME, MediaType.LAST_FRAME
AUDIO, CLIP = MediaType.DRIVING_AUDIO, MediaType.FIRST_CLIP
# How much of a finished video Extend continues from (wan2.7's first clip takes 2–10 s).
TAIL_SECONDS = 10.0
_CONTENT_FAMILY = {FIRST: "image/", LAST: "image/", AUDIO: "audio/", CLIP: "video/"}


@dataclass(frozen=True)
class Attachment:
    """A file a member attached, as the chat platform describes it (nothing read yet)."""

    url: str
    filename: str
    size: int
    content_type: str | None = None


@dataclass(frozen=True)
class Held:
    """Bytes the bot already holds (a cut tail, a grabbed frame), named for the upload."""

    name: str
    data: bytes


# An input as given: a member's attachment, a local path or URL (generate), or bytes held.
Source = Attachment | Held | str


@dataclass
class Ask:
    """What a member asked for, before anything is downloaded."""

    model: str | None
    media: dict[MediaType, Attachment]
    prompt: str | None = None
    negative_prompt: str | None = None
    template: str | None = None
    resolution: str | None = None
    duration: int | None = None
    seed: int | None = None
    prompt_extend: bool = True
    watermark: bool = False
    given: dict[MediaType, bytes] = field(default_factory=dict)  # inputs the bot already holds
    # Inputs already with the provider (a retry's: uploaded for the first take), used as they are.
    staged: dict[MediaType, str] = field(default_factory=dict)

    def sources(self) -> dict[MediaType, Source]:
        held = {t: Held(t.value, data) for t, data in self.given.items()}
        return {**self.media, **held}


@dataclass(frozen=True)
class Staged:
    """What the request needs: the request pointing at fetchable inputs, the inputs read, and
    the name of the key they were uploaded with (the job must be queued on it)."""

    request: GenerationRequest
    inputs: dict[MediaType, InputFile]
    key: str

    @property
    def dedup_key(self) -> str:
        return dedup_key(self.request, self.inputs)


def _server_default(ask: Ask, guild: GuildSettings) -> str | None:
    """The server's default model, if it takes what the member gave (a default for videos
    between two pictures does not apply to a member animating one)."""
    spec = MODELS.get(guild.default_model or "")
    given = frozenset(ask.sources()) | frozenset(ask.staged)
    return spec.name if spec and spec.accepts(given, template=ask.template is not None) else None


def draft(
    ask: Ask, guild: GuildSettings, *, channel_id: int | None, parent_id: int | None = None
) -> GenerationRequest:
    """Check everything that needs no download (the server's rules, the catalogue, what is known
    of each attachment) and return the request with its inputs still to be read."""
    if not guild.channel_allowed(channel_id, parent_id):
        where = ", ".join(f"<#{c}>" for c in sorted(guild.allowed_channels))
        # Translators: {channels} is a list of Discord channel links ("#videos, #art").
        raise InvalidInput(_("Videos can be made in {channels} on this server.", channels=where))
    if word := guild.banned_word_in(ask.prompt, ask.negative_prompt):
        raise InvalidInput(
            # Translators: {word} is a word the server's moderators do not allow in prompts.
            _(
                "The prompt uses “{word}”, which this server does not allow. Please rephrase it.",
                word=word,
            )
        )
    model = ask.model or _server_default(ask, guild) or DEFAULT_MODEL
    spec = MODELS.get(model)
    resolution = ask.resolution
    if (
        resolution is None
        and guild.default_resolution
        and spec
        and guild.default_resolution in spec.resolutions
    ):
        resolution = guild.default_resolution
    duration = ask.duration
    if guild.max_duration:
        if duration is not None and duration > guild.max_duration:
            raise InvalidInput(
                _("This server allows videos of at most {seconds} s.", seconds=guild.max_duration),
                field="duration",
            )
        if (
            duration is None
            and spec
            and spec.duration_settable
            and spec.default_duration > guild.max_duration
        ):
            duration = max(d for d in spec.durations if d <= guild.max_duration)
    request = GenerationRequest.build(
        model=model,
        prompt=ask.prompt,
        negative_prompt=ask.negative_prompt,
        media=tuple(MediaItem(type=t, url=a.url) for t, a in ask.media.items())
        + tuple(MediaItem(type=t, url=f"attachment:{t.value}") for t in ask.given)
        + tuple(MediaItem(type=t, url=url) for t, url in ask.staged.items()),
        template=ask.template,
        resolution=resolution,
        duration=duration,
        seed=ask.seed,
        prompt_extend=ask.prompt_extend,
        watermark=ask.watermark or guild.force_watermark,
    )
    for media_type, attachment in ask.media.items():
        check_metadata(media_type, attachment, request.spec)
    return request


def check_metadata(media_type: MediaType, attachment: Attachment, spec: ModelSpec) -> None:
    """What the platform tells us for free: the size, and the kind of file it thinks it is."""
    field = media_type.value
    limit = limit_bytes(media_type, spec)
    if attachment.size > limit:
        size = f"{attachment.size / MB:.1f}"
        raise InvalidInput(too_many_bytes(media_type, size, spec.name, limit), field=field)
    if attachment.size == 0:
        raise InvalidInput(empty(media_type), field=field)
    family = _CONTENT_FAMILY[media_type]
    if attachment.content_type and not attachment.content_type.startswith(family):
        name, filename, kind = media_type.name_text, attachment.filename, attachment.content_type
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


class Intake:
    """Turn what a person gave into a staged request, with the session and keys it needs."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        keys: KeyRing,
        *,
        workers: MediaWorkers,
        warn: Callable[[str], None] = log.warning,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._keys = keys
        self._workers = workers
        self._warn = warn  # a URL passed on unchecked (generate)
        self._clock = clock

    async def take(
        self,
        request: GenerationRequest,
        sources: Mapping[MediaType, Source],
        *,
        longest: int | None = None,
    ) -> Staged:
        """Read and check every input, derive, stage. With `longest`, a continuation whose length
        was not given gets the clip's length plus the model's default, at most `longest`."""
        inputs = await self.read(request.spec, sources)
        clip = inputs.get(CLIP)
        if longest is not None and clip and clip.info and clip.info.duration:
            length = min(continuation_duration(clip.info.duration, request.spec), longest)
            request = request.model_copy(update={"duration": length})
        check_inputs_fit(request, inputs)
        async with self._keys.staging(request.model) as key:
            return Staged(await stage(key.client, request, inputs), inputs, key.name)

    async def take_ask(self, request: GenerationRequest, ask: Ask, guild: GuildSettings) -> Staged:
        """`take` for a member's ask: a continuation without a length gets one within the server's."""
        longest = (
            min(guild.max_duration or LONGEST_SECONDS, LONGEST_SECONDS)
            if ask.duration is None
            else None
        )
        return await self.take(request, ask.sources(), longest=longest)

    async def read(
        self, spec: ModelSpec, sources: Mapping[MediaType, Source]
    ) -> dict[MediaType, InputFile]:
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

    async def _bytes(self, media_type: MediaType, source: Source, spec: ModelSpec) -> bytes | None:
        """The input's bytes; None for a URL passed on unread (checked when it can be fetched)."""
        if isinstance(source, Held):
            return source.data
        if isinstance(source, Attachment):
            return await download(
                self._session, media_type, source.url, limit_bytes(media_type, spec)
            )
        return None  # a path or URL: read and checked together, as generate always has

    async def _check(
        self, media_type: MediaType, source: Source, data: bytes | None, spec: ModelSpec
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

    # -- building on a finished video ------------------------------------------------------------

    async def continuation(
        self, job: Job, posted: Callable[[], Awaitable[Attachment | None]]
    ) -> Ask:
        """An ask to continue `job`'s video with wan2.7's first clip, from its last 10 s at most;
        its length is left to `take_ask`, as for /video continue (the clip + the model's default,
        within the server's longest). `posted` finds the video as posted, for when the
        provider's link has expired."""
        with tempfile.TemporaryDirectory(prefix="wanbot-extend-") as folder:
            video = await self._result(job, posted, Path(folder))
            clip = Path(folder) / "tail.mp4"
            await self._workers.input_work(tail_clip, video, clip, seconds=TAIL_SECONDS)
            data = clip.read_bytes()
        return _follow_up(job, {CLIP: data})

    async def from_last_frame(
        self, job: Job, posted: Callable[[], Awaitable[Attachment | None]]
    ) -> Ask:
        """An ask to start a new video from the last frame of `job`'s."""
        with tempfile.TemporaryDirectory(prefix="wanbot-frame-") as folder:
            video = await self._result(job, posted, Path(folder))
            frame = await self._workers.input_work(last_frame_png, video)
        spec = MODELS[DEFAULT_MODEL]
        frame = await self._workers.input_work(at_least, frame, spec.image.min_side)
        return _follow_up(job, {FIRST: frame})

    async def _result(
        self, job: Job, posted: Callable[[], Awaitable[Attachment | None]], folder: Path
    ) -> Path:
        """The finished video: from the provider while its link lives, else from the posted message."""
        target = folder / "result.mp4"
        client = (self._keys.named(job.dashscope_key) or self._keys.first).client
        if job.result_url and (job.result_expires_at or 0) > self._clock():
            await client.download(job.result_url, target)  # the provider's, bounded
            return target
        copy = await posted()
        if copy is None:
            # Translators: {job} is a video's number; building on it means extending it or
            # starting a new video from its last frame.
            raise InvalidInput(_("Video #{job} is no longer available to build on.", job=job.id))
        # Discord's copy: within its upload limit, and bounded like a provider's result.
        result = client.result_bounds
        await fetch(
            self._session,
            copy.url,
            Bounds(max_bytes=result.max_bytes, seconds=result.seconds),
            to=target,
        )
        return target


def fit_resolution(resolution: str, spec: ModelSpec) -> str:
    return resolution if resolution in spec.resolutions else spec.default_resolution


async def _every(*steps: Awaitable[T]) -> list[T]:
    """Run `steps` together to the end; raise the first failure in their order, if any."""
    outcomes = await asyncio.gather(*steps, return_exceptions=True)
    done: list[T] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        done.append(outcome)
    return done


def _follow_up(job: Job, given: dict[MediaType, bytes]) -> Ask:
    """An ask for the default model built on `job`'s video: its prompts, size and watermark."""
    original = job.request
    return Ask(
        DEFAULT_MODEL,
        {},
        original.prompt,
        original.negative_prompt,
        resolution=fit_resolution(job.resolution, MODELS[DEFAULT_MODEL]),
        watermark=original.watermark,
        given=given,
    )


def again(job: Job, seed: int) -> Ask:
    """An ask for `job`'s video again with another seed, on the inputs it already uploaded: it
    goes through `draft` like any other, so the server's rules as they are now apply."""
    original = job.request
    return Ask(
        original.model,
        {},
        original.prompt,
        original.negative_prompt,
        template=original.template,
        resolution=original.resolved_resolution,  # the same size, whatever the default is now
        duration=original.duration,
        seed=seed,
        prompt_extend=original.prompt_extend,
        watermark=original.watermark,
        staged={item.type: item.url for item in original.media},
    )
