"""Every Wan image-to-video model wanbot knows: endpoints, media combinations, limits, defaults.

This module is data. Validation (requests.py, media.py), the simulator, the command choices and
the help text all read it, so a model's limits are written down exactly once. Figures come from
the provider's documentation (see ../shared/dashscope-api.md for sources).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from bot.i18n import Text, _

MB = 1024 * 1024

VIDEO_GENERATION_PATH = "/services/aigc/video-generation/video-synthesis"
IMAGE2VIDEO_PATH = "/services/aigc/image2video/video-synthesis"


class MediaType(StrEnum):
    """The roles an input file can play, named as in wan2.7's `media` array."""

    FIRST_FRAME = "first_frame"
    LAST_FRAME = "last_frame"
    DRIVING_AUDIO = "driving_audio"
    FIRST_CLIP = "first_clip"
    # wan2.7-videoedit: the clip to restyle or change.
    VIDEO = "video"
    # wan2.7-r2v: pictures and clips of people, pets, objects to put in a new scene (and the
    # pictures guiding an edit). Several may be given, in an order that matters (the prompt
    # names them "Image 1", "Video 1").
    REFERENCE_IMAGE = "reference_image"
    REFERENCE_VIDEO = "reference_video"

    @property
    def label(self) -> str:
        """Its English name in a sentence, for logs and the simulator: "the first frame"."""
        return {
            MediaType.FIRST_FRAME: "the first frame",
            MediaType.LAST_FRAME: "the last frame",
            MediaType.DRIVING_AUDIO: "the driving audio",
            MediaType.FIRST_CLIP: "the first clip",
            MediaType.REFERENCE_IMAGE: "the reference image",
            MediaType.REFERENCE_VIDEO: "the reference video",
            MediaType.VIDEO: "the video to edit",
        }[self]

    @property
    def repeats(self) -> bool:
        """Whether a request may give several of it (references), each in its own place."""
        return self in REFERENCES

    @property
    def name_text(self) -> Text:
        """Its name for people, standing alone (a label, the start of a message): "First frame"."""
        return _MEDIA_NAMES[self]


_MEDIA_NAMES: dict[MediaType, Text] = {
    # Translators: an input file's role, standing alone as a label ("First frame: the file is
    # empty (0 bytes)."): the picture a video starts from.
    MediaType.FIRST_FRAME: _("First frame"),
    # Translators: an input file's role, standing alone as a label: the picture a video ends on.
    MediaType.LAST_FRAME: _("Last frame"),
    # Translators: an input file's role, standing alone as a label: a voice or song that drives
    # the video's motion and lip sync.
    MediaType.DRIVING_AUDIO: _("Driving audio"),
    # Translators: an input file's role, standing alone as a label: a video clip that the new
    # video continues.
    MediaType.FIRST_CLIP: _("First clip"),
    # Translators: an input file's role, standing alone as a label: a picture of a person, pet
    # or object to put into the new video.
    MediaType.REFERENCE_IMAGE: _("Reference image"),
    # Translators: an input file's role, standing alone as a label: a clip of a person, pet or
    # object to put into the new video.
    MediaType.REFERENCE_VIDEO: _("Reference video"),
    # Translators: an input file's role, standing alone as a label: the clip a member asks to
    # restyle or change.
    MediaType.VIDEO: _("Clip to edit"),
}

# The roles that may repeat, each item in its place: the references of wan2.7-r2v.
REFERENCES = frozenset({MediaType.REFERENCE_IMAGE, MediaType.REFERENCE_VIDEO})


