"""The checks that need no download: the server's rules, the catalogue, what is known of a file.

Order matters for "bad input costs nothing": these run before Discord's 3-second answer and
before any byte is read. The server's rules (allowed channels, banned words, longest video,
forced watermark, default model and size) apply to every new video, from a command or a button;
the catalogue checks the options together; an attachment's size and kind are checked as the chat
platform states them.
"""

from __future__ import annotations

from bot.domain.catalog import MODELS, RETIRED, MediaType, Slot
from bot.domain.errors import InvalidInput
from bot.domain.guild import GuildSettings
from bot.domain.requests import GenerationRequest, media_from
from bot.i18n import _
from bot.intake.ask import Ask, Attachment
from bot.media.probe import check_described


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
    model = guild.model_for(ask.model, given, template=ask.template is not None, retired=retired)
    if ask.model is None and ask.shot_type is not None:
        model = _shot_taker(model, given, guild, retired, template=ask.template is not None)
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
    return request


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
