"""GenerationRequest: the exact body per model and mode, and every refusal with a useful message."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pytest

from bot.domain.catalog import IMAGE2VIDEO_PATH, MODELS, VIDEO_GENERATION_PATH, MediaType
from bot.domain.errors import InvalidInput
from bot.domain.requests import (
    SEED_MAX,
    GenerationRequest,
    MediaItem,
    check_clip_fits,
    continuation_duration,
    variation_seeds,
)

FIRST, LAST = MediaType.FIRST_FRAME, MediaType.LAST_FRAME
AUDIO, CLIP = MediaType.DRIVING_AUDIO, MediaType.FIRST_CLIP
URLS = {
    FIRST: "https://example.com/first.png",
    LAST: "https://example.com/last.png",
    AUDIO: "https://example.com/voice.mp3",
    CLIP: "oss://dashscope-instant/abc/clip.mp4",
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
            "Unknown model “nope”; choose one of: wan2.7-i2v, wan2.7-t2v, wan2.6-i2v-flash, "
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