@dataclass(frozen=True)
class Reference:
    """The `number`-th reference of a request (1-based, in the order given), where several of
    the same role may be given: its picture or clip (`role` REFERENCE_IMAGE or REFERENCE_VIDEO),
    or, with `voice`, the voice given for it (an audio file: only its timbre is used)."""

    number: int
    role: MediaType = field(compare=False)  # the number alone tells references apart
    voice: bool = False

    @property
    def value(self) -> str:
        """Its key where inputs are named by their place: "reference_2", "reference_2_voice"."""
        return f"reference_{self.number}" + ("_voice" if self.voice else "")

    @property
    def file_role(self) -> MediaType:
        """The kind of file it is read and checked as (a voice is driving audio's kind)."""
        return MediaType.DRIVING_AUDIO if self.voice else self.role

    @property
    def label(self) -> str:
        """Its English name in a sentence: "reference 2", "the voice of reference 2"."""
        return f"the voice of reference {self.number}" if self.voice else f"reference {self.number}"

    @property
    def name_text(self) -> Text:
        """Its name for people, standing alone: "Reference 2", "Voice of reference 2"."""
        if self.voice:
            # Translators: the voice a member gave for their n-th reference, standing alone as a
            # label ("Voice of reference 2: the file is empty (0 bytes).").
            return _("Voice of reference {number}", number=self.number)
        # Translators: the n-th picture or clip a member gave to put in the video, standing
        # alone as a label ("Reference 2: the file is empty (0 bytes).").
        return _("Reference {number}", number=self.number)


# Where an input goes in a request: its role, for a role given once; its place among the
# references (and whether it is that reference's voice), for the roles that repeat.
Slot = MediaType | Reference


def role_of(slot: Slot) -> MediaType:
    """The kind of file `slot` holds, for reading and checking it."""
    return slot if isinstance(slot, MediaType) else slot.file_role


class InputStyle(StrEnum):
    """How a model family spells its inputs in the request body."""

    MEDIA = "media"  # wan2.7: input.media = [{type, url}, ...]
    IMG_URL = "img_url"  # wan2.6 and older i2v: input.img_url (+ input.audio_url)
    KEYFRAMES = "keyframes"  # kf2v: input.first_frame_url, input.last_frame_url, input.template
    TEXT = "text"  # t2v: input.prompt only (+ input.audio_url); no picture


class Region(StrEnum):
    BEIJING = "beijing"
    SINGAPORE = "singapore"
    US = "us"


ALL_REGIONS: tuple[Region, ...] = tuple(Region)

# The shapes a model that takes no picture can make (`parameters.ratio`), width:height.
RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4")


# How a wan2.6 model cuts its video (`parameters.shot_type`): one continuous shot (the default)
# or several; "multi" takes effect only with `prompt_extend` on (../shared/dashscope-api.md §7.4).
SHOT_TYPES: tuple[str, ...] = ("single", "multi")


def ratio_size(ratio: str) -> tuple[int, int]:
    """A ratio's width and height as numbers: "16:9" → (16, 9)."""
    width, height = ratio.split(":")
    return int(width), int(height)


REGION_BASE_URLS: dict[Region, str] = {
    Region.BEIJING: "https://dashscope.aliyuncs.com/api/v1",
    Region.SINGAPORE: "https://dashscope-intl.aliyuncs.com/api/v1",
    Region.US: "https://dashscope-us.aliyuncs.com/api/v1",
}


def region_of(base_url: str) -> Region | None:
    """The region a base URL is the public endpoint of (None: a workspace domain, a proxy, the
    simulator: not known here)."""
    return next((r for r, url in REGION_BASE_URLS.items() if base_url.rstrip("/") == url), None)


@dataclass(frozen=True)
class ImageLimits:
    formats: frozenset[str]  # Pillow format names
    min_side: int
    max_side: int
    max_bytes: int
    max_aspect: float | None  # longest side / shortest side; None when undocumented


@dataclass(frozen=True)
class AudioLimits:
    formats: frozenset[str]  # "wav", "mp3"
    min_seconds: float
    max_seconds: float
    max_bytes: int


@dataclass(frozen=True)
class ClipLimits:
    formats: frozenset[str]  # "mp4", "mov"
    min_seconds: float
    max_seconds: float
    min_side: int
    max_side: int
    max_aspect: float
    max_bytes: int


@dataclass(frozen=True)
class Retirement:
    """A model the provider no longer serves (or soon will not): when, and who says so. A claim
    is data, with its source, so a third party's word is not mistaken for the provider's."""

    source: str  # where the claim comes from: a notice's address, or the operator's setting
    on: date | None = None  # the day it stops (stopped) answering, when the source names one


