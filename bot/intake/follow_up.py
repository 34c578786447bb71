"""New videos built on an earlier one: a retry, a continuation of its end, a start from its last frame.

Each is an `Ask` like a member's, so it goes through the same admission (the server's rules as they
are now, the quota of whoever pressed). A retry, and a remix (the same with a new prompt), reuse
the inputs the first take uploaded (staged again from the input store once those have expired:
`Admission`); Extend
and Animate last frame fetch the finished video (from the provider while its link lives, else as
posted) and cut what they need from it.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from bot.domain.catalog import DEFAULT_MODEL, MODELS, MediaType, ModelSpec
from bot.domain.errors import InvalidInput
from bot.domain.jobs import Job
from bot.engine.key_ring import KeyRing
from bot.i18n import _
from bot.intake.ask import Ask, Attachment, Uploaded
from bot.media.edit import last_frame_png, tail_clip
from bot.media.pools import MediaWorkers
from bot.media.probe import at_least
from bot.net.fetch import Bounds, fetch

FIRST, CLIP = MediaType.FIRST_FRAME, MediaType.FIRST_CLIP
# How much of a finished video Extend continues from (wan2.7's first clip takes 2–10 s).
TAIL_SECONDS = 10.0

# Finds a video as it was posted, for when the provider's link has expired.
Posted = Callable[[], Awaitable[Attachment | None]]


class FollowUps:
    """Asks built on a finished video, with the session, keys and workers to fetch and cut it."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        keys: KeyRing,
        workers: MediaWorkers,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._keys = keys
        self._workers = workers
        self._clock = clock

    async def continuation(self, job: Job, posted: Posted) -> Ask:
        """An ask to continue `job`'s video with wan2.7's first clip, from its last 10 s at most;
        its length is left to staging, as for /video continue (the clip + the model's default,
        within the server's longest). `posted` finds the video as posted, for when the
        provider's link has expired."""
        with tempfile.TemporaryDirectory(prefix="wanbot-extend-") as folder:
            video = await self._result(job, posted, Path(folder))
            clip = Path(folder) / "tail.mp4"
            await self._workers.input_work(tail_clip, video, clip, seconds=TAIL_SECONDS)
            data = clip.read_bytes()
        return _follow_up(job, {CLIP: data})

    async def from_last_frame(self, job: Job, posted: Posted) -> Ask:
        """An ask to start a new video from the last frame of `job`'s."""
        with tempfile.TemporaryDirectory(prefix="wanbot-frame-") as folder:
            video = await self._result(job, posted, Path(folder))
            frame = await self._workers.input_work(last_frame_png, video)
        spec = MODELS[DEFAULT_MODEL]
        frame = await self._workers.input_work(at_least, frame, spec.image.min_side)
        return _follow_up(job, {FIRST: frame})

    async def _result(self, job: Job, posted: Posted, folder: Path) -> Path:
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


def again(job: Job, seed: int | None) -> Ask:
    """An ask for `job`'s video again with another seed, on the inputs it already uploaded (with
    its key): it goes through `draft` like any other, so the server's rules as they are now apply."""
    original = job.request
    return Ask(
        original.model,
        {},
        original.prompt,
        original.negative_prompt,
        template=original.template,
        resolution=original.resolved_resolution,  # the same size, whatever the default is now
        duration=original.duration,
        ratio=original.ratio,  # the same shape, for a model that takes one
        shot_type=original.shot_type,  # one shot or several, as asked
        audio_setting=original.audio_setting,  # an edit keeps or redoes the sound, as asked
        seed=seed,
        prompt_extend=original.prompt_extend,
        watermark=original.watermark,
        uploaded=Uploaded(
            original.slot_urls(),
            job.dashscope_key,
            job=job.id,
            since=job.created_at,
        ),
        descriptions={
            number: item.reference_description
            for number, item in enumerate(original.references, start=1)
            if item.reference_description is not None
        },
        input_seconds=original.input_seconds,  # the clips as measured for the first take
    )


def remix(job: Job, prompt: str | None, negative_prompt: str | None) -> Ask:
    """An ask for `job`'s video again with new words: the same model, inputs and settings, and
    the same seed when it had one (so the words are the only change; none: the provider's
    choice again)."""
    ask = again(job, seed=job.request.seed)
    ask.prompt, ask.negative_prompt = prompt, negative_prompt
    return ask
