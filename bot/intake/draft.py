"""The checks that need no download: the server's rules, the catalogue, what is known of a file.

Order matters for "bad input costs nothing": these run before Discord's 3-second answer and
before any byte is read. The server's rules (allowed channels, banned words, longest video,
forced watermark, default model and size) apply to every new video, from a command or a button;
the catalogue checks the options together; an attachment's size and kind are checked as the chat
platform states them.

A member's own defaults (/video settings, bot/domain/member.py) fill what they did not type,
before the server's: a default the server's rules or the catalogue no longer allow is passed
over for the next rule down, with a note for the reply, never a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.catalog import MODELS, RETIRED, MediaType, Slot
from bot.domain.errors import InvalidInput
from bot.domain.guild import GuildSettings
from bot.domain.member import (
    PRIVATE_MODE_OFF,
    MemberSettings,
    duration_passed,
    model_passed,
    resolution_passed,
)
from bot.domain.requests import GenerationRequest, media_from
from bot.i18n import Text, _
from bot.intake.ask import Ask, Attachment
from bot.media.probe import check_described


@dataclass(frozen=True)
class Draft:
    """A request drafted from an ask, where it goes, and what the reply should say of the
    member's defaults that were passed over."""

    request: GenerationRequest
    by_dm: bool = False
    notes: tuple[Text, ...] = ()


def draft(
    ask: Ask,
    guild: GuildSettings,
    *,
    channel_id: int | None,
    parent_id: int | None = None,
    retired: frozenset[str] = RETIRED,
) -> GenerationRequest:
    """Check everything that needs no download (the server's rules, the catalogue, what is known
    of each attachment) and return the request with its inputs still to be read. A model that is
    `retired`, or hidden on the server, is refused here."""
    return drafted(
        ask, guild, None, channel_id=channel_id, parent_id=parent_id, retired=retired
    ).request


def drafted(
    ask: Ask,
    guild: GuildSettings,
    member: MemberSettings | None,
    *,
    channel_id: int | None,
    parent_id: int | None = None,
    retired: frozenset[str] = RETIRED,
) -> Draft:
    """`draft`, with the `member`'s own defaults where they typed nothing: what they type, else
    their default, else the server's, else the model's. A retry (its inputs already uploaded) is
    the same request again: their defaults do not change it (it goes where they want it now)."""
    if member is None:
        member = MemberSettings(guild.guild_id, 0)
    elif ask.uploaded is not None:
        member = MemberSettings(member.guild_id, member.user_id, private=member.private)
    notes: list[Text] = []
    given = ask.roles()
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
    template = ask.template is not None
    mine = None
    if ask.model is None:
        mine = member.usable_model(given, guild, template=template, retired=retired)
    model = guild.model_for(ask.model or mine, given, template=template, retired=retired)
    if ask.model is None and ask.shot_type is not None:
        model = _shot_taker(model, given, guild, retired, template=template)
    if ask.model is None and member.model and model != member.model:
        notes.append(model_passed(member.model, model))
    spec = MODELS.get(model)
    resolution = ask.resolution
    resolution_skipped = False
    if resolution is None and member.resolution and spec:
        resolution = member.usable_resolution(spec)
        resolution_skipped = resolution is None
    if (
        resolution is None
        and guild.default_resolution
        and spec
        and guild.default_resolution in spec.resolutions
    ):
        resolution = guild.default_resolution
    duration = ask.duration
    continues_a_clip = MediaType.FIRST_CLIP in given  # its length comes from the clip
    if duration is None and member.duration and spec and not continues_a_clip:
        duration = member.usable_duration(spec, given, guild)
    duration_skipped = duration is None and ask.duration is None and not continues_a_clip
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
            and not spec.duration_from_input  # as long as its clip, which is at most 10 s
            and spec.default_duration > guild.max_duration
        ):
            duration = max(d for d in spec.durations if d <= guild.max_duration)
    uploaded = ask.uploaded.media if ask.uploaded else {}
    urls: dict[Slot, str] = {
        **{slot: _url(source) for slot, source in ask.media.items()},
        **{t: f"attachment:{t.value}" for t in ask.given},
        **uploaded,
    }
    request = GenerationRequest.build(
        model=model,
        prompt=ask.prompt,
        negative_prompt=ask.negative_prompt,
        media=media_from(urls, ask.descriptions),
        template=ask.template,
        resolution=resolution,
        duration=duration,
        ratio=ask.ratio,
        shot_type=ask.shot_type,
        audio_setting=ask.audio_setting,
        seed=ask.seed,
        prompt_extend=ask.prompt_extend,
        watermark=ask.watermark or guild.force_watermark,
        input_seconds=ask.input_seconds,
    )
    for media_type, source in ask.media.items():
        if isinstance(source, Attachment):
            check_described(
                media_type, request.spec, source.size, source.content_type, source.filename
            )
    if resolution_skipped and member.resolution:
        notes.append(resolution_passed(member.resolution, model, request.resolved_resolution))
    if duration_skipped and member.duration and member.duration != request.resolved_duration:
        notes.append(duration_passed(member.duration, model, request.resolved_duration))
    if member.private and not guild.private_mode:
        notes.append(PRIVATE_MODE_OFF)
    return Draft(request, by_dm=member.by_dm(guild), notes=tuple(notes))


def _shot_taker(
    model: str,
    given: frozenset[MediaType],
    guild: GuildSettings,
    retired: frozenset[str],
    *,
    template: bool,
) -> str:
    """A shot type asked for without a model: `model` if it takes one, else the first model
    offered here that takes the inputs and a shot type (none: `model`, which then refuses)."""
    if model in MODELS and MODELS[model].shot_types:
        return model
    unavailable = guild.hidden_models | retired
    takers = (
        spec.name
        for spec in MODELS.values()
        if spec.shot_types
        and spec.accepts(given, template=template)
        and spec.name not in unavailable
    )
    return next(takers, model)


def _url(source: Attachment | str) -> str:
    """Where the draft points before anything is read: an attachment's URL, or a path or URL as given."""
    return source.url if isinstance(source, Attachment) else source