@dataclass(frozen=True)
class ModelSpec:
    name: str
    # What the model does, for people: the model list and the command choices (str(): English).
    summary: Text = field(compare=False)
    family: str  # "wan2.7", "wan2.6", "wan2.2", "wan2.1": decides the shape of `usage`
    endpoint: str
    input_style: InputStyle
    # Each allowed set of media types; any other set is refused.
    combinations: tuple[frozenset[MediaType], ...]
    resolutions: tuple[str, ...]
    default_resolution: str
    durations: tuple[int, ...]
    default_duration: int
    duration_settable: bool  # False: fixed length, `duration` is not sent
    prompt_max: int
    negative_prompt_max: int
    image: ImageLimits
    audio: AudioLimits | None
    clip: ClipLimits | None
    has_sound: bool  # whether the output video carries an audio track
    templates: tuple[str, ...] = ()
    # Combinations that are valid only with an effect template (and then only with one).
    template_combinations: tuple[frozenset[MediaType], ...] = ()
    concurrency: int = 2
    submit_per_second: int = 2
    # Provider seconds for the default resolution and duration: our estimate within the docs'
    # "typically 1–5 minutes" (flash models faster); only a starting point, which the engine
    # checks early and replaces with what it learns.
    typical_seconds: float = 150.0
    # Set when the model is retired: it is no longer offered, and a job waiting for it ends
    # refunded. Only on the provider's own notice (../shared/dashscope-api.md §7.8); an operator
    # retires a model without a release with WANBOT_RETIRED_MODELS.
    retired: Retirement | None = field(default=None, compare=False)
    # The shapes it can be asked for (`parameters.ratio`); () for a model that follows its
    # first frame's shape.
    ratios: tuple[str, ...] = ()
    default_ratio: str | None = None
    # How it can be asked to cut the video (`parameters.shot_type`, SHOT_TYPES); () for none.
    shot_types: tuple[str, ...] = ()
    prompt_required: bool = False  # no picture to start from: the prompt is the request
    # Where DashScope serves it (a key of another region is refused by the provider).
    regions: tuple[Region, ...] = ALL_REGIONS
    # References (REFERENCES roles): how many it takes in all (0: none), and whether each may
    # carry a voice of its own (`reference_voice`, read with the `audio` limits) and a
    # description (`reference_description`).
    max_references: int = 0
    reference_voices: bool = False
    # The lengths it makes when an input of a role is given, where they differ from `durations`
    # (wan2.7-r2v: 2–10 s with a reference clip).
    durations_with: tuple[tuple[MediaType, tuple[int, ...]], ...] = ()
    # The input clips' seconds the provider bills on top of the output's, at most this many in
    # all (None: input is free). Charged from the answer's `usage.duration`.
    billed_input_cap: float | None = None
    # True: a duration left out is not sent, and the video is as long as its input clip
    # (wan2.7-videoedit).
    duration_from_input: bool = False
    # How it can be asked to treat the input's sound (`parameters.audio_setting`); () for none.
    audio_settings: tuple[str, ...] = ()

    @property
    def media_types(self) -> frozenset[MediaType]:
        """Every media type this model takes in some combination."""
        return frozenset().union(*self.combinations, *self.template_combinations)

    @property
    def duration_text(self) -> Text:
        """The allowed durations as a person reads them: "2–15 s", "5, 10 or 15 s", "5 s"
        (`str()` is English)."""
        return durations_text(self.durations)

    def max_bytes(self, media_type: MediaType) -> int:
        """The largest file of `media_type` this model takes."""
        if media_type is MediaType.DRIVING_AUDIO and self.audio:
            return self.audio.max_bytes
        if (
            media_type in (MediaType.FIRST_CLIP, MediaType.REFERENCE_VIDEO, MediaType.VIDEO)
            and self.clip
        ):
            return self.clip.max_bytes
        return self.image.max_bytes

    def accepts(self, combination: frozenset[MediaType], *, template: bool = False) -> bool:
        """Whether a request with exactly these media (and an effect template, with `template`)
        is one this model takes."""
        return combination in (self.template_combinations if template else self.combinations)

    def durations_for(self, combination: frozenset[MediaType]) -> tuple[int, ...]:
        """The lengths this model makes from `combination`. A continued clip counts in the
        duration (a 2 s clip continued to 12 s gives 10 s of new video), so with a first clip
        only lengths longer than the shortest clip it takes can work."""
        if MediaType.FIRST_CLIP in combination and self.clip is not None:
            shortest_clip = self.clip.min_seconds
            return tuple(d for d in self.durations if d > shortest_clip)
        for media_type, durations in self.durations_with:
            if media_type in combination:
                return durations
        return self.durations


