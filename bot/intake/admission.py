"""The one way in for a new video: `admit` before Discord's answer, `stage` after it.

Order matters for the 3-second window and for "bad input costs nothing". `admit` does what needs
no download: the server's rules as they are now, the catalogue, each attachment's size and kind
as the platform states them, and the engine's own "would you take this?" (the requester's quota,
a block included, and their waiting line), read-only. Then the caller answers Discord, and
`stage` reads or fetches every input at once (signed URLs expire), checks their bytes, derives
what is left to derive (a continuation's length), and uploads them with the key the job will be
queued on. The commands, the buttons (Retry, Extend, Animate last frame) and the shell's
`generate` all come this way. Nothing here knows Discord.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from bot.domain.catalog import LONGEST_SECONDS, MediaType, Slot
from bot.domain.guild import GuildSettings
from bot.domain.jobs import Job, Requester
from bot.domain.requests import GenerationRequest, continuation_duration
from bot.engine.key_ring import KeyRing
from bot.intake.ask import Ask
from bot.intake.draft import draft
from bot.intake.follow_up import FollowUps, Posted
from bot.intake.read import InputFile, Reader, check_inputs_fit, with_billed_input
from bot.intake.stage import Staged, stage_on_a_key
from bot.media.pools import MediaWorkers
from storage.guild_settings import GuildSettingsStore

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
    server's settings it was checked against (their language names the job's messages)."""

    ask: Ask
    request: GenerationRequest
    rules: GuildSettings


class Admission:
    """Admit and stage what a person asked for, with the session, keys and engine it needs.

    `rules`: the servers' settings (None: no server's rules apply, as for the shell's runs)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        keys: KeyRing,
        *,
        workers: MediaWorkers,
        engine: Gate,
        rules: GuildSettingsStore | None = None,
        warn: Callable[[str], None] = log.warning,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._engine = engine
        self._rules = rules
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
        are now (channels, banned words, watermark, longest duration, defaults), the catalogue,
        each attachment as described, then the requester's quota and waiting line, as the
        engine will count them (all of an ask's `count` variations, or none). `parent_id`: a thread's channel, for the allowed channels;
        `exempt`: the operator's own run, never limited."""
        rules = await self._server_rules(requester.guild_id)
        request = draft(
            ask,
            rules,
            channel_id=requester.channel_id,
            parent_id=parent_id,
            retired=self._engine.retired_models,
        )
        await self._engine.admissible(request, requester, exempt=exempt, count=ask.count)
        return Admitted(ask, request, rules)

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
        return await stage_on_a_key(self._keys, request, inputs)

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
