"""The one way in for a new video: `admit` before Discord's answer, `stage` after it.

Order matters for the 3-second window and for "bad input costs nothing". `admit` does what needs
no download: the server's rules as they are now, the catalogue, each attachment's size and kind
as the platform states them, and the engine's own "would you take this?" (the requester's quota,
a block included, and their waiting line), read-only. Then the caller answers Discord, and
`stage` reads or fetches every input at once (signed URLs expire), checks their bytes, derives
what is left to derive (a continuation's length), and uploads them with the key the job will be
queued on. The commands, the buttons (Retry, Remix, Extend, Animate last frame) and the shell's
`generate` all come this way. Nothing here knows Discord.

A retry's or remix's inputs are the uploads of the video it repeats. The provider keeps an upload
48 hours; the input store keeps their bytes longer (`bot/engine/inputs.py`). `admit` decides,
before anything is spent: the uploads as they are while they have a day left, else the kept bytes
(read, checked and uploaded again by `stage`, like a member's files), else a clear refusal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import aiohttp

from bot.domain.catalog import LONGEST_SECONDS, MediaType, Slot
from bot.domain.errors import InvalidInput
from bot.domain.guild import GuildSettings
from bot.domain.jobs import Job, Requester
from bot.domain.member import MemberSettings
from bot.domain.requests import GenerationRequest, continuation_duration
from bot.engine.inputs import HOUR, SPARE_SECONDS, UPLOAD_LIFETIME_SECONDS, InputStore, Kept
from bot.engine.key_ring import KeyRing
from bot.i18n import Text, _
from bot.intake.ask import Ask, Uploaded
from bot.intake.draft import drafted
from bot.intake.follow_up import FollowUps, Posted
from bot.intake.read import InputFile, Reader, check_inputs_fit, with_billed_input
from bot.intake.stage import Staged, stage_on_a_key
from bot.media.pools import MediaWorkers
from storage.guild_settings import GuildSettingsStore
from storage.member_settings import MemberSettingsStore

log = logging.getLogger(__name__)


class Gate(Protocol):
    """The engine's read-only check: raise what `enqueue` would (QuotaExceeded, QueueFull)."""

    async def admissible(
        self,
        request: GenerationRequest,
        requester: Requester,
        *,
        exempt: bool = False,
        count: int = 1,
    ) -> None: ...

    @property
    def retired_models(self) -> frozenset[str]:
        """The models it no longer makes (refused before anything is read)."""


@dataclass(frozen=True)
class Admitted:
    """An ask that passed every check needing no download: the request drafted from it, and the
    server's settings it was checked against (their language names the job's messages); whether
    it goes to the member's DM (their private mode, where the server allows it), and what the
    reply should say of their own defaults that were passed over."""

    ask: Ask
    request: GenerationRequest
    rules: GuildSettings
    by_dm: bool = False
    notes: tuple[Text, ...] = ()