def durations_text(values: tuple[int, ...]) -> Text:
    """Lengths in seconds as a person reads them: "2–15 s", "5, 10 or 15 s", "5 s"."""
    if len(values) == 1:
        # Translators: a video's length in seconds, "5 s".
        return _("{seconds} s", seconds=values[0])
    if values == tuple(range(values[0], values[-1] + 1)) and len(values) > 3:
        # Translators: the lengths a model can make, in seconds: "2–15 s".
        return _("{shortest}–{longest} s", shortest=values[0], longest=values[-1])
    # Translators: the lengths a model can make, in seconds: "5, 10 or 15 s"; {choices} is
    # a list of numbers ("5, 10").
    return _(
        "{choices} or {last} s",
        choices=", ".join(str(v) for v in values[:-1]),
        last=values[-1],
    )


_IMAGE_FORMATS = frozenset({"JPEG", "PNG", "BMP", "WEBP"})
_AUDIO = AudioLimits(
    formats=frozenset({"wav", "mp3"}), min_seconds=3, max_seconds=30, max_bytes=15 * MB
)
_FIRST = MediaType.FIRST_FRAME
_LAST = MediaType.LAST_FRAME
_AUDIO_IN = MediaType.DRIVING_AUDIO
_CLIP = MediaType.FIRST_CLIP

# wan2.7 takes 240–8000 px images of at most 20 MB, 1:8 to 8:1, and clips (mp4/mov) of 240–4096
# px a side up to 100 MB: 2–10 s to continue or to edit (a reference clip's own span differs).
_WAN27_IMAGE = ImageLimits(
    formats=_IMAGE_FORMATS, min_side=240, max_side=8000, max_bytes=20 * MB, max_aspect=8.0
)
_WAN27_CLIP = ClipLimits(
    formats=frozenset({"mp4", "mov"}),
    min_seconds=2,
    max_seconds=10,
    min_side=240,
    max_side=4096,
    max_aspect=8.0,
    max_bytes=100 * MB,
)
# wan2.6 and older take 360–2000 px images of at most 10 MB.
_LEGACY_IMAGE = ImageLimits(
    formats=_IMAGE_FORMATS, min_side=360, max_side=2000, max_bytes=10 * MB, max_aspect=None
)

WAN27_I2V = ModelSpec(
    name="wan2.7-i2v",
    # Translators: a model's summary in the model list and the /video model choices; keep it
    # short (Discord shows at most 100 characters with the model's name).
    summary=_(
        "First frame, first + last frame, driving audio, or continue a clip; 2–15 s with sound"
    ),
    family="wan2.7",
    endpoint=VIDEO_GENERATION_PATH,
    input_style=InputStyle.MEDIA,
    combinations=(
        frozenset({_FIRST}),
        frozenset({_FIRST, _AUDIO_IN}),
        frozenset({_FIRST, _LAST}),
        frozenset({_FIRST, _LAST, _AUDIO_IN}),
        frozenset({_CLIP}),
        frozenset({_CLIP, _LAST}),
    ),
    resolutions=("720P", "1080P"),
    default_resolution="1080P",
    durations=tuple(range(2, 16)),
    default_duration=5,
    duration_settable=True,
    prompt_max=5000,
    negative_prompt_max=500,
    image=_WAN27_IMAGE,
    audio=AudioLimits(
        formats=frozenset({"wav", "mp3"}), min_seconds=2, max_seconds=30, max_bytes=15 * MB
    ),
    clip=_WAN27_CLIP,
    has_sound=True,  # driven by the given audio, or dubbed by the model
    concurrency=5,  # not in the provider's rate-limit table; its siblings have 5
    submit_per_second=5,
    typical_seconds=120.0,
)

