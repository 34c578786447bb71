"""A generation request, checked against the model catalogue and rendered to DashScope's JSON body.

Catalogue checks raise `InvalidInput` with a message for people; pydantic's own type errors
(a seed that is not a number) are turned into `InvalidInput` by `GenerationRequest.build`.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from bot.catalog import (
    MODELS,
    InputStyle,
    MediaType,
    ModelSpec,
    combination_text,
)
from bot.errors import InvalidInput

SEED_MAX = 2_147_483_647


class MediaItem(BaseModel):
    """One input file: its role and where the provider can fetch it (http(s), oss:// or data:)."""

    model_config = ConfigDict(frozen=True)

    type: MediaType
    url: str


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
    seed: int | None = None
    prompt_extend: bool = True
    watermark: bool = False

    @classmethod
    def build(cls, **fields: Any) -> GenerationRequest:
        """Validate `fields` into a request, raising InvalidInput with a human message."""
        try:
            return cls(**fields)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or None
            raise InvalidInput(f"{field}: {first['msg']}.", field=field) from None

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
                f"Unknown model {self.model!r}; choose one of: {', '.join(MODELS)}.", field="model"
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
    def resolved_duration(self) -> int:
        return self.duration or self.spec.default_duration

    @property
    def uses_oss(self) -> bool:
        """Whether any input is a temporary oss:// file (the submit then needs a resolve header)."""
        return any(item.url.startswith("oss://") for item in self.media)

    def url_for(self, media_type: MediaType) -> str | None:
        """Return the URL given for `media_type`, if any."""
        return next((item.url for item in self.media if item.type == media_type), None)

    def with_urls(self, urls: dict[MediaType, str]) -> GenerationRequest:
        """Return a copy whose media point at `urls` (for example after uploading local files)."""
        media = tuple(
            MediaItem(type=item.type, url=urls.get(item.type, item.url)) for item in self.media
        )
        return self.model_copy(update={"media": media})

    def body(self) -> dict[str, Any]:
        """Render the JSON body DashScope documents for this model family."""
        spec = self.spec
        input_: dict[str, Any] = {}
        if self.prompt:
            input_["prompt"] = self.prompt
        if self.negative_prompt:
            input_["negative_prompt"] = self.negative_prompt
        ordered = sorted(self.media, key=lambda item: list(MediaType).index(item.type))
        if spec.input_style is InputStyle.MEDIA:
            input_["media"] = [{"type": item.type.value, "url": item.url} for item in ordered]
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
        if spec.duration_settable:
            parameters["duration"] = self.resolved_duration
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
        if shortest > longest:
            raise InvalidInput(
                f"The first clip is {clip_seconds:.1f} s long, which leaves no room to continue it "
                f"within {request.model}'s {longest} s; send a shorter clip.",
                field="first_clip",
            )
        raise InvalidInput(
            f"The first clip is {clip_seconds:.1f} s long and the duration counts the clip, so "
            f"{request.resolved_duration} s adds nothing; choose a duration of "
            f"{shortest}–{longest} s.",
            field="duration",
        )


def _check_texts(request: GenerationRequest, spec: ModelSpec) -> None:
    for field, text, limit in (
        ("prompt", request.prompt, spec.prompt_max),
        ("negative_prompt", request.negative_prompt, spec.negative_prompt_max),
    ):
        if text and len(text) > limit:
            name = field.replace("_", " ")
            raise InvalidInput(
                f"The {name} is {len(text)} characters; {spec.name} takes at most {limit}.",
                field=field,
            )


def _check_media(request: GenerationRequest, spec: ModelSpec) -> None:
    seen: set[MediaType] = set()
    for item in request.media:
        if item.type in seen:
            raise InvalidInput(
                f"{item.type.label.capitalize()} is given twice; give each input at most once.",
                field=item.type.value,
            )
        if item.type not in spec.media_types:
            raise InvalidInput(
                f"{spec.name} does not take {item.type.label}.", field=item.type.value
            )
        if not item.url.strip():
            raise InvalidInput(f"{item.type.label.capitalize()} has no URL.", field=item.type.value)
        seen.add(item.type)

    given = frozenset(seen)
    if request.template:
        if not spec.templates:
            with_templates = [m.name for m in MODELS.values() if m.templates]
            raise InvalidInput(
                f"{spec.name} has no effect templates; use {' or '.join(with_templates)}.",
                field="template",
            )
        if request.template not in spec.templates:
            raise InvalidInput(
                f"Unknown effect template {request.template!r}; {spec.name} has: "
                f"{', '.join(spec.templates)}.",
                field="template",
            )
        if request.prompt or request.negative_prompt:
            raise InvalidInput(
                "Effect templates ignore the prompt; leave the prompt and negative prompt out.",
                field="prompt",
            )
        allowed = spec.template_combinations
    else:
        allowed = spec.combinations
    if given not in allowed:
        what = f"with the {request.template} effect " if request.template else ""
        options = "; ".join(combination_text(c) for c in allowed)
        gave = combination_text(given) if given else "nothing"
        raise InvalidInput(
            f"{spec.name} {what}takes {options}; you gave {gave}.",
            field="media",
        )


def _check_parameters(request: GenerationRequest, spec: ModelSpec) -> None:
    if request.resolution is not None and request.resolution not in spec.resolutions:
        raise InvalidInput(
            f"{spec.name} makes {' or '.join(spec.resolutions)} video, not {request.resolution}.",
            field="resolution",
        )
    if request.duration is not None and request.duration not in spec.durations:
        if not spec.duration_settable:
            message = f"{spec.name} always makes {spec.default_duration} s videos; leave the duration out."
        else:
            message = f"{spec.name} makes videos of {spec.duration_text}, not {request.duration} s."
        raise InvalidInput(message, field="duration")
    if request.seed is not None and not 0 <= request.seed <= SEED_MAX:
        raise InvalidInput(f"The seed must be a whole number from 0 to {SEED_MAX}.", field="seed")
