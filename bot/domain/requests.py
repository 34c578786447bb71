"""A generation request, checked against the model catalogue and rendered to DashScope's JSON body.

Catalogue checks raise `InvalidInput` with a message for people; pydantic's own type errors
(a seed that is not a number) are turned into `InvalidInput` by `GenerationRequest.build`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from bot.domain.catalog import (
    MODELS,
    REFERENCES,
    InputStyle,
    MediaType,
    ModelSpec,
    Reference,
    Slot,
    combination_name,
    combinations_name,
    durations_text,
    offered,
)
from bot.domain.errors import InvalidInput
from bot.i18n import Text, _

SEED_MAX = 2_147_483_647
MAX_VARIATIONS = 4  # the most videos one ask may make at once (`count`), each with its own seed


def variation_seeds(seed: int | None, count: int, *, drawn: int) -> list[int | None]:
    """The seeds of `count` variations: one video keeps `seed` as given (None: the provider's
    choice); several take `seed`, `seed`+1, … (no seed given: from `drawn`, a random seed),
    wrapping to 0 past SEED_MAX, so each differs and each can be made again."""
    if count <= 1:
        return [seed]
    base = drawn if seed is None else seed
    return [(base + n) % (SEED_MAX + 1) for n in range(count)]


class MediaItem(BaseModel):
    """One input file: its role and where the provider can fetch it (http(s), oss:// or data:)."""

    model_config = ConfigDict(frozen=True)

    type: MediaType
    url: str
    # A reference's own voice (a wav/mp3 URL) and words about it (wan2.7-r2v); None: not given.
    reference_voice: str | None = None
    reference_description: str | None = None

    def sent(self) -> dict[str, str]:
        """The item as the `media` array carries it (what is not given is left out)."""
        item = {"type": self.type.value, "url": self.url}
        if self.reference_voice is not None:
            item["reference_voice"] = self.reference_voice
        if self.reference_description is not None:
            item["reference_description"] = self.reference_description
        return item


_MEDIA_ORDER = (
    MediaType.FIRST_FRAME,
    MediaType.LAST_FRAME,
    MediaType.DRIVING_AUDIO,
    MediaType.FIRST_CLIP,
    MediaType.VIDEO,
    MediaType.REFERENCE_IMAGE,
)


def _rank(media_type: MediaType) -> int:
    """Where a role goes in the `media` array: the documented order of roles (a clip to edit
    before its reference images); references all share one place, so they keep the order they
    were given in (it names them)."""
    return _MEDIA_ORDER.index(MediaType.REFERENCE_IMAGE if media_type in REFERENCES else media_type)


def media_from(
    urls: Mapping[Slot, str], descriptions: Mapping[int, str] | None = None
) -> tuple[MediaItem, ...]:
    """The media items of inputs given by slot, in the order given: a role given once is one
    item; the n-th reference is one item, carrying its voice's URL and its description (by
    number). A voice or a description for a reference not given is refused."""
    descriptions = descriptions or {}
    references = {
        slot.number: slot for slot in urls if isinstance(slot, Reference) and not slot.voice
    }
    for slot in urls:
        if isinstance(slot, Reference) and slot.voice and slot.number not in references:
            raise InvalidInput(
                # Translators: {input} is an input's name ("Voice of reference 3"); {number} is a
                # reference's number: the member gave a voice for a picture they did not give.
                _(
                    "{input}: there is no reference {number} to give it to.",
                    input=slot.name_text,
                    number=slot.number,
                ),
                field="reference_voice",
            )
    for number in descriptions:
        if number not in references:
            raise InvalidInput(
                # Translators: {number} is a reference's number: the member described a picture
                # or clip they did not give.
                _(
                    "Description {number}: there is no reference {number} to describe.",
                    number=number,
                ),
                field="reference_description",
            )
    items: list[MediaItem] = []
    for slot, url in urls.items():
        if isinstance(slot, MediaType):
            items.append(MediaItem(type=slot, url=url))
        elif not slot.voice:
            voice = urls.get(Reference(slot.number, slot.role, voice=True))
            items.append(
                MediaItem(
                    type=slot.role,
                    url=url,
                    reference_voice=voice,
                    reference_description=descriptions.get(slot.number),
                )
            )
    return tuple(items)


# The input clips a model may bill on top of its output (where `billed_input_cap` says so).
_BILLED_CLIPS = frozenset({MediaType.REFERENCE_VIDEO, MediaType.VIDEO})


class GenerationRequest(BaseModel):
    """Everything one video needs; valid for its model by construction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    prompt: str | None = None
    negative_prompt: str | None = None
    media: tuple[MediaItem, ...] = ()
    template: str | None = None
    resolution: str | None = None  # None: the model's default
    duration: int | None = None  # None: the model's default
    ratio: str | None = None  # None: the model's default (models that take a ratio)
    shot_type: str | None = None  # None: the model's default, one shot (wan2.6 only)
    # wan2.7-videoedit: "auto" (the model decides from the prompt) or "origin" (keep the clip's
    # sound); None: the model's default, auto.
    audio_setting: str | None = None
    seed: int | None = None
    prompt_extend: bool = True
    watermark: bool = False
    # The seconds of input clips the provider bills on top of the output's (wan2.7-r2v's
    # reference clips, the clip wan2.7-videoedit edits), once they are read; None: not read yet,
    # or none billed. Not sent: it sets the quota held (`charged_seconds`).
    input_seconds: float | None = None

    @classmethod
    def build(cls, **fields: Any) -> GenerationRequest:
        """Validate `fields` into a request, raising InvalidInput with a human message."""
        try:
            return cls(**fields)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or None
            if field is None:
                # Translators: {problem} is the validator's explanation, in English.
                problem = _("The request is not valid: {problem}.", problem=first["msg"])
                raise InvalidInput(problem) from None
            # Translators: {field} is an option's name ("seed"); {problem} is the validator's
            # explanation, in English ("Input should be a valid integer").
            message = _("{field}: {problem}.", field=field, problem=first["msg"])
            raise InvalidInput(message, field=field) from None

    @field_validator("prompt", "negative_prompt", "template")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value if value and value.strip() else None

    @field_validator("resolution")
    @classmethod
    def _upper_resolution(cls, value: str | None) -> str | None:
        return value.upper() if value else None

    @model_validator(mode="after")
    def _check_against_catalogue(self) -> GenerationRequest:
        spec = MODELS.get(self.model)
        if spec is None:
            raise InvalidInput(
                # Translators: {models} is a list of model names ("wan2.7-i2v, wan2.6-i2v").
                _(
                    "Unknown model “{model}”; choose one of: {models}.",
                    model=self.model,
                    models=", ".join(spec.name for spec in offered()),
                ),
                field="model",
            )
        _check_texts(self, spec)
        _check_media(self, spec)
        _check_parameters(self, spec)
        return self

    @property
    def spec(self) -> ModelSpec:
        return MODELS[self.model]

    @property
    def media_types(self) -> frozenset[MediaType]:
        return frozenset(item.type for item in self.media)

    @property
    def resolved_resolution(self) -> str:
        return self.resolution or self.spec.default_resolution

    @property
    def resolved_ratio(self) -> str | None:
        """The shape asked for, for a model that takes one (else None: its picture's)."""
        return self.ratio or self.spec.default_ratio

    @property
    def resolved_duration(self) -> int:
        """The video's length: as asked, else the model's default; for a model whose video is
        as long as its input clip (wan2.7-videoedit), the clip's, once read (before: the
        shortest clip it takes)."""
        spec = self.spec
        if self.duration is None and spec.duration_from_input:
            if self.input_seconds is not None:
                return max(1, round(self.input_seconds))
            return math.ceil(spec.clip.min_seconds) if spec.clip else spec.default_duration
        return self.duration or spec.default_duration

    @property
    def charged_seconds(self) -> int:
        """The seconds this video counts against a quota: its length, plus the input clips'
        seconds where the provider bills them (at most the model's cap; before the clips are
        read, each counts as the shortest clip the model takes). The final charge follows the
        provider's usage (`billed_seconds`)."""
        cap = self.spec.billed_input_cap
        if cap is None:
            return self.resolved_duration
        if self.input_seconds is not None:
            extra = self.input_seconds
        else:
            clips = sum(1 for item in self.media if item.type in _BILLED_CLIPS)
            extra = clips * (self.spec.clip.min_seconds if self.spec.clip else 0)
        return self.resolved_duration + math.ceil(min(cap, extra))

    @property
    def uses_oss(self) -> bool:
        """Whether any input is a temporary oss:// file (the submit then needs a resolve header)."""
        return any(
            url.startswith("oss://")
            for item in self.media
            for url in (item.url, item.reference_voice or "")
        )

    @property
    def references(self) -> tuple[MediaItem, ...]:
        """The references, in the order given (the prompt names them in this order)."""
        return tuple(item for item in self.media if item.type in REFERENCES)

    def url_for(self, slot: Slot) -> str | None:
        """Return the URL given for `slot` (a role given once, or a reference or its voice)."""
        return self.slot_urls().get(slot)

    def slot_urls(self) -> dict[Slot, str]:
        """Every input's URL by its slot: a role given once by its role; the n-th reference
        (and its voice) by its place."""
        urls: dict[Slot, str] = {}
        number = 0
        for item in self.media:
            if item.type not in REFERENCES:
                urls[item.type] = item.url
                continue
            number += 1
            urls[Reference(number, item.type)] = item.url
            if item.reference_voice is not None:
                urls[Reference(number, item.type, voice=True)] = item.reference_voice
        return urls

    def with_urls(self, urls: Mapping[Slot, str]) -> GenerationRequest:
        """Return a copy whose media point at `urls` (for example after uploading local files)."""
        media: list[MediaItem] = []
        number = 0
        for item in self.media:
            if item.type not in REFERENCES:
                media.append(item.model_copy(update={"url": urls.get(item.type, item.url)}))
                continue
            number += 1
            url = urls.get(Reference(number, item.type), item.url)
            voice = item.reference_voice
            if voice is not None:
                voice = urls.get(Reference(number, item.type, voice=True), voice)
            media.append(item.model_copy(update={"url": url, "reference_voice": voice}))
        return self.model_copy(update={"media": tuple(media)})

    def fingerprint(self, input_digests: Mapping[Slot, bytes]) -> str:
        """What this request would make, as one hash: its parameters and its inputs' bytes (each
        input's SHA-256 digest given, by its slot); not where the inputs are (URLs differ between
        uploads of the same bytes)."""
        digest = hashlib.sha256()
        body = self.body()
        for field in ("media", "img_url", "audio_url", "first_frame_url", "last_frame_url"):
            body["input"].pop(field, None)
        described = [item.reference_description for item in self.references]
        if any(described):  # words about a reference change the video; not in the URLs' place
            body["input"]["reference_descriptions"] = described
        digest.update(json.dumps(body, sort_keys=True).encode())
        for slot in sorted(input_digests, key=lambda slot: slot.value):
            digest.update(slot.value.encode())
            digest.update(input_digests[slot])
        return digest.hexdigest()

    def body(self) -> dict[str, Any]:
        """Render the JSON body DashScope documents for this model family."""
        spec = self.spec
        input_: dict[str, Any] = {}
        if self.prompt:
            input_["prompt"] = self.prompt
        if self.negative_prompt:
            input_["negative_prompt"] = self.negative_prompt
        ordered = sorted(self.media, key=lambda item: _rank(item.type))
        if spec.input_style is InputStyle.MEDIA:
            input_["media"] = [item.sent() for item in ordered]
        elif spec.input_style is InputStyle.TEXT:
            if audio := self.url_for(MediaType.DRIVING_AUDIO):
                input_["audio_url"] = audio
        elif spec.input_style is InputStyle.IMG_URL:
            input_["img_url"] = self.url_for(MediaType.FIRST_FRAME)
            if audio := self.url_for(MediaType.DRIVING_AUDIO):
                input_["audio_url"] = audio
        else:
            input_["first_frame_url"] = self.url_for(MediaType.FIRST_FRAME)
            if last := self.url_for(MediaType.LAST_FRAME):
                input_["last_frame_url"] = last
            if self.template:
                input_["template"] = self.template

        parameters: dict[str, Any] = {"resolution": self.resolved_resolution}
        if ratio := self.resolved_ratio:
            parameters["ratio"] = ratio
        if spec.duration_settable and not (spec.duration_from_input and self.duration is None):
            parameters["duration"] = self.resolved_duration
        # "single" is the documented default: left out, so a request that says it is the same
        # body (and fingerprint) as one that does not.
        if self.shot_type == "multi":
            parameters["shot_type"] = self.shot_type
        if self.audio_setting is not None:
            parameters["audio_setting"] = self.audio_setting
        # Sent as asked, with an effect template too (as the official SDK does): never dropped.
        parameters["prompt_extend"] = self.prompt_extend
        parameters["watermark"] = self.watermark
        if self.seed is not None:
            parameters["seed"] = self.seed
        return {"model": self.model, "input": input_, "parameters": parameters}


def continuation_duration(clip_seconds: float, spec: ModelSpec) -> int:
    """Pick a total length for continuing a clip: the clip plus the model's default, within limits."""
    return min(max(spec.durations), math.ceil(clip_seconds) + spec.default_duration)


def check_clip_fits(request: GenerationRequest, clip_seconds: float) -> None:
    """Refuse a continuation whose total duration would not be longer than the clip itself.

    The provider counts the input clip in `duration`: a 2 s clip with duration 12 gives 12 s of
    video, 10 s of it new.
    """
    longest = max(request.spec.durations)
    if request.resolved_duration <= clip_seconds:
        shortest = math.floor(clip_seconds) + 1
        length = f"{clip_seconds:.1f}"
        if shortest > longest:
            raise InvalidInput(
                _(
                    "The clip is {length} s long, which leaves no room to continue it: {model} "
                    "makes videos of at most {longest} s. Send a shorter clip.",
                    length=length,
                    model=request.model,
                    longest=longest,
                ),
                field="first_clip",
            )
        raise InvalidInput(
            # Translators: a continued video's duration is its whole length, the given clip
            # included: a 6 s clip continued to 5 s would add nothing.
            _(
                "The clip is {length} s long and the duration counts the clip, so {duration} s "
                "adds nothing; choose a duration of {shortest}–{longest} s.",
                length=length,
                duration=request.resolved_duration,
                shortest=shortest,
                longest=longest,
            ),
            field="duration",
        )


def check_edit_fits(request: GenerationRequest, clip_seconds: float) -> None:
    """Refuse an edit asked longer than its clip: the duration cuts the clip from its start,
    it cannot make it longer."""
    if request.duration is not None and request.duration > clip_seconds + 0.5:
        raise InvalidInput(
            # Translators: an edit of a clip can cut it shorter, not make it longer; {length}
            # is the clip's length in seconds ("3.0").
            _(
                "The clip is {length} s long; an edit can cut it, not make it longer: choose a "
                "duration of at most {longest} s, or leave it out to keep the clip's length.",
                length=f"{clip_seconds:.1f}",
                longest=max(1, math.floor(clip_seconds + 0.5)),
            ),
            field="duration",
        )


def _check_texts(request: GenerationRequest, spec: ModelSpec) -> None:
    if spec.prompt_required and not request.prompt:
        raise InvalidInput(
            # Translators: {model} makes a video from words alone ("wan2.7-t2v").
            _("{model} makes the video from your prompt alone: write a prompt.", model=spec.name),
            field="prompt",
        )
    if request.prompt and len(request.prompt) > spec.prompt_max:
        raise InvalidInput(
            _(
                "The prompt is {length} characters long; {model} takes at most {limit} characters.",
                length=len(request.prompt),
                model=spec.name,
                limit=spec.prompt_max,
            ),
            field="prompt",
        )
    if request.negative_prompt and len(request.negative_prompt) > spec.negative_prompt_max:
        raise InvalidInput(
            # Translators: the negative prompt says what the video should not show.
            _(
                "The negative prompt is {length} characters long; {model} takes at most {limit} "
                "characters.",
                length=len(request.negative_prompt),
                model=spec.name,
                limit=spec.negative_prompt_max,
            ),
            field="negative_prompt",
        )


def _check_media(request: GenerationRequest, spec: ModelSpec) -> None:
    seen: set[MediaType] = set()
    _check_references(request, spec)
    for item in request.media:
        name, field = item.type.name_text, item.type.value
        if item.type in seen and not item.type.repeats:
            raise InvalidInput(
                # Translators: {input} is an input's name ("First frame").
                _("{input}: given twice; give each input only once.", input=name),
                field=field,
            )
        if item.type not in spec.media_types:
            raise InvalidInput(
                # Translators: {input} is an input's name ("Driving audio").
                _("{input}: {model} does not take this input.", input=name, model=spec.name),
                field=field,
            )
        if not item.url.strip():
            # Translators: {input} is an input's name ("First frame").
            raise InvalidInput(_("{input}: no URL given.", input=name), field=field)
        seen.add(item.type)

    given = frozenset(seen)
    if request.template:
        if not spec.templates:
            with_templates = [m.name for m in MODELS.values() if m.templates]
            if len(with_templates) == 1:
                # Translators: {other} is the name of the model that has effect templates.
                refusal = _(
                    "{model} has no effect templates; use {other}.",
                    model=spec.name,
                    other=with_templates[0],
                )
            else:
                # Translators: {models} is a list of model names ("wanx2.1-kf2v-plus, …").
                refusal = _(
                    "{model} has no effect templates; use one of: {models}.",
                    model=spec.name,
                    models=", ".join(with_templates),
                )
            raise InvalidInput(refusal, field="template")
        if request.template not in spec.templates:
            raise InvalidInput(
                # Translators: {templates} is a list of template names ("mech1, hanfu-1").
                _(
                    "Unknown effect template “{template}”; {model} has: {templates}.",
                    template=request.template,
                    model=spec.name,
                    templates=", ".join(spec.templates),
                ),
                field="template",
            )
        if request.prompt or request.negative_prompt:
            raise InvalidInput(
                _("Effect templates ignore the prompt; leave the prompt and negative prompt out."),
                field="prompt",
            )
        allowed = spec.template_combinations
    else:
        allowed = spec.combinations
    if given not in allowed:
        raise InvalidInput(
            # Translators: two sentences, one after the other: what the model takes, and what
            # was given.
            _(
                "{takes} {gave}",
                takes=_takes(spec, allowed, request.template),
                gave=_("You gave: {inputs}.", inputs=combination_name(given))
                if given
                else _("You gave no inputs."),
            ),
            field="media",
        )


def _check_references(request: GenerationRequest, spec: ModelSpec) -> None:
    """At most the model's number of references; a voice or a description only on a reference,
    and only for a model that takes them."""
    references = request.references
    if spec.max_references and len(references) > spec.max_references:
        raise InvalidInput(
            # Translators: references are the pictures and clips of people, pets or things a
            # member gives to put in the video; {count} and {limit} are numbers.
            _(
                "You gave {count} references; {model} takes at most {limit} images and clips "
                "in all.",
                count=len(references),
                model=spec.name,
                limit=spec.max_references,
            ),
            field="media",
        )
    number = 0
    for item in request.media:
        if item.type in REFERENCES:
            number += 1
        extras = item.reference_voice is not None or item.reference_description is not None
        if not extras:
            continue
        if item.type not in REFERENCES or not spec.reference_voices:
            raise InvalidInput(
                # Translators: {model} is a model's name; a reference voice is an audio file
                # whose voice a person in the video should have.
                _(
                    "{model} takes a voice or a description only with a reference image or clip.",
                    model=spec.name,
                ),
                field="reference_voice",
            )
        if item.reference_voice is not None and not item.reference_voice.strip():
            name = Reference(number, item.type, voice=True).name_text
            # Translators: {input} is an input's name ("Voice of reference 2").
            raise InvalidInput(_("{input}: no URL given.", input=name), field="reference_voice")


def _takes(
    spec: ModelSpec, allowed: tuple[frozenset[MediaType], ...], template: str | None
) -> Text:
    """What `spec` takes (with `template`, if given): "wan2.7-i2v takes one of these sets of
    inputs: First frame; First frame + Last frame; …"."""
    options = combinations_name(allowed)
    one = len(allowed) == 1
    if template and one:
        # Translators: {template} is an effect template's name ("mech1"); {inputs} names the
        # inputs ("First frame", "First frame + Last frame").
        return _(
            "With the {template} effect, {model} takes these inputs: {inputs}.",
            template=template,
            model=spec.name,
            inputs=options,
        )
    if template:
        # Translators: {template} is an effect template's name ("mech1"); {options} names sets
        # of inputs, separated by semicolons ("First frame; First frame + Last frame").
        return _(
            "With the {template} effect, {model} takes one of these sets of inputs: {options}.",
            template=template,
            model=spec.name,
            options=options,
        )
    if one:
        # Translators: {inputs} names the inputs ("First frame + Last frame").
        return _("{model} takes these inputs: {inputs}.", model=spec.name, inputs=options)
    # Translators: {options} names sets of inputs, separated by semicolons ("First frame;
    # First frame + Last frame").
    return _(
        "{model} takes one of these sets of inputs: {options}.", model=spec.name, options=options
    )


def _check_parameters(request: GenerationRequest, spec: ModelSpec) -> None:
    if request.resolution is not None and request.resolution not in spec.resolutions:
        if len(spec.resolutions) == 1:
            # Translators: {resolution} and {only} are video sizes ("480P", "720P").
            refusal = _(
                "{model} does not make {resolution} videos; it makes only {only}.",
                model=spec.name,
                resolution=request.resolution,
                only=spec.resolutions[0],
            )
        else:
            # Translators: {resolution} is a video size ("480P"); {resolutions} is a list of them
            # ("720P, 1080P").
            refusal = _(
                "{model} does not make {resolution} videos; choose one of: {resolutions}.",
                model=spec.name,
                resolution=request.resolution,
                resolutions=", ".join(spec.resolutions),
            )
        raise InvalidInput(refusal, field="resolution")
    if (
        request.duration is not None
        and request.duration in spec.durations
        and request.duration not in spec.durations_for(request.media_types)
    ):
        raise InvalidInput(
            # Translators: {durations} is the lengths the model can make with a reference clip
            # ("2–10 s"); a reference clip is a video of a person, pet or thing to put in it.
            _(
                "With a reference clip, {model} makes videos of {durations}, not {duration} s.",
                model=spec.name,
                durations=durations_text(spec.durations_for(request.media_types)),
                duration=request.duration,
            ),
            field="duration",
        )
    if request.duration is not None and request.duration not in spec.durations:
        if not spec.duration_settable:
            message = _(
                "{model} always makes {seconds} s videos; leave the duration out.",
                model=spec.name,
                seconds=spec.default_duration,
            )
        else:
            # Translators: {durations} is the lengths the model can make: "2–15 s", "5, 10 or
            # 15 s".
            message = _(
                "{model} makes videos of {durations}, not {duration} s.",
                model=spec.name,
                durations=spec.duration_text,
                duration=request.duration,
            )
        raise InvalidInput(message, field="duration")
    if request.ratio is not None and request.ratio not in spec.ratios:
        if spec.ratios:
            # Translators: {ratio} is a video's shape, width:height ("2:1"); {ratios} is a list
            # of them ("16:9, 9:16, 1:1").
            refusal = _(
                "{model} does not make {ratio} videos; choose one of: {ratios}.",
                model=spec.name,
                ratio=request.ratio,
                ratios=", ".join(spec.ratios),
            )
        else:
            refusal = _(
                "{model} takes the shape of your picture; leave the ratio out.", model=spec.name
            )
        raise InvalidInput(refusal, field="ratio")
    if request.shot_type is not None:
        _check_shot_type(request, spec)
    if request.audio_setting is not None and request.audio_setting not in spec.audio_settings:
        if spec.audio_settings:
            # Translators: {setting} is what was asked ("loud"); {settings} is a list of them
            # ("auto, origin").
            refusal = _(
                "{model} has no audio setting “{setting}”; choose one of: {settings}.",
                model=spec.name,
                setting=request.audio_setting,
                settings=", ".join(spec.audio_settings),
            )
        else:
            # Translators: {model} is a model's name; the audio setting says whether an edited
            # clip keeps its own sound.
            refusal = _("{model} does not take an audio setting; leave it out.", model=spec.name)
        raise InvalidInput(refusal, field="audio_setting")
    if request.seed is not None and not 0 <= request.seed <= SEED_MAX:
        raise InvalidInput(
            _("The seed must be a whole number from 0 to {highest}.", highest=SEED_MAX),
            field="seed",
        )


def _check_shot_type(request: GenerationRequest, spec: ModelSpec) -> None:
    """A shot type only on a model that takes one, and "multi" only with the prompt extended
    (the provider ignores it otherwise)."""
    if not spec.shot_types:
        # Translators: {model} is a model's name; a shot type is how the video is cut: one
        # continuous shot or several.
        refusal = _("{model} does not take a shot type; leave it out.", model=spec.name)
        raise InvalidInput(refusal, field="shot_type")
    if request.shot_type not in spec.shot_types:
        # Translators: {shot_type} is what was asked ("triple"); {shot_types} is a list of them
        # ("single, multi").
        refusal = _(
            "{model} has no shot type “{shot_type}”; choose one of: {shot_types}.",
            model=spec.name,
            shot_type=request.shot_type,
            shot_types=", ".join(spec.shot_types),
        )
        raise InvalidInput(refusal, field="shot_type")
    if request.shot_type == "multi" and not request.prompt_extend:
        # Translators: prompt_extend is an option's name: write it as that option is named in
        # your language.
        refusal = _(
            "Multi-shot videos need the prompt extended: turn prompt_extend on, or ask for a "
            "single shot."
        )
        raise InvalidInput(refusal, field="shot_type")