WAN26_I2V_FLASH = ModelSpec(
    name="wan2.6-i2v-flash",
    # Translators: a model's summary in the model list and the /video model choices; keep it
    # short (Discord shows at most 100 characters with the model's name).
    summary=_("Fast first-frame video, optional audio track from your audio; 2–15 s"),
    family="wan2.6",
    endpoint=VIDEO_GENERATION_PATH,
    input_style=InputStyle.IMG_URL,
    combinations=(frozenset({_FIRST}), frozenset({_FIRST, _AUDIO_IN})),
    resolutions=("720P", "1080P"),
    default_resolution="1080P",
    durations=tuple(range(2, 16)),
    default_duration=5,
    duration_settable=True,
    prompt_max=1500,
    negative_prompt_max=500,
    image=_LEGACY_IMAGE,
    audio=_AUDIO,
    clip=None,
    has_sound=True,
    concurrency=5,
    submit_per_second=5,
    typical_seconds=60.0,
    shot_types=SHOT_TYPES,
)

WAN26_I2V = ModelSpec(
    name="wan2.6-i2v",
    # Translators: a model's summary in the model list and the /video model choices; keep it
    # short (Discord shows at most 100 characters with the model's name).
    summary=_("First-frame video with sound, optional audio from your audio; 5, 10 or 15 s"),
    family="wan2.6",
    endpoint=VIDEO_GENERATION_PATH,
    input_style=InputStyle.IMG_URL,
    combinations=(frozenset({_FIRST}), frozenset({_FIRST, _AUDIO_IN})),
    resolutions=("720P", "1080P"),
    default_resolution="1080P",
    durations=(5, 10, 15),
    default_duration=5,
    duration_settable=True,
    prompt_max=1500,
    negative_prompt_max=500,
    image=_LEGACY_IMAGE,
    audio=_AUDIO,
    clip=None,
    has_sound=True,
    concurrency=5,
    submit_per_second=5,
    typical_seconds=150.0,
    shot_types=SHOT_TYPES,
)

WAN22_KF2V_FLASH = ModelSpec(
    name="wan2.2-kf2v-flash",
    # Translators: a model's summary in the model list and the /video model choices; keep it
    # short (Discord shows at most 100 characters with the model's name).
    summary=_("Fast silent video between a first and a last frame; 5 s"),
    family="wan2.2",
    endpoint=IMAGE2VIDEO_PATH,
    input_style=InputStyle.KEYFRAMES,
    combinations=(frozenset({_FIRST, _LAST}),),
    resolutions=("480P", "720P", "1080P"),
    default_resolution="720P",
    durations=(5,),
    default_duration=5,
    duration_settable=False,
    prompt_max=800,
    negative_prompt_max=500,
    image=_LEGACY_IMAGE,
    audio=None,
    clip=None,
    has_sound=False,
    typical_seconds=60.0,
)

WANX21_KF2V_PLUS = ModelSpec(
    name="wanx2.1-kf2v-plus",
    # Translators: a model's summary in the model list and the /video model choices; keep it
    # short (Discord shows at most 100 characters with the model's name).
    summary=_("Silent video between two frames, or an effect template on one image; 5 s, 720P"),
    family="wan2.1",
    endpoint=IMAGE2VIDEO_PATH,
    input_style=InputStyle.KEYFRAMES,
    combinations=(frozenset({_FIRST, _LAST}),),
    resolutions=("720P",),
    default_resolution="720P",
    durations=(5,),
    default_duration=5,
    duration_settable=False,
    prompt_max=800,
    negative_prompt_max=500,
    image=_LEGACY_IMAGE,
    audio=None,
    clip=None,
    has_sound=False,
    # Documented for first/last-frame effects: mech1 ("mechanical awakening") and hanfu-1
    # ("Tang-style elegance"); the other three appear in the same effect list.
    templates=("mech1", "mech2", "hanfu-1", "solaron", "magazine"),
    template_combinations=(frozenset({_FIRST}),),
    typical_seconds=150.0,
)