class Admission:
    """Admit and stage what a person asked for, with the session, keys and engine it needs.

    `rules`: the servers' settings (None: no server's rules apply, as for the shell's runs);
    `inputs`: where uploaded inputs are kept for a Retry or Remix after their uploads expire
    (None: nothing is kept, as for the shell's runs);
    `members`: each member's own defaults per server (None: none apply)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        keys: KeyRing,
        *,
        workers: MediaWorkers,
        engine: Gate,
        rules: GuildSettingsStore | None = None,
        inputs: InputStore | None = None,
        members: MemberSettingsStore | None = None,
        warn: Callable[[str], None] = log.warning,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._engine = engine
        self._rules = rules
        self._inputs = inputs
        self._clock = clock
        self._members = members
        self._reader = Reader(session, workers, warn=warn)
        self._follow_ups = FollowUps(session, keys, workers, clock=clock)

    async def admit(
        self,
        ask: Ask,
        requester: Requester,
        *,
        parent_id: int | None = None,
        exempt: bool = False,
    ) -> Admitted:
        """What every new video goes through before any download: the server's settings as they
        are now (channels, banned words, watermark, longest duration, defaults) with the
        requester's own defaults before the server's, the catalogue,
        each attachment as described, then the requester's quota and waiting line, as the
        engine will count them (all of an ask's `count` variations, or none). `parent_id`: a thread's channel, for the allowed channels;
        `exempt`: the operator's own run, never limited."""
        ask = self.inputs_at_hand(ask)
        rules = await self._server_rules(requester.guild_id)
        mine = await self._member_settings(requester)
        drafted_ = drafted(
            ask,
            rules,
            mine,
            channel_id=requester.channel_id,
            parent_id=parent_id,
            retired=self._engine.retired_models,
        )
        request = drafted_.request
        await self._engine.admissible(request, requester, exempt=exempt, count=ask.count)
        return Admitted(ask, request, rules, by_dm=drafted_.by_dm, notes=drafted_.notes)

    async def stage(self, admitted: Admitted) -> Staged:
        """Read and check every input, derive, upload with the key the job must be queued on.
        A retry's inputs are already uploaded: nothing is read, and its key is the first take's."""
        ask, request = admitted.ask, admitted.request
        if ask.uploaded is not None:
            key = self._keys.named(ask.uploaded.key)
            name = ask.uploaded.key if key is None else key.name
            return Staged(request, inputs={}, key=name, dedup_key=None)
        inputs = await self._reader.read(request.spec, ask.sources())
        request = with_billed_input(_with_continued_length(admitted, inputs), inputs)
        request = _edit_within_longest(admitted, request)
        check_inputs_fit(request, inputs)
        return await stage_on_a_key(self._keys, request, inputs, store=self._inputs)

    def inputs_at_hand(self, ask: Ask) -> Ask:
        """A retry's or remix's ask as it can be made: on its uploads while each has a day left
        (and its key is still configured), else on the bytes the input store kept (every one of
        them, read and uploaded again when staged, on whichever key is chosen then). InputsGone,
        before anything is spent, if an expired upload's bytes are no longer kept. Any other
        ask as it is."""
        uploaded = ask.uploaded
        if uploaded is None:
            return ask
        now = self._inputs.clock() if self._inputs is not None else self._clock()
        uploads = {t: url for t, url in uploaded.media.items() if url.startswith("oss://")}
        kept = {t: self._kept(url) for t, url in uploads.items()}
        key_here = uploaded.key is None or self._keys.named(uploaded.key) is not None
        if key_here and all(_usable(kept[t], uploaded, now) for t in uploads):
            return ask
        media: dict[Slot, str] = {}
        for media_type, url in uploaded.media.items():
            copy = kept.get(media_type)
            if media_type in uploads and copy is None:
                raise InputsGone(uploaded.job)
            media[media_type] = str(copy.path) if copy is not None else url
        return replace(ask, media={**ask.media, **media}, uploaded=None)

    def _kept(self, url: str) -> Kept | None:
        return self._inputs.find(url) if self._inputs is not None else None

    async def continuation(self, job: Job, posted: Posted) -> Ask:
        """An ask to continue `job`'s finished video from its end (see FollowUps)."""
        return await self._follow_ups.continuation(job, posted)

    async def from_last_frame(self, job: Job, posted: Posted) -> Ask:
        """An ask to start a new video from the last frame of `job`'s (see FollowUps)."""
        return await self._follow_ups.from_last_frame(job, posted)

    async def _server_rules(self, guild_id: int | None) -> GuildSettings:
        if guild_id is None or self._rules is None:
            return GuildSettings(0)
        return await self._rules.get(guild_id)

    async def _member_settings(self, requester: Requester) -> MemberSettings | None:
        if requester.guild_id is None or self._members is None:
            return None
        return await self._members.get(requester.guild_id, requester.user_id)


class InputsGone(InvalidInput):
    """A video cannot be made again: its uploads have expired and their bytes are not kept."""

    def __init__(self, job: int | None) -> None:
        super().__init__(
            # Translators: {job} is a video's number. Making it again means Retry or Remix.
            _(
                "The files video #{job} was made from are no longer kept, so it cannot be made "
                "again: start a new video with /video and your files.",
                job=job if job is not None else "?",
            )
        )


def _usable(kept: Kept | None, uploaded: Uploaded, now: float) -> bool:
    """Whether an upload has a day left (known from the store), or, with no word of it, whether
    the video it was made for was asked less than 47 hours ago (it is at least that old)."""
    if kept is not None:
        return now - kept.uploaded_at < UPLOAD_LIFETIME_SECONDS - SPARE_SECONDS
    return uploaded.since is None or now - uploaded.since < UPLOAD_LIFETIME_SECONDS - HOUR


def _with_continued_length(admitted: Admitted, inputs: dict[Slot, InputFile]) -> GenerationRequest:
    """A member's continuation whose length was not given: the clip's length plus the model's
    default, within the server's longest (known once the clip is read). Anything else as drafted."""
    ask, request = admitted.ask, admitted.request
    clip = inputs.get(MediaType.FIRST_CLIP)
    seconds = clip.info.duration if clip and clip.info else None
    if ask.duration is not None or not ask.length_from_clip or not seconds:
        return request
    longest = min(admitted.rules.max_duration or LONGEST_SECONDS, LONGEST_SECONDS)
    length = min(continuation_duration(seconds, request.spec), longest)
    return request.model_copy(update={"duration": length})


def _edit_within_longest(admitted: Admitted, request: GenerationRequest) -> GenerationRequest:
    """An edit without a length is as long as its clip (known once read): on a server with a
    longest video, a longer clip is cut to it, as a length asked would be."""
    longest = admitted.rules.max_duration
    spec = request.spec
    if (
        not spec.duration_from_input
        or request.duration is not None
        or not longest
        or request.resolved_duration <= longest
        or longest not in spec.durations
    ):
        return request
    return request.model_copy(update={"duration": longest})
