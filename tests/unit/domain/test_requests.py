"""GenerationRequest: the exact body per model and mode, and every refusal with a useful message."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pytest

from bot.domain.catalog import (
    IMAGE2VIDEO_PATH,
    MODELS,
    VIDEO_GENERATION_PATH,
    MediaType,
    Reference,
)
from bot.domain.errors import InvalidInput
from bot.domain.requests import (
    SEED_MAX,
    GenerationRequest,
    MediaItem,
    check_clip_fits,
    check_edit_fits,
    continuation_duration,
    media_from,
    variation_seeds,
)

FIRST, LAST = MediaType.FIRST_FRAME, MediaType.LAST_FRAME
AUDIO, CLIP = MediaType.DRIVING_AUDIO, MediaType.FIRST_CLIP
URLS = {
    FIRST: "https://example.com/first.png",
    LAST: "https://example.com/last.png",
    AUDIO: "https://example.com/voice.mp3",
    CLIP: "oss://dashscope-instant/abc/clip.mp4",
    MediaType.REFERENCE_IMAGE: "https://example.com/face.png",
    MediaType.REFERENCE_VIDEO: "https://example.com/dog.mp4",
    MediaType.VIDEO: "oss://dashscope-instant/abc/in.mp4",
}


def request(model: str, *types: MediaType, **fields: Any) -> GenerationRequest:
    media = tuple(MediaItem(type=t, url=URLS[t]) for t in types)
    return GenerationRequest.build(model=model, media=media, **fields)


BODIES = [
    pytest.param(
        request("wan2.7-i2v", FIRST, prompt="A cat", seed=42),
        {
            "model": "wan2.7-i2v",
            "input": {"prompt": "A cat", "media": [{"type": "first_frame", "url": URLS[FIRST]}]},
            "parameters": {
                "resolution": "1080P",
                "duration": 5,
                "prompt_extend": True,
                "watermark": False,
                "seed": 42,
            },
        },
        id="wan2.7 first frame",
    ),
    pytest.param(
        # Given in another order, sent in the documented order.
        request("wan2.7-i2v", AUDIO, LAST, FIRST, resolution="720p", duration=10, watermark=True),
        {
            "model": "wan2.7-i2v",
            "input": {
                "media": [
                    {"type": "first_frame", "url": URLS[FIRST]},
                    {"type": "last_frame", "url": URLS[LAST]},
                    {"type": "driving_audio", "url": URLS[AUDIO]},
                ]
            },
            "parameters": {
                "resolution": "720P",
                "duration": 10,
                "prompt_extend": True,
                "watermark": True,
            },
        },
        id="wan2.7 first + last + audio",
    ),
    pytest.param(
        request(
            "wan2.7-i2v",
            CLIP,
            LAST,
            prompt="He opens the box",
            negative_prompt="blur",
            duration=12,
            prompt_extend=False,
        ),
        {
            "model": "wan2.7-i2v",
            "input": {
                "prompt": "He opens the box",
                "negative_prompt": "blur",
                "media": [
                    {"type": "last_frame", "url": URLS[LAST]},
                    {"type": "first_clip", "url": URLS[CLIP]},
                ],
            },
            "parameters": {
                "resolution": "1080P",
                "duration": 12,
                "prompt_extend": False,
                "watermark": False,
            },
        },
        id="wan2.7 continuation + last frame",
    ),
    pytest.param(
        request("wan2.6-i2v-flash", FIRST, AUDIO, prompt="Sing", duration=15),
        {
            "model": "wan2.6-i2v-flash",
            "input": {"prompt": "Sing", "img_url": URLS[FIRST], "audio_url": URLS[AUDIO]},
            "parameters": {
                "resolution": "1080P",
                "duration": 15,
                "prompt_extend": True,
                "watermark": False,
            },
        },
        id="wan2.6-i2v-flash img_url + audio_url",
    ),
    pytest.param(
        request("wan2.6-i2v", FIRST, duration=10, resolution="720P"),
        {
            "model": "wan2.6-i2v",
            "input": {"img_url": URLS[FIRST]},
            "parameters": {
                "resolution": "720P",
                "duration": 10,
                "prompt_extend": True,
                "watermark": False,
            },
        },
        id="wan2.6-i2v img_url",
    ),
    pytest.param(
        request("wan2.2-kf2v-flash", FIRST, LAST, prompt="Rain", resolution="480P", seed=1),
        {
            "model": "wan2.2-kf2v-flash",
            "input": {
                "prompt": "Rain",
                "first_frame_url": URLS[FIRST],
                "last_frame_url": URLS[LAST],
            },
            "parameters": {
                "resolution": "480P",
                "prompt_extend": True,
                "watermark": False,
                "seed": 1,
            },
        },
        id="wan2.2-kf2v-flash keyframes, no duration",
    ),
    pytest.param(
        request("wanx2.1-kf2v-plus", FIRST, LAST),
        {
            "model": "wanx2.1-kf2v-plus",
            "input": {"first_frame_url": URLS[FIRST], "last_frame_url": URLS[LAST]},
            "parameters": {"resolution": "720P", "prompt_extend": True, "watermark": False},
        },
        id="wanx2.1-kf2v-plus keyframes",
    ),
    pytest.param(
        request("wanx2.1-kf2v-plus", FIRST, template="mech1", watermark=True),
        {
            "model": "wanx2.1-kf2v-plus",
            "input": {"first_frame_url": URLS[FIRST], "template": "mech1"},
            "parameters": {"resolution": "720P", "prompt_extend": True, "watermark": True},
        },
        id="wanx2.1-kf2v-plus effect template",
    ),
    # Text to video: as SDK 2.0.2 sends VideoSynthesis.async_call(model="wan2.7-t2v",
    # prompt=..., negative_prompt=..., audio_url=..., resolution=..., ratio=..., duration=...,
    # prompt_extend=..., watermark=..., seed=...), less the `extend_prompt` and `function` it adds
    # to every input (../shared/dashscope-api.md §7.3, §7.6). The documented default ratio is
    # sent when none is chosen, as the resolution is.
    pytest.param(
        request("wan2.7-t2v", prompt="A fox dances in the snow"),
        {
            "model": "wan2.7-t2v",
            "input": {"prompt": "A fox dances in the snow"},
            "parameters": {
                "resolution": "1080P",
                "ratio": "16:9",
                "duration": 5,
                "prompt_extend": True,
                "watermark": False,
            },
        },
        id="wan2.7-t2v prompt alone",
    ),
    pytest.param(
        request(
            "wan2.7-t2v",
            AUDIO,
            prompt="She sings on a rooftop",
            negative_prompt="blur",
            resolution="720P",
            ratio="9:16",
            duration=15,
            prompt_extend=False,
            watermark=True,
            seed=42,
        ),
        {
            "model": "wan2.7-t2v",
            "input": {
                "prompt": "She sings on a rooftop",
                "negative_prompt": "blur",
                "audio_url": URLS[AUDIO],
            },
            "parameters": {
                "resolution": "720P",
                "ratio": "9:16",
                "duration": 15,
                "prompt_extend": False,
                "watermark": True,
                "seed": 42,
            },
        },
        id="wan2.7-t2v audio + ratio",
    ),
    # Multi-shot: as SDK 2.0.2 sends VideoSynthesis.async_call(model="wan2.6-i2v-flash",
    # img_url=..., resolution=..., duration=..., shot_type="multi", prompt_extend=True, ...)
    # (../shared/dashscope-api.md §7.4, §7.6).
    pytest.param(
        request(
            "wan2.6-i2v-flash",
            FIRST,
            prompt="A chase",
            resolution="720P",
            shot_type="multi",
            seed=42,
        ),
        {
            "model": "wan2.6-i2v-flash",
            "input": {"prompt": "A chase", "img_url": URLS[FIRST]},
            "parameters": {
                "resolution": "720P",
                "duration": 5,
                "shot_type": "multi",
                "prompt_extend": True,
                "watermark": False,
                "seed": 42,
            },
        },
        id="wan2.6-i2v-flash multi-shot",
    ),
    # "single" is the documented default: the same request as leaving it out (§7.7), so the
    # same body as the SDK's without shot_type.
    pytest.param(
        request("wan2.6-i2v", FIRST, shot_type="single", prompt_extend=False),
        {
            "model": "wan2.6-i2v",
            "input": {"img_url": URLS[FIRST]},
            "parameters": {
                "resolution": "1080P",
                "duration": 5,
                "prompt_extend": False,
                "watermark": False,
            },
        },
        id="wan2.6-i2v single shot, the default",
    ),
]


@pytest.mark.parametrize(("built", "body"), BODIES)
def test_body_is_what_the_provider_documents(built: GenerationRequest, body: dict) -> None:
    assert built.body() == body


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("wan2.7-i2v", VIDEO_GENERATION_PATH),
        ("wan2.6-i2v-flash", VIDEO_GENERATION_PATH),
        ("wan2.6-i2v", VIDEO_GENERATION_PATH),
        ("wan2.7-t2v", VIDEO_GENERATION_PATH),
        ("wan2.2-kf2v-flash", IMAGE2VIDEO_PATH),
        ("wanx2.1-kf2v-plus", IMAGE2VIDEO_PATH),
    ],
)
def test_each_model_has_its_documented_endpoint(model: str, path: str) -> None:
    assert MODELS[model].endpoint == path


def test_oss_inputs_are_flagged_for_the_resolve_header() -> None:
    assert request("wan2.7-i2v", CLIP).uses_oss
    assert not request("wan2.7-i2v", FIRST).uses_oss


def _all_media_sets() -> list[frozenset[MediaType]]:
    kinds = list(MediaType)
    return [frozenset(c) for n in range(len(kinds) + 1) for c in combinations(kinds, n)]


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("given", _all_media_sets(), ids=lambda s: "+".join(sorted(s)) or "none")
def test_only_documented_media_combinations_pass(model: str, given: frozenset[MediaType]) -> None:
    spec = MODELS[model]
    prompt = {"prompt": "A fox"} if spec.prompt_required else {}
    if given in spec.combinations:
        assert request(model, *given, **prompt).media_types == given
        return
    with pytest.raises(InvalidInput) as refused:
        request(model, *given, **prompt)
    assert model in str(refused.value)


def test_a_refused_combination_says_what_the_model_takes() -> None:
    with pytest.raises(InvalidInput) as refused:
        request("wan2.7-i2v", LAST)
    assert str(refused.value) == (
        "wan2.7-i2v takes one of these sets of inputs: First frame; First frame + Driving audio; "
        "First frame + Last frame; First frame + Last frame + Driving audio; First clip; "
        "Last frame + First clip. You gave: Last frame."
    )
    assert refused.value.field == "media"


def test_a_model_with_one_combination_names_it_and_no_inputs_is_said_so() -> None:
    with pytest.raises(InvalidInput) as refused:
        request("wan2.2-kf2v-flash")
    assert str(refused.value) == (
        "wan2.2-kf2v-flash takes these inputs: First frame + Last frame. You gave no inputs."
    )
    assert refused.value.field == "media"


def test_a_media_type_given_twice_is_refused() -> None:
    media = (MediaItem(type=FIRST, url=URLS[FIRST]), MediaItem(type=FIRST, url=URLS[LAST]))
    with pytest.raises(InvalidInput) as refused:
        GenerationRequest.build(model="wan2.7-i2v", media=media)
    assert str(refused.value) == "First frame: given twice; give each input only once."
    assert refused.value.field == "first_frame"


def test_a_media_type_without_a_url_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        GenerationRequest.build(model="wan2.7-i2v", media=(MediaItem(type=FIRST, url=" "),))
    assert str(refused.value) == "First frame: no URL given."
    assert refused.value.field == "first_frame"


def test_a_media_type_the_model_does_not_take_is_named() -> None:
    with pytest.raises(InvalidInput) as refused:
        request("wan2.2-kf2v-flash", FIRST, LAST, AUDIO)
    assert str(refused.value) == "Driving audio: wan2.2-kf2v-flash does not take this input."
    assert refused.value.field == "driving_audio"


@pytest.mark.parametrize(
    ("model", "fields", "field", "message"),
    [
        (
            "nope",
            {},
            "model",
            "Unknown model “nope”; choose one of: wan2.7-i2v, wan2.7-t2v, wan2.7-r2v, wan2.7-videoedit, wan2.6-i2v-flash, "
            "wan2.6-i2v, wan2.2-kf2v-flash, wanx2.1-kf2v-plus.",
        ),
        ("wan2.7-i2v", {"duration": 1}, "duration", "wan2.7-i2v makes videos of 2–15 s, not 1 s."),
        (
            "wan2.7-i2v",
            {"duration": 16},
            "duration",
            "wan2.7-i2v makes videos of 2–15 s, not 16 s.",
        ),
        (
            "wan2.6-i2v-flash",
            {"duration": 16},
            "duration",
            "wan2.6-i2v-flash makes videos of 2–15 s, not 16 s.",
        ),
        (
            "wan2.6-i2v",
            {"duration": 7},
            "duration",
            "wan2.6-i2v makes videos of 5, 10 or 15 s, not 7 s.",
        ),
        (
            "wan2.2-kf2v-flash",
            {"duration": 10},
            "duration",
            "wan2.2-kf2v-flash always makes 5 s videos; leave the duration out.",
        ),
        (
            "wan2.7-i2v",
            {"resolution": "480P"},
            "resolution",
            "wan2.7-i2v does not make 480P videos; choose one of: 720P, 1080P.",
        ),
        (
            "wanx2.1-kf2v-plus",
            {"resolution": "1080P"},
            "resolution",
            "wanx2.1-kf2v-plus does not make 1080P videos; it makes only 720P.",
        ),
        (
            "wan2.7-i2v",
            {"seed": -1},
            "seed",
            "The seed must be a whole number from 0 to 2147483647.",
        ),
        (
            "wan2.7-i2v",
            {"seed": 2_147_483_648},
            "seed",
            "The seed must be a whole number from 0 to 2147483647.",
        ),
        (
            "wan2.7-i2v",
            {"seed": "abc"},
            "seed",
            "seed: Input should be a valid integer, unable to parse string as an integer.",
        ),
        (
            "wan2.7-i2v",
            {"prompt": "x" * 5001},
            "prompt",
            "The prompt is 5001 characters long; wan2.7-i2v takes at most 5000 characters.",
        ),
        (
            "wan2.6-i2v-flash",
            {"prompt": "x" * 1501},
            "prompt",
            "The prompt is 1501 characters long; wan2.6-i2v-flash takes at most 1500 characters.",
        ),
        (
            "wan2.2-kf2v-flash",
            {"prompt": "x" * 801},
            "prompt",
            "The prompt is 801 characters long; wan2.2-kf2v-flash takes at most 800 characters.",
        ),
        (
            "wan2.7-i2v",
            {"negative_prompt": "x" * 501},
            "negative_prompt",
            "The negative prompt is 501 characters long; wan2.7-i2v takes at most 500 characters.",
        ),
        (
            "wan2.7-i2v",
            {"template": "mech1"},
            "template",
            "wan2.7-i2v has no effect templates; use wanx2.1-kf2v-plus.",
        ),
    ],
)
def test_out_of_range_values_are_refused(
    model: str, fields: dict, field: str, message: str
) -> None:
    types = (FIRST, LAST) if "kf2v" in model else (FIRST,)
    with pytest.raises(InvalidInput) as refused:
        request(model, *types, **fields)
    assert str(refused.value) == message
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("types", "fields", "field", "message"),
    [
        (
            (),
            {},
            "prompt",
            "wan2.7-t2v makes the video from your prompt alone: write a prompt.",
        ),
        (
            (AUDIO,),
            {"prompt": "   "},
            "prompt",
            "wan2.7-t2v makes the video from your prompt alone: write a prompt.",
        ),
        (
            (FIRST,),
            {"prompt": "A fox"},
            "first_frame",
            "First frame: wan2.7-t2v does not take this input.",
        ),
        (
            (),
            {"prompt": "A fox", "ratio": "21:9"},
            "ratio",
            "wan2.7-t2v does not make 21:9 videos; choose one of: 16:9, 9:16, 1:1, 4:3, 3:4.",
        ),
        (
            (),
            {"prompt": "A fox", "duration": 16},
            "duration",
            "wan2.7-t2v makes videos of 2–15 s, not 16 s.",
        ),
        (
            (),
            {"prompt": "x" * 5001},
            "prompt",
            "The prompt is 5001 characters long; wan2.7-t2v takes at most 5000 characters.",
        ),
    ],
)
def test_text_to_video_refusals(
    types: tuple[MediaType, ...], fields: dict, field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        request("wan2.7-t2v", *types, **fields)
    assert str(refused.value) == message
    assert refused.value.field == field


def test_a_ratio_is_refused_where_the_picture_decides_the_shape() -> None:
    with pytest.raises(InvalidInput) as refused:
        request("wan2.7-i2v", FIRST, ratio="1:1")
    assert str(refused.value) == "wan2.7-i2v takes the shape of your picture; leave the ratio out."
    assert refused.value.field == "ratio"
    assert "ratio" not in request("wan2.7-i2v", FIRST).body()["parameters"]


def test_text_to_video_limits_are_inclusive() -> None:
    for ratio in MODELS["wan2.7-t2v"].ratios:
        assert request("wan2.7-t2v", prompt="x" * 5000, ratio=ratio, duration=2)
    assert request("wan2.7-t2v", AUDIO, prompt="x", negative_prompt="x" * 500, duration=15)


def test_limits_are_inclusive() -> None:
    assert request("wan2.7-i2v", FIRST, prompt="x" * 5000, duration=15, seed=2_147_483_647)
    assert request("wan2.7-i2v", FIRST, negative_prompt="x" * 500, duration=2, seed=0)


def test_effect_templates() -> None:
    with pytest.raises(InvalidInput) as refused:
        request("wanx2.1-kf2v-plus", FIRST, template="sparkle")
    assert str(refused.value) == (
        "Unknown effect template “sparkle”; wanx2.1-kf2v-plus has: "
        "mech1, mech2, hanfu-1, solaron, magazine."
    )
    with pytest.raises(InvalidInput) as refused:
        request("wanx2.1-kf2v-plus", FIRST, template="mech1", prompt="robots")
    assert str(refused.value) == (
        "Effect templates ignore the prompt; leave the prompt and negative prompt out."
    )
    with pytest.raises(InvalidInput) as refused:
        request("wanx2.1-kf2v-plus", FIRST, LAST, template="mech1")
    assert str(refused.value) == (
        "With the mech1 effect, wanx2.1-kf2v-plus takes these inputs: First frame. "
        "You gave: First frame + Last frame."
    )


def test_blank_texts_count_as_absent() -> None:
    built = request("wan2.7-i2v", FIRST, prompt="   ", negative_prompt="")
    assert "prompt" not in built.body()["input"]
    assert "negative_prompt" not in built.body()["input"]


def test_continuation_must_be_longer_than_the_clip() -> None:
    clip_request = request("wan2.7-i2v", CLIP, duration=5)
    check_clip_fits(clip_request, 4.9)
    with pytest.raises(InvalidInput) as refused:
        check_clip_fits(clip_request, 6.0)
    assert str(refused.value) == (
        "The clip is 6.0 s long and the duration counts the clip, so 5 s adds nothing; "
        "choose a duration of 7–15 s."
    )
    assert refused.value.field == "duration"
    with pytest.raises(InvalidInput) as refused:
        check_clip_fits(request("wan2.7-i2v", CLIP, duration=15), 15.0)
    assert str(refused.value) == (
        "The clip is 15.0 s long, which leaves no room to continue it: wan2.7-i2v makes videos "
        "of at most 15 s. Send a shorter clip."
    )
    assert refused.value.field == "first_clip"
    assert continuation_duration(6.0, MODELS["wan2.7-i2v"]) == 11
    assert continuation_duration(10.0, MODELS["wan2.7-i2v"]) == 15


def test_with_urls_swaps_local_paths_for_uploaded_ones() -> None:
    draft = GenerationRequest.build(
        model="wan2.7-i2v", media=(MediaItem(type=FIRST, url="/tmp/cat.png"),)
    )
    staged = draft.with_urls({FIRST: "oss://dashscope-instant/x/cat.png"})
    assert staged.url_for(FIRST) == "oss://dashscope-instant/x/cat.png"
    assert staged.uses_oss and not draft.uses_oss


@pytest.mark.parametrize(
    ("model", "fields", "message"),
    [
        (
            "wan2.7-i2v",
            {"shot_type": "multi"},
            "wan2.7-i2v does not take a shot type; leave it out.",
        ),
        (
            "wan2.7-i2v",
            {"shot_type": "single"},
            "wan2.7-i2v does not take a shot type; leave it out.",
        ),
        (
            "wan2.6-i2v-flash",
            {"shot_type": "triple"},
            "wan2.6-i2v-flash has no shot type “triple”; choose one of: single, multi.",
        ),
        (
            "wan2.6-i2v-flash",
            {"shot_type": "multi", "prompt_extend": False},
            "Multi-shot videos need the prompt extended: turn prompt_extend on, or ask for a "
            "single shot.",
        ),
    ],
)
def test_shot_type_refusals(model: str, fields: dict, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        request(model, FIRST, **fields)
    assert str(refused.value) == message
    assert refused.value.field == "shot_type"


def test_a_single_shot_is_the_same_request_as_none() -> None:
    digests = {FIRST: b"picture"}
    single = request("wan2.6-i2v-flash", FIRST, shot_type="single").fingerprint(digests)
    assert single == request("wan2.6-i2v-flash", FIRST).fingerprint(digests)
    multi = request("wan2.6-i2v-flash", FIRST, shot_type="multi").fingerprint(digests)
    assert multi != single


def test_variation_seeds_follow_a_fixed_seed_and_wrap_past_the_highest() -> None:
    assert variation_seeds(None, 1, drawn=9) == [None]  # one video: the provider's choice
    assert variation_seeds(7, 1, drawn=9) == [7]
    assert variation_seeds(7, 3, drawn=9) == [7, 8, 9]
    assert variation_seeds(None, 2, drawn=9) == [9, 10]
    assert variation_seeds(SEED_MAX - 1, 4, drawn=9) == [SEED_MAX - 1, SEED_MAX, 0, 1]


# -- reference-to-video (wan2.7-r2v) -------------------------------------------------------------

RI, RV = MediaType.REFERENCE_IMAGE, MediaType.REFERENCE_VIDEO


def r2v(*items: MediaItem, **fields: Any) -> GenerationRequest:
    return GenerationRequest.build(
        model="wan2.7-r2v", media=items, **({"prompt": "Image 1 waves at Video 1"} | fields)
    )


def test_r2v_body_is_what_sdk_2_0_2_sends() -> None:
    """As VideoSynthesis.async_call(model="wan2.7-r2v", prompt=..., media=[...], resolution=
    "720P", ratio="9:16", duration=5, prompt_extend=False, watermark=False, seed=42) sends it
    (../shared/dashscope-api.md §7.1, §7.6): `media` as given, every key of every item, in the
    order given (it names them), the ratio and the rest in `parameters`."""
    built = r2v(
        MediaItem(type=RV, url="oss://x/dog.mp4", reference_description="a brown dog"),
        MediaItem(type=RI, url="oss://x/face.png", reference_voice="oss://x/voice.wav"),
        MediaItem(type=RI, url="oss://x/hat.png"),
        negative_prompt="blur",
        resolution="720P",
        ratio="9:16",
        duration=5,
        prompt_extend=False,
        seed=42,
    )
    assert built.body() == {
        "model": "wan2.7-r2v",
        "input": {
            "prompt": "Image 1 waves at Video 1",
            "negative_prompt": "blur",
            "media": [
                {
                    "type": "reference_video",
                    "url": "oss://x/dog.mp4",
                    "reference_description": "a brown dog",
                },
                {
                    "type": "reference_image",
                    "url": "oss://x/face.png",
                    "reference_voice": "oss://x/voice.wav",
                },
                {"type": "reference_image", "url": "oss://x/hat.png"},
            ],
        },
        "parameters": {
            "resolution": "720P",
            "ratio": "9:16",
            "duration": 5,
            "prompt_extend": False,
            "watermark": False,
            "seed": 42,
        },
    }
    assert built.uses_oss


def test_r2v_defaults_and_a_first_frame() -> None:
    built = r2v(MediaItem(type=RI, url=URLS[RI]), MediaItem(type=FIRST, url=URLS[FIRST]))
    assert built.body() == {
        "model": "wan2.7-r2v",
        "input": {
            "prompt": "Image 1 waves at Video 1",
            "media": [
                {"type": "first_frame", "url": URLS[FIRST]},
                {"type": "reference_image", "url": URLS[RI]},
            ],
        },
        "parameters": {
            "resolution": "1080P",
            "ratio": "16:9",  # the documented default, sent (§7.7: the same request)
            "duration": 5,
            "prompt_extend": True,
            "watermark": False,
        },
    }


@pytest.mark.parametrize(
    ("items", "fields", "field", "message"),
    [
        (
            [MediaItem(type=RI, url=URLS[RI])] * 6,
            {},
            "media",
            "You gave 6 references; wan2.7-r2v takes at most 5 images and clips in all.",
        ),
        (
            [MediaItem(type=RV, url=URLS[RV])],
            {"duration": 12},
            "duration",
            "With a reference clip, wan2.7-r2v makes videos of 2–10 s, not 12 s.",
        ),
        (
            [MediaItem(type=RI, url=URLS[RI])],
            {"prompt": None},
            "prompt",
            "wan2.7-r2v makes the video from your prompt alone: write a prompt.",
        ),
        (
            [MediaItem(type=FIRST, url=URLS[FIRST])],
            {},
            "media",
            "wan2.7-r2v takes one of these sets of inputs: Reference image; Reference video; "
            "Reference image + Reference video; First frame + Reference image; First frame + "
            "Reference video; First frame + Reference image + Reference video. You gave: First "
            "frame.",
        ),
        (
            [MediaItem(type=RI, url=URLS[RI])],
            {"ratio": "2:1"},
            "ratio",
            "wan2.7-r2v does not make 2:1 videos; choose one of: 16:9, 9:16, 1:1, 4:3, 3:4.",
        ),
    ],
)
def test_r2v_refusals(items: list[MediaItem], fields: dict, field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        r2v(*items, **fields)
    assert str(refused.value) == message
    assert refused.value.field == field


def test_with_an_image_alone_r2v_makes_up_to_15_s() -> None:
    assert r2v(MediaItem(type=RI, url=URLS[RI]), duration=15).resolved_duration == 15
    assert r2v(MediaItem(type=RV, url=URLS[RV]), duration=10).resolved_duration == 10


def test_a_voice_or_description_only_on_a_reference_of_r2v() -> None:
    with pytest.raises(InvalidInput) as refused:
        GenerationRequest.build(
            model="wan2.7-i2v",
            media=(MediaItem(type=FIRST, url=URLS[FIRST], reference_voice="https://v.wav"),),
        )
    assert str(refused.value) == (
        "wan2.7-i2v takes a voice or a description only with a reference image or clip."
    )


def test_references_are_in_their_place_by_slot() -> None:
    built = r2v(
        MediaItem(type=RI, url="a.png", reference_voice="a.wav"),
        MediaItem(type=RV, url="b.mp4"),
    )
    one, two = Reference(1, RI), Reference(2, RV)
    voice = Reference(1, RI, voice=True)
    assert built.slot_urls() == {one: "a.png", voice: "a.wav", two: "b.mp4"}
    staged = built.with_urls({one: "oss://1", voice: "oss://v", two: "oss://2"})
    assert [i.sent() for i in staged.media] == [
        {"type": "reference_image", "url": "oss://1", "reference_voice": "oss://v"},
        {"type": "reference_video", "url": "oss://2"},
    ]


def test_media_from_slots_keeps_the_order_and_refuses_a_lone_voice() -> None:
    urls = {Reference(1, RV): "b.mp4", Reference(2, RI): "a.png", Reference(2, RI, voice=True): "v"}
    items = media_from(urls, {1: "a dog"})
    assert [(i.type, i.url, i.reference_voice, i.reference_description) for i in items] == [
        (RV, "b.mp4", None, "a dog"),
        (RI, "a.png", "v", None),
    ]
    with pytest.raises(InvalidInput) as refused:
        media_from({Reference(1, RI): "a.png", Reference(3, RI, voice=True): "v"})
    assert str(refused.value) == "Voice of reference 3: there is no reference 3 to give it to."


def test_r2v_counts_its_reference_clips_up_to_five_seconds() -> None:
    clip, image = MediaItem(type=RV, url=URLS[RV]), MediaItem(type=RI, url=URLS[RI])
    # Before the clips are read, each counts as the shortest the model takes (1 s).
    assert r2v(clip, clip, duration=5).charged_seconds == 7
    assert r2v(clip, duration=5, input_seconds=3.2).charged_seconds == 9  # 5 + ⌈3.2⌉
    assert r2v(clip, clip, duration=5, input_seconds=12.0).charged_seconds == 10  # at most 5
    assert r2v(image, duration=5).charged_seconds == 5
    assert request("wan2.7-i2v", CLIP, duration=8).charged_seconds == 8  # input is free


def test_existing_modes_keep_their_fingerprint_and_old_rows_still_load() -> None:
    """Stored jobs dedup on the fingerprint, and old rows hold requests as JSON."""
    built = GenerationRequest.build(
        model="wan2.7-i2v",
        prompt="A cat",
        seed=42,
        media=(
            MediaItem(type=FIRST, url="oss://a/cat.png"),
            MediaItem(type=AUDIO, url="oss://a/v.mp3"),
        ),
    )
    digests = {FIRST: b"cat", AUDIO: b"voice"}
    # As the code before references computed it.
    assert built.fingerprint(digests) == (
        "7692195a35468d4d85f46052ad4e59da2663e727ce9e8cf1627fe215ca685641"
    )
    old = (
        '{"model":"wan2.7-i2v","prompt":"A cat","negative_prompt":null,"media":[{"type":'
        '"first_frame","url":"oss://a/cat.png"}],"template":null,"resolution":"720P",'
        '"duration":7,"ratio":null,"shot_type":null,"seed":3,"prompt_extend":true,'
        '"watermark":false}'
    )
    loaded = GenerationRequest.model_validate_json(old)
    assert loaded.url_for(FIRST) == "oss://a/cat.png" and loaded.input_seconds is None


def test_a_description_changes_the_fingerprint() -> None:
    digests = {Reference(1, RI): b"face"}
    plain = r2v(MediaItem(type=RI, url="a")).fingerprint(digests)
    described = r2v(MediaItem(type=RI, url="a", reference_description="tall")).fingerprint(digests)
    assert plain != described


# -- video edit (wan2.7-videoedit) ---------------------------------------------------------------

VIDEO = MediaType.VIDEO


def edit(*items: MediaItem, **fields: Any) -> GenerationRequest:
    return GenerationRequest.build(
        model="wan2.7-videoedit",
        media=items,
        **({"prompt": "Convert the entire scene to a claymation style"} | fields),
    )


def test_videoedit_body_is_what_sdk_2_0_2_sends() -> None:
    """As VideoSynthesis.async_call(model="wan2.7-videoedit", prompt=..., media=[{"type":
    "video", ...}, {"type": "reference_image", ...}], resolution="720P", ratio="16:9",
    audio_setting="origin", watermark=True) sends it (§7.2, §7.6): no duration (the clip's
    length), the clip first, the audio setting in `parameters`."""
    built = edit(
        MediaItem(type=RI, url="oss://x/coat.png"),
        MediaItem(type=VIDEO, url="oss://x/in.mp4"),
        resolution="720P",
        ratio="16:9",
        audio_setting="origin",
        watermark=True,
    )
    assert built.body() == {
        "model": "wan2.7-videoedit",
        "input": {
            "prompt": "Convert the entire scene to a claymation style",
            "media": [
                {"type": "video", "url": "oss://x/in.mp4"},
                {"type": "reference_image", "url": "oss://x/coat.png"},
            ],
        },
        "parameters": {
            "resolution": "720P",
            "ratio": "16:9",
            "audio_setting": "origin",
            "prompt_extend": True,
            "watermark": True,
        },
    }


def test_videoedit_alone_as_alibabas_example_and_a_cut() -> None:
    plain = edit(MediaItem(type=VIDEO, url=URLS[VIDEO]))
    assert plain.body()["parameters"] == {
        "resolution": "1080P",
        "prompt_extend": True,
        "watermark": False,
    }
    assert (
        edit(MediaItem(type=VIDEO, url=URLS[VIDEO]), duration=4).body()["parameters"]["duration"]
        == 4
    )


@pytest.mark.parametrize(
    ("items", "fields", "field", "message"),
    [
        (
            [MediaItem(type=VIDEO, url=URLS[VIDEO])] + [MediaItem(type=RI, url=URLS[RI])] * 5,
            {},
            "media",
            "You gave 5 references; wan2.7-videoedit takes at most 4 images and clips in all.",
        ),
        (
            [MediaItem(type=VIDEO, url=URLS[VIDEO]), MediaItem(type=RV, url=URLS[RV])],
            {},
            "reference_video",
            "Reference video: wan2.7-videoedit does not take this input.",
        ),
        (
            [MediaItem(type=VIDEO, url=URLS[VIDEO])],
            {"audio_setting": "loud"},
            "audio_setting",
            "wan2.7-videoedit has no audio setting “loud”; choose one of: auto, origin.",
        ),
        (
            [MediaItem(type=VIDEO, url=URLS[VIDEO])],
            {"duration": 12},
            "duration",
            "wan2.7-videoedit makes videos of 2–10 s, not 12 s.",
        ),
        (
            [MediaItem(type=RI, url=URLS[RI])],
            {},
            "media",
            "wan2.7-videoedit takes one of these sets of inputs: Clip to edit; Clip to edit + "
            "Reference image. You gave: Reference image.",
        ),
    ],
)
def test_videoedit_refusals(items: list[MediaItem], fields: dict, field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        edit(*items, **fields)
    assert str(refused.value) == message
    assert refused.value.field == field


def test_an_audio_setting_only_where_a_model_takes_one() -> None:
    with pytest.raises(InvalidInput) as refused:
        request("wan2.7-i2v", FIRST, audio_setting="origin")
    assert str(refused.value) == "wan2.7-i2v does not take an audio setting; leave it out."


def test_an_edit_counts_its_clip_and_its_output() -> None:
    clip = MediaItem(type=VIDEO, url=URLS[VIDEO])
    # Before the clip is read: the least it can be (a 2 s clip kept whole).
    assert edit(clip).charged_seconds == 4
    read = edit(clip, input_seconds=6.2)
    assert (read.resolved_duration, read.charged_seconds) == (6, 13)  # 6 s out, 6.2 s in
    assert edit(clip, duration=3, input_seconds=6.2).charged_seconds == 10


def test_an_edit_is_not_longer_than_its_clip() -> None:
    clip = MediaItem(type=VIDEO, url=URLS[VIDEO])
    check_edit_fits(edit(clip, duration=4), 4.2)
    with pytest.raises(InvalidInput) as refused:
        check_edit_fits(edit(clip, duration=8), 4.2)
    assert str(refused.value) == (
        "The clip is 4.2 s long; an edit can cut it, not make it longer: choose a duration of "
        "at most 4 s, or leave it out to keep the clip's length."
    )