WAN27_T2V = ModelSpec(
    name="wan2.7-t2v",
    # Translators: a model's summary in the model list and the /video model choices; keep it
    # short (Discord shows at most 100 characters with the model's name).
    summary=_("Video from a prompt alone, optionally driven by your audio; 2–15 s with sound"),
    family="wan2.7",
    endpoint=VIDEO_GENERATION_PATH,
    input_style=InputStyle.TEXT,
    # No picture: the prompt alone, or with a driving audio (lip sync, beat).
    combinations=(frozenset(), frozenset({_AUDIO_IN})),
    resolutions=("720P", "1080P"),
    default_resolution="1080P",
    durations=tuple(range(2, 16)),
    default_duration=5,
    duration_settable=True,
    prompt_max=5000,
    negative_prompt_max=500,
    image=_WAN27_IMAGE,  # takes no image; the family's limits, never used
    audio=_AUDIO,  # wav/mp3, 3–30 s, ≤ 15 MB; longer is cut, shorter leaves the rest silent
    clip=None,
    has_sound=True,  # the given audio, or music and sound the model makes
    concurrency=5,  # not in the provider's rate-limit table; its siblings have 5
    submit_per_second=5,
    typical_seconds=120.0,  # as wan2.7-i2v: no figure of its own published
    ratios=RATIOS,
    default_ratio="16:9",
    prompt_required=True,
    regions=(Region.BEIJING, Region.SINGAPORE),
)

_REF_IMAGE = MediaType.REFERENCE_IMAGE
_REF_VIDEO = MediaType.REFERENCE_VIDEO

WAN27_R2V = ModelSpec(
    name="wan2.7-r2v",
    # Translators: a model's summary in the model list and the /video model choices; keep it
    # short (Discord shows at most 100 characters with the model's name).
    summary=_("Put up to 5 people, pets or things from your images and clips in a new scene"),
    family="wan2.7",
    endpoint=VIDEO_GENERATION_PATH,
    input_style=InputStyle.MEDIA,
    # 1–5 references, pictures or clips in any mix (counted by `max_references`), and optionally
    # a first frame the video starts from (not counted in the five).
    combinations=tuple(
        frozenset(refs | first)
        for first in (set(), {_FIRST})
        for refs in ({_REF_IMAGE}, {_REF_VIDEO}, {_REF_IMAGE, _REF_VIDEO})
    ),
    resolutions=("720P", "1080P"),
    default_resolution="1080P",
    durations=tuple(range(2, 16)),
    default_duration=5,
    duration_settable=True,
    prompt_max=5000,
    negative_prompt_max=500,
    image=_WAN27_IMAGE,
    # A reference's voice: wav/mp3, 1–10 s; only its timbre is used, not its words.
    audio=AudioLimits(
        formats=frozenset({"wav", "mp3"}), min_seconds=1, max_seconds=10, max_bytes=15 * MB
    ),
    clip=dataclasses.replace(_WAN27_CLIP, min_seconds=1, max_seconds=30),  # a reference clip
    has_sound=True,
    concurrency=5,  # not in the provider's rate-limit table; its siblings have 5
    submit_per_second=5,
    typical_seconds=150.0,  # no figure of its own published; several inputs to read
    ratios=RATIOS,  # ignored by the provider when a first frame is given (it follows the frame)
    default_ratio="16:9",
    prompt_required=True,  # the prompt says what the references do ("Image 1 waves")
    regions=(Region.BEIJING, Region.SINGAPORE),
    max_references=5,
    reference_voices=True,
    durations_with=((_REF_VIDEO, tuple(range(2, 11))),),
    billed_input_cap=5.0,
)

# What wan2.7-videoedit can be asked to do with the clip's sound: let the model decide from the
# prompt whether to redo it (the default), or keep it.
AUDIO_SETTINGS: tuple[str, ...] = ("auto", "origin")

WAN27_VIDEOEDIT = ModelSpec(
    name="wan2.7-videoedit",
    # Translators: a model's summary in the model list and the /video model choices; keep it
    # short (Discord shows at most 100 characters with the model's name).
    summary=_("Restyle or change your clip by instruction, optionally guided by images; 2–10 s"),
    family="wan2.7",
    endpoint=VIDEO_GENERATION_PATH,
    input_style=InputStyle.MEDIA,
    # Exactly one clip, and up to 4 reference images (counted by `max_references`).
    combinations=(frozenset({MediaType.VIDEO}), frozenset({MediaType.VIDEO, _REF_IMAGE})),
    resolutions=("720P", "1080P"),
    default_resolution="1080P",
    durations=tuple(range(2, 11)),  # cut from the clip's start; left out: the clip's length
    default_duration=5,  # only until the clip is read: the video is then as long as the clip
    duration_settable=True,
    prompt_max=5000,
    negative_prompt_max=500,
    image=_WAN27_IMAGE,
    audio=None,
    clip=_WAN27_CLIP,
    has_sound=True,
    concurrency=5,  # not in the provider's rate-limit table; its siblings have 5
    submit_per_second=5,
    typical_seconds=150.0,  # no figure of its own published
    ratios=RATIOS,
    default_ratio=None,  # left out: close to the clip's shape
    prompt_required=True,  # the prompt is the edit
    regions=(Region.BEIJING, Region.SINGAPORE),
    max_references=4,
    billed_input_cap=10.0,  # the whole clip (at most 10 s) is billed with the output
    duration_from_input=True,
    audio_settings=AUDIO_SETTINGS,
)

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        WAN27_I2V,
        WAN27_T2V,
        WAN27_R2V,
        WAN27_VIDEOEDIT,
        WAN26_I2V_FLASH,
        WAN26_I2V,
        WAN22_KF2V_FLASH,
        WANX21_KF2V_PLUS,
    )
}

DEFAULT_MODEL = WAN27_I2V.name
# The models the catalogue itself marks retired (the operator may add more: `retired_with`).
RETIRED: frozenset[str] = frozenset(name for name, spec in MODELS.items() if spec.retired)
# The name the operator's setting goes by, as a retirement's source.
OPERATOR_SETTING = "WANBOT_RETIRED_MODELS"


def retired_with(operator: Iterable[str] = ()) -> frozenset[str]:
    """Every retired model: the catalogue's, and those the operator retired."""
    return RETIRED | frozenset(operator)


def retirement(model: str, retired: frozenset[str] = RETIRED) -> Retirement | None:
    """Why `model` is retired (the catalogue's record, else the operator's setting), or None."""
    spec = MODELS.get(model)
    if spec is not None and spec.retired is not None:
        return spec.retired
    return Retirement(source=OPERATOR_SETTING) if model in retired else None


def offered(retired: frozenset[str] = RETIRED) -> tuple[ModelSpec, ...]:
    """The models offered to members: the catalogue's, less the retired ones."""
    return tuple(spec for name, spec in MODELS.items() if name not in retired)


def first_taker(
    given: frozenset[MediaType], *, template: bool, unavailable: frozenset[str] = RETIRED
) -> str:
    """The model a request with `given` inputs uses when nobody named one: wanbot's default if
    it takes them and is available, else the first available one that does. When none that
    takes them is available, the one that would have been used (it then refuses, naming why)."""
    takers = [name for name, spec in MODELS.items() if spec.accepts(given, template=template)]
    pool = [name for name in takers if name not in unavailable] or takers or [DEFAULT_MODEL]
    return DEFAULT_MODEL if DEFAULT_MODEL in pool else pool[0]


# What some model can do: the bounds of command options and server settings.
RESOLUTIONS: tuple[str, ...] = tuple(
    sorted({r for spec in MODELS.values() for r in spec.resolutions}, key=lambda r: int(r[:-1]))
)
SHORTEST_SECONDS = min(d for spec in MODELS.values() for d in spec.durations)
LONGEST_SECONDS = max(d for spec in MODELS.values() for d in spec.durations)


def _by_size(resolution: str) -> int:
    return int(resolution[:-1])


@dataclass(frozen=True)
class Inputs:
    """A way of asking for a video (a command): the media it always gives, the media a member
    may add, and whether it names an effect template. What it offers is what these inputs are
    enough for (see `Menu`), never what merely includes them."""

    given: frozenset[MediaType]
    optional: frozenset[MediaType] = frozenset()
    template: bool = False

    @property
    def combinations(self) -> tuple[frozenset[MediaType], ...]:
        """Every set of media a request made this way can carry."""
        extras = [m for m in MediaType if m in self.optional]
        return tuple(
            self.given.union(added)
            for n in range(len(extras) + 1)
            for added in itertools.combinations(extras, n)
        )


@dataclass(frozen=True)
class Offer:
    """One model, for some inputs: the sets of them it takes and the lengths it makes from them."""

    spec: ModelSpec
    combinations: tuple[frozenset[MediaType], ...]
    durations: tuple[int, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    def takes(self, media_type: MediaType) -> bool:
        return any(media_type in combination for combination in self.combinations)


@dataclass(frozen=True)
class Menu:
    """What a way of asking can choose from: the models a request with its inputs can be valid
    for, and the resolutions, lengths and templates they make. Command choices and their help
    are read from here, so nothing is offered that the catalogue would refuse."""

    inputs: Inputs
    offers: tuple[Offer, ...]

    @classmethod
    def of(cls, inputs: Inputs, retired: frozenset[str] = RETIRED) -> Menu:
        """The menu of `inputs`: every model that is not `retired` and takes them."""
        offers = []
        for spec in offered(retired):
            fit = tuple(c for c in inputs.combinations if spec.accepts(c, template=inputs.template))
            durations = sorted({d for c in fit for d in spec.durations_for(c)})
            if fit and durations:
                offers.append(Offer(spec, fit, tuple(durations)))
        if not offers:
            raise ValueError(f"no model takes {inputs}")
        return cls(inputs, tuple(offers))

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(offer.name for offer in self.offers)

    @property
    def default(self) -> ModelSpec:
        """The model used when none is named: wanbot's default if it is offered, else the first."""
        return next((o.spec for o in self.offers if o.name == DEFAULT_MODEL), self.offers[0].spec)

    @property
    def resolutions(self) -> tuple[str, ...]:
        return tuple(sorted({r for o in self.offers for r in o.spec.resolutions}, key=_by_size))

    def makers(self, resolution: str) -> tuple[str, ...]:
        """The offered models that make `resolution`."""
        return tuple(o.name for o in self.offers if resolution in o.spec.resolutions)

    @property
    def durations(self) -> tuple[int, ...]:
        return tuple(sorted({d for o in self.offers for d in o.durations}))

    @property
    def shortest(self) -> int:
        return self.durations[0]

    @property
    def longest(self) -> int:
        return self.durations[-1]

    @property
    def templates(self) -> tuple[str, ...]:
        if not self.inputs.template:
            return ()
        return tuple(dict.fromkeys(t for o in self.offers for t in o.spec.templates))

    @property
    def ratios(self) -> tuple[str, ...]:
        """The shapes the offered models can be asked for (none: each follows its picture)."""
        return tuple(dict.fromkeys(r for o in self.offers for r in o.spec.ratios))

    @property
    def shot_types(self) -> tuple[str, ...]:
        """How the offered models can be asked to cut the video (none: no model takes it)."""
        return tuple(dict.fromkeys(s for o in self.offers for s in o.spec.shot_types))

    def model_for(self, template: str) -> ModelSpec:
        """The model that has the effect `template` (the first offered one for an unknown
        template, whose validation then names the templates it has)."""
        return next((o.spec for o in self.offers if template in o.spec.templates), self.default)

    def takers(self, media_type: MediaType) -> tuple[str, ...]:
        """The offered models that take `media_type` with these inputs."""
        return tuple(o.name for o in self.offers if o.takes(media_type))


def combination_text(combination: frozenset[MediaType]) -> str:
    """Name a set of media types in English, in the order a person gives them, for logs and the
    simulator: "first frame + last frame"."""
    return " + ".join(m.label.removeprefix("the ") for m in MediaType if m in combination)


def combination_name(combination: frozenset[MediaType]) -> Text:
    """Name a non-empty set of media types for people, in the order they are given:
    "First frame + Last frame"."""
    names = [m.name_text for m in MediaType if m in combination]
    if not names:
        raise ValueError("an empty combination has no name")
    named = names[0]
    for name in names[1:]:
        # Translators: inputs given together: "First frame + Last frame" ({inputs} may itself be
        # several joined this way).
        named = _("{inputs} + {input}", inputs=named, input=name)
    return named


def combinations_name(combinations: tuple[frozenset[MediaType], ...]) -> Text:
    """Name sets of media types a model takes, one after another: "First frame; First frame +
    Last frame"."""
    named = combination_name(combinations[0])
    for combination in combinations[1:]:
        # Translators: sets of inputs a model takes, one after another: "First frame; First frame
        # + Last frame" ({options} may itself be several joined this way).
        named = _("{options}; {option}", options=named, option=combination_name(combination))
    return named
