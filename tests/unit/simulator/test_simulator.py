"""The DashScope simulator, spoken to over raw HTTP on loopback with a fake clock."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import av
import pytest
from PIL import Image, ImageChops, ImageStat

from bot.domain.catalog import IMAGE2VIDEO_PATH, VIDEO_GENERATION_PATH, MediaType, ModelSpec
from bot.domain.errors import InvalidInput
from bot.engine.virtual import VirtualClock
from bot.media import samples
from bot.media.probe import check_media
from bot.simulator import Simulator, SimulatorConfig, serve
from bot.simulator.drawing import mode_text

KEY = "sk-test-secret-key"
VG = VIDEO_GENERATION_PATH
I2V = IMAGE2VIDEO_PATH


@pytest.fixture
def config() -> SimulatorConfig:
    return SimulatorConfig(pending_seconds=1.0, running_seconds=2.0)


@pytest.fixture
async def sim(config: SimulatorConfig, clock: VirtualClock) -> AsyncIterator[Simulator]:
    async with Simulator(config, clock=clock) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    sim: Simulator,
    method: str,
    path: str,
    *,
    body: Any = None,
    key: str | None = KEY,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    sent = {"Authorization": f"Bearer {key}"} if key is not None else {}
    sent.update(headers or {})
    async with http.request(
        method, f"{sim.base_url}{path}", json=body, headers=sent, params=params
    ) as response:
        return response.status, await response.json()


async def submit(
    http: aiohttp.ClientSession,
    sim: Simulator,
    body: dict[str, Any],
    path: str = VG,
    **headers: str,
) -> tuple[int, dict[str, Any]]:
    sent = {"X-DashScope-Async": "enable", **headers}
    return await call(http, sim, "POST", path, body=body, headers=sent)


def data_url(width: int, height: int) -> str:
    return "data:image/png;base64," + base64.b64encode(samples.make_image(width, height)).decode()


def kf2v_body(**parameters: Any) -> dict[str, Any]:
    return {
        "model": "wan2.2-kf2v-flash",
        "input": {
            "first_frame_url": "https://example.com/a.png",
            "last_frame_url": "https://example.com/b.png",
        },
        "parameters": parameters,
    }


def flash_body(**parameters: Any) -> dict[str, Any]:
    return {
        "model": "wan2.6-i2v-flash",
        "input": {"img_url": "https://example.com/a.png", "prompt": "a cat"},
        "parameters": {"resolution": "720P", "duration": 5, **parameters},
    }


async def upload(http: aiohttp.ClientSession, sim: Simulator, model: str, data: bytes) -> str:
    status, body = await call(
        http, sim, "GET", "/uploads", params={"action": "getPolicy", "model": model}
    )
    assert status == 200
    status, _ = await post_oss(http, body["data"], data, "input.png")
    assert status == 200
    return f"oss://{body['data']['upload_dir']}/input.png"


async def post_oss(
    http: aiohttp.ClientSession,
    policy: dict[str, Any],
    data: bytes,
    name: str,
    key: str | None = None,
) -> tuple[int, str]:
    form = aiohttp.FormData()
    form.add_field("OSSAccessKeyId", policy["oss_access_key_id"])
    form.add_field("Signature", policy["signature"])
    form.add_field("policy", policy["policy"])
    form.add_field("key", key or f"{policy['upload_dir']}/{name}")
    form.add_field("x-oss-object-acl", policy["x_oss_object_acl"])
    form.add_field("x-oss-forbid-overwrite", policy["x_oss_forbid_overwrite"])
    form.add_field("success_action_status", "200")
    form.add_field("x-oss-content-type", "image/png")
    form.add_field("file", data, filename=name, content_type="image/png")
    async with http.post(policy["upload_host"], data=form) as response:
        return response.status, await response.text()


def probe_video(data: bytes) -> tuple[float, int, int, bool]:
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        seconds = container.duration / 1_000_000
        return seconds, video.width, video.height, bool(container.streams.audio)


# -- auth and headers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [(None, "No API-key provided."), ("sk-wrong", "Invalid API-key provided.")],
)
async def test_auth_is_required(
    http: aiohttp.ClientSession, sim: Simulator, key: str | None, message: str
) -> None:
    sim.config.api_keys = frozenset({KEY})
    status, body = await call(http, sim, "GET", "/tasks/abc", key=key)
    assert status == 401
    assert body["code"] == "InvalidApiKey"
    assert body["message"] == message
    assert body["request_id"]
    assert sim.requests[-1].authorized is False


async def test_api_key_is_never_recorded(http: aiohttp.ClientSession, sim: Simulator) -> None:
    status, _ = await submit(http, sim, kf2v_body(), I2V)
    assert status == 200
    assert sim.requests[-1].authorized is True
    assert "Authorization" not in sim.requests[-1].headers
    assert KEY not in repr(sim.requests) + repr(sim.tasks)


async def test_submit_needs_async_header(http: aiohttp.ClientSession, sim: Simulator) -> None:
    status, body = await call(http, sim, "POST", I2V, body=kf2v_body())
    assert status == 403
    assert body["code"] == "AccessDenied"
    assert "synchronous" in body["message"]


# -- the life of a task per family --------------------------------------------------------------

HAPPY = [
    pytest.param(
        "wan2.7-t2v",
        VG,
        {"prompt": "A fox dances in the snow", "audio_url": "https://example.com/a.mp3"},
        {"resolution": "720P", "ratio": "9:16", "duration": 4, "seed": 3},
        {
            "SR": 720,
            "duration": 4,
            "fps": 30,
            "input_video_duration": 0,
            "output_video_duration": 4,
            "ratio": "9:16",
            "video_count": 1,
        },
        9 / 16,
        True,
        id="wan2.7-t2v-ratio",
    ),
    pytest.param(
        "wan2.7-t2v",
        VG,
        {"prompt": "A fox dances in the snow"},
        {},
        {
            "SR": 1080,
            "duration": 5,
            "fps": 30,
            "input_video_duration": 0,
            "output_video_duration": 5,
            "ratio": "16:9",
            "video_count": 1,
        },
        16 / 9,
        True,
        id="wan2.7-t2v-defaults",
    ),
    pytest.param(
        "wan2.7-i2v",
        VG,
        {
            "prompt": "waves",
            "media": [
                {"type": "first_frame", "url": "UPLOAD"},
                {"type": "driving_audio", "url": "https://example.com/a.mp3"},
            ],
        },
        {"resolution": "720P", "duration": 3, "seed": 7},
        {
            "SR": 720,
            "duration": 3,
            "fps": 30,
            "input_video_duration": 0,
            "output_video_duration": 3,
            "ratio": "9:16",
            "video_count": 1,
        },
        9 / 16,
        True,
        id="wan2.7-media",
    ),
    pytest.param(
        "wan2.6-i2v-flash",
        VG,
        {"prompt": "a cat", "img_url": data_url(1000, 750)},
        {"resolution": "1080P", "duration": 2, "shot_type": "multi"},
        {
            "duration": 2,
            "input_video_duration": 0,
            "output_video_duration": 2,
            "SR": 1080,
            "video_count": 1,
            "audio": True,
        },
        4 / 3,
        True,
        id="wan2.6-flash-img_url",
    ),
    pytest.param(
        "wan2.6-i2v-flash",
        VG,
        {"img_url": data_url(1000, 750), "audio_url": "https://example.com/a.wav"},
        {"resolution": "720P", "duration": 2, "audio": False},
        {
            "duration": 2,
            "input_video_duration": 0,
            "output_video_duration": 2,
            "SR": 720,
            "video_count": 1,
            "audio": False,
        },
        4 / 3,
        False,
        id="wan2.6-flash-silent",
    ),
    pytest.param(
        "wan2.2-kf2v-flash",
        I2V,
        {"first_frame_url": data_url(640, 640), "last_frame_url": data_url(640, 640)},
        {"resolution": "480P"},
        {"video_duration": 5, "video_count": 1, "SR": 480},
        1.0,
        False,
        id="wan2.2-kf2v-keyframes",
    ),
    pytest.param(
        "wanx2.1-kf2v-plus",
        I2V,
        {"first_frame_url": "https://example.com/a.png", "template": "hanfu-1"},
        {},
        {"video_duration": 5, "video_count": 1, "video_ratio": "standard"},
        16 / 9,
        False,
        id="wan2.1-kf2v-template",
    ),
]


@pytest.mark.parametrize(
    ("model", "path", "inputs", "parameters", "usage", "aspect", "sound"), HAPPY
)
async def test_task_runs_to_a_playable_video(
    http: aiohttp.ClientSession,
    sim: Simulator,
    clock: VirtualClock,
    model: str,
    path: str,
    inputs: dict[str, Any],
    parameters: dict[str, Any],
    usage: dict[str, Any],
    aspect: float,
    sound: bool,
) -> None:
    inputs = dict(inputs)
    if "media" in inputs:
        image = await upload(http, sim, model, samples.make_image(720, 1280))
        inputs["media"] = [
            {**m, "url": image} if m["url"] == "UPLOAD" else m for m in inputs["media"]
        ]
    # What the SDK adds to every input.
    inputs |= {"extend_prompt": True, "function": "video-synthesis"}
    inputs.setdefault("prompt", None)
    body = {"model": model, "input": inputs, "parameters": parameters}
    status, created = await submit(
        http, sim, body, path, **{"X-DashScope-OssResourceResolve": "enable"}
    )
    assert status == 200, created
    assert created["output"]["task_status"] == "PENDING"
    task_id = created["output"]["task_id"]

    _, pending = await call(http, sim, "GET", f"/tasks/{task_id}")
    assert pending["output"]["task_status"] == "PENDING"
    assert set(pending["output"]) == {"task_id", "task_status", "submit_time"}
    assert "usage" not in pending

    clock.advance(1.0)
    _, running = await call(http, sim, "GET", f"/tasks/{task_id}")
    assert running["output"]["task_status"] == "RUNNING"
    assert "scheduled_time" in running["output"]
    assert "end_time" not in running["output"]

    clock.advance(2.0)
    _, done = await call(http, sim, "GET", f"/tasks/{task_id}")
    output = done["output"]
    assert output["task_status"] == "SUCCEEDED"
    assert len(output["submit_time"]) == len("2026-01-01 08:00:00.000")
    assert output["end_time"] > output["scheduled_time"] > output["submit_time"]
    assert done["usage"] == usage
    assert ("actual_prompt" in output) == (not model.startswith("wan2.6"))

    async with http.get(output["video_url"]) as response:
        assert response.status == 200
        assert response.content_type == "video/mp4"
        assert response.content_length is not None
        video = await response.read()
    seconds, width, height, has_audio = probe_video(video)
    duration = usage.get("duration", usage.get("video_duration"))
    assert seconds == pytest.approx(duration, abs=0.3)
    assert max(width, height) == 320
    assert width / height == pytest.approx(aspect, rel=0.05)
    assert has_audio is sound


async def test_wan27_clip_continuation_reports_clip_length(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    model = "wan2.7-i2v"
    clip = await upload(http, sim, model, samples.make_video(2.0, 240, 320))
    body = {
        "model": model,
        "input": {"media": [{"type": "first_clip", "url": clip}]},
        "parameters": {"duration": 6, "resolution": "1080P"},
    }
    status, created = await submit(http, sim, body, **{"X-DashScope-OssResourceResolve": "enable"})
    assert status == 200, created
    clock.advance(3.0)
    _, done = await call(http, sim, "GET", f"/tasks/{created['output']['task_id']}")
    usage = done["usage"]
    assert (usage["duration"], usage["input_video_duration"], usage["output_video_duration"]) == (
        6,
        2,
        4,
    )
    assert usage["ratio"] == "3:4"


# -- bad bodies ---------------------------------------------------------------------------------


def _wan27(*media: tuple[str, str], **parameters: Any) -> dict[str, Any]:
    return {
        "model": "wan2.7-i2v",
        "input": {"media": [{"type": t, "url": u} for t, u in media]},
        "parameters": parameters,
    }


_IMG = "https://example.com/a.png"


def _t2v(**parameters: Any) -> dict[str, Any]:
    return {"model": "wan2.7-t2v", "input": {"prompt": "A fox"}, "parameters": parameters}


def _r2v(*media: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    return {
        "model": "wan2.7-r2v",
        "input": {"prompt": "Image 1 waves", "media": list(media)},
        "parameters": parameters,
    }


_REF = {"type": "reference_image", "url": _IMG}
_REF_CLIP = {"type": "reference_video", "url": "https://example.com/dog.mp4"}


def _edit(*media: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    return {
        "model": "wan2.7-videoedit",
        "input": {"prompt": "Make it claymation", "media": list(media)},
        "parameters": parameters,
    }


_CLIP_URL = {"type": "video", "url": "https://example.com/in.mp4"}

BAD = [
    pytest.param(_wan27(("last_frame", _IMG)), VG, "not a combination", id="combination"),
    pytest.param(_edit(_REF), VG, "not a combination", id="edit-no-clip"),
    pytest.param(_edit(_CLIP_URL, *[_REF] * 5), VG, "at most 4 reference_image", id="edit-five"),
    pytest.param(_edit(_CLIP_URL, _REF_CLIP), VG, "type must be one of", id="edit-ref-clip"),
    pytest.param(
        _edit(_CLIP_URL, audio_setting="loud"), VG, "parameters.audio_setting", id="edit-audio"
    ),
    pytest.param(_edit(_CLIP_URL, duration=11), VG, "parameters.duration 11", id="edit-duration"),
    pytest.param(
        _wan27(("first_frame", _IMG), audio_setting="origin"),
        VG,
        "parameters.audio_setting",
        id="i2v-audio-setting",
    ),
    pytest.param(_r2v(*[_REF] * 6), VG, "at most 5 reference_image", id="r2v-six"),
    pytest.param(
        _r2v({"type": "first_frame", "url": _IMG}), VG, "not a combination", id="r2v-no-reference"
    ),
    pytest.param(
        _r2v(_REF_CLIP, duration=12), VG, "parameters.duration 12", id="r2v-clip-too-long-output"
    ),
    pytest.param(_r2v(_REF, duration=16), VG, "parameters.duration 16", id="r2v-duration"),
    pytest.param(_r2v(_REF, ratio="2:1"), VG, "parameters.ratio '2:1'", id="r2v-ratio"),
    pytest.param(
        {"model": "wan2.7-r2v", "input": {"media": [_REF]}},
        VG,
        "input.prompt is required for wan2.7-r2v",
        id="r2v-no-prompt",
    ),
    pytest.param(
        _wan27(("first_frame", _IMG))
        | {"input": {"media": [{"type": "first_frame", "url": _IMG, "reference_voice": _IMG}]}},
        VG,
        "reference_voice is supported only on reference items",
        id="i2v-voice",
    ),
    pytest.param(
        _wan27(("first_frame", _IMG), ("first_frame", _IMG)), VG, "more than once", id="duplicate"
    ),
    pytest.param(_wan27(("poster", _IMG)), VG, "input.media[0].type", id="media-type"),
    pytest.param(flash_body(resolution="480P"), VG, "parameters.resolution", id="resolution"),
    pytest.param(
        {**flash_body(), "model": "wan2.6-i2v"} | {"parameters": {"duration": 7}},
        VG,
        "5, 10 or 15 s",
        id="duration",
    ),
    pytest.param(kf2v_body(duration=10), I2V, "parameters.duration", id="kf2v-duration"),
    pytest.param(
        {**flash_body(), "input": {"img_url": _IMG, "prompt": "x" * 1501}},
        VG,
        "at most 1500",
        id="prompt-too-long",
    ),
    pytest.param(
        {**flash_body(), "input": {"img_url": _IMG, "negative_prompt": "x" * 501}},
        VG,
        "input.negative_prompt",
        id="negative-prompt-too-long",
    ),
    pytest.param(
        {
            "model": "wanx2.1-kf2v-plus",
            "input": {"first_frame_url": _IMG, "template": "nope"},
        },
        I2V,
        "input.template",
        id="unknown-template",
    ),
    pytest.param(
        {
            "model": "wanx2.1-kf2v-plus",
            "input": {"first_frame_url": _IMG, "last_frame_url": _IMG, "template": "mech1"},
        },
        I2V,
        "cannot be used with input.template",
        id="template-with-last-frame",
    ),
    pytest.param(
        {"model": "wan2.2-kf2v-flash", "input": {"first_frame_url": _IMG}},
        I2V,
        "input.last_frame_url is required",
        id="missing-last-frame",
    ),
    pytest.param(
        {"model": "wan2.6-i2v-flash", "input": {}}, VG, "input.img_url is required", id="no-img"
    ),
    pytest.param(kf2v_body(), VG, "url error, please check url!", id="wrong-path"),
    pytest.param(flash_body(), I2V, "url error, please check url!", id="wrong-path-i2v"),
    pytest.param({**flash_body(), "model": "wan9-i2v"}, VG, "Model not exist.", id="model"),
    pytest.param(
        {"model": "wan2.7-t2v", "input": {"prompt": None, "extend_prompt": True}},
        VG,
        "input.prompt is required for wan2.7-t2v",
        id="t2v-no-prompt",
    ),
    pytest.param(
        {"model": "wan2.7-t2v", "input": {"prompt": "x" * 5001}},
        VG,
        "at most 5000",
        id="t2v-prompt-too-long",
    ),
    pytest.param(_t2v(ratio="21:9"), VG, "parameters.ratio '21:9'", id="t2v-ratio"),
    pytest.param(_t2v(duration=16), VG, "parameters.duration 16", id="t2v-duration-high"),
    pytest.param(_t2v(duration=1), VG, "parameters.duration 1", id="t2v-duration-low"),
    pytest.param(_t2v(resolution="480P"), VG, "parameters.resolution", id="t2v-resolution"),
    pytest.param(
        {"model": "wan2.7-t2v", "input": {"prompt": "A fox", "img_url": _IMG}},
        VG,
        "input.img_url is not supported by wan2.7-t2v",
        id="t2v-image",
    ),
    pytest.param(
        {
            "model": "wan2.7-t2v",
            "input": {"prompt": "A fox", "media": [{"type": "first_frame", "url": _IMG}]},
        },
        VG,
        "input.media is not supported by wan2.7-t2v",
        id="t2v-media",
    ),
    pytest.param(_t2v() | {"model": "wan2.7-t2v"}, I2V, "url error", id="t2v-wrong-path"),
    pytest.param(flash_body(ratio="1:1"), VG, "parameters.ratio '1:1'", id="ratio-on-i2v"),
    pytest.param(
        flash_body(shot_type="triple"), VG, "parameters.shot_type 'triple'", id="shot-type"
    ),
    pytest.param(
        flash_body(shot_type="multi", prompt_extend=False),
        VG,
        "multi takes effect only with prompt_extend true",
        id="multi-shot-without-prompt-extend",
    ),
    pytest.param(
        _t2v(shot_type="multi"),
        VG,
        "parameters.shot_type 'multi' is not supported by wan2.7-t2v",
        id="shot-type-on-t2v",
    ),
    pytest.param(
        kf2v_body(shot_type="single"),
        I2V,
        "parameters.shot_type 'single' is not supported by wan2.2-kf2v-flash",
        id="shot-type-on-kf2v",
    ),
    pytest.param(flash_body(seed=-1), VG, "parameters.seed", id="seed"),
    pytest.param(flash_body(seed=2**31), VG, "parameters.seed", id="seed-high"),
    pytest.param(flash_body(prompt_extend="yes"), VG, "parameters.prompt_extend", id="bool"),
    pytest.param(
        _wan27(("first_frame", data_url(400, 400))), VG, "data: URLs", id="data-url-in-media"
    ),
    pytest.param(
        {**flash_body(), "input": {"img_url": "file:///tmp/a.png"}}, VG, "input.img_url", id="file"
    ),
]


@pytest.mark.parametrize(("body", "path", "fragment"), BAD)
async def test_bad_bodies_are_refused(
    http: aiohttp.ClientSession, sim: Simulator, body: dict[str, Any], path: str, fragment: str
) -> None:
    status, answer = await submit(http, sim, body, path)
    assert status == 400, answer
    assert answer["code"] == "InvalidParameter"
    assert fragment in answer["message"]
    assert not sim.tasks


# -- rate limits --------------------------------------------------------------------------------


async def test_concurrency_limit(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    sim.config.submit_per_second["wan2.2-kf2v-flash"] = 100
    for _ in range(2):
        status, _ = await submit(http, sim, kf2v_body(), I2V)
        assert status == 200
    status, body = await submit(http, sim, kf2v_body(), I2V)
    assert status == 429
    assert body["code"] == "Throttling.RateQuota"
    assert "concurrent" in body["message"]
    # Another model has its own budget.
    assert (await submit(http, sim, flash_body()))[0] == 200
    clock.advance(3.0)
    assert (await submit(http, sim, kf2v_body(), I2V))[0] == 200


async def test_submit_rate_limit(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    sim.config.concurrency["wan2.6-i2v-flash"] = 100
    for _ in range(5):
        assert (await submit(http, sim, flash_body()))[0] == 200
    status, body = await submit(http, sim, flash_body())
    assert status == 429
    assert body == {
        "request_id": body["request_id"],
        "code": "Throttling.RateQuota",
        "message": "Requests rate limit exceeded, please try again later.",
    }
    clock.advance(1.0)
    assert (await submit(http, sim, flash_body()))[0] == 200


async def test_query_limit_is_shared_by_query_list_and_cancel(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    for _ in range(10):
        assert (await call(http, sim, "GET", "/tasks/nope"))[0] == 200
    for _ in range(5):
        assert (await call(http, sim, "POST", "/tasks/nope/cancel"))[0] == 400
    for _ in range(5):
        assert (await call(http, sim, "GET", "/tasks"))[0] == 200
    status, body = await call(http, sim, "GET", "/tasks/nope")
    assert (status, body["code"]) == (429, "Throttling.RateQuota")
    assert sim.peak_queries_per_second() == 21
    # Another key has its own budget, and its queries are counted apart.
    assert (await call(http, sim, "GET", "/tasks/nope", key="sk-other"))[0] == 200
    assert sim.peak_queries_per_second() == 21
    clock.advance(1.0)
    assert (await call(http, sim, "GET", "/tasks/nope"))[0] == 200
    assert sim.peak_queries_per_second() == 21


async def test_keys_of_one_account_share_its_limits(
    http: aiohttp.ClientSession, sim: Simulator
) -> None:
    sim.config.submit_per_second["wan2.2-kf2v-flash"] = 100
    for _ in range(2):
        assert (await submit(http, sim, kf2v_body(), I2V))[0] == 200
    other = {"X-DashScope-Async": "enable"}
    # Another account has slots of its own …
    status, _ = await call(http, sim, "POST", I2V, body=kf2v_body(), key="sk-other", headers=other)
    assert status == 200
    # … another key of the same account does not.
    sim.config.keys_share_account = True
    status, body = await call(
        http, sim, "POST", I2V, body=kf2v_body(), key="sk-third", headers=other
    )
    assert (status, body["code"]) == (429, "Throttling.RateQuota")
    for _ in range(20):
        assert (await call(http, sim, "GET", "/tasks/nope", key="sk-other"))[0] == 200
    status, _ = await call(http, sim, "GET", "/tasks/nope")
    assert status == 429, "20 queries a second per account, whichever key asks"


# -- cancel, unknown, expiry ---------------------------------------------------------------------


async def test_cancel_pending_then_running_refused(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    _, first = await submit(http, sim, flash_body())
    _, second = await submit(http, sim, flash_body())
    first_id, second_id = first["output"]["task_id"], second["output"]["task_id"]

    status, body = await call(http, sim, "POST", f"/tasks/{first_id}/cancel")
    assert status == 200
    assert set(body) == {"request_id"}
    clock.advance(10.0)
    _, canceled = await call(http, sim, "GET", f"/tasks/{first_id}")
    assert canceled["output"]["task_status"] == "CANCELED"
    assert "usage" not in canceled

    clock.advance(-9.0)  # back to when the second task is RUNNING
    status, body = await call(http, sim, "POST", f"/tasks/{second_id}/cancel")
    assert status == 400
    assert body["code"] == "UnsupportedOperation"
    assert "PENDING" in body["message"]


async def test_unknown_and_expired_tasks(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    status, body = await call(http, sim, "GET", "/tasks/no-such-task")
    assert status == 200
    assert body["output"] == {"task_id": "no-such-task", "task_status": "UNKNOWN"}

    _, created = await submit(http, sim, flash_body())
    task_id = created["output"]["task_id"]
    clock.advance(86_400 + 1)
    _, body = await call(http, sim, "GET", f"/tasks/{task_id}")
    assert body["output"] == {"task_id": task_id, "task_status": "UNKNOWN"}
    # Tasks belong to the key that made them.
    clock.advance(-86_400)
    _, body = await call(http, sim, "GET", f"/tasks/{task_id}", key="sk-other")
    assert body["output"]["task_status"] == "UNKNOWN"


async def test_result_url_expires(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    sim.config.result_ttl_seconds = 60
    _, created = await submit(http, sim, kf2v_body(), I2V)
    clock.advance(3.0)
    _, done = await call(http, sim, "GET", f"/tasks/{created['output']['task_id']}")
    url = done["output"]["video_url"]
    assert "Expires=" in url
    async with http.get(url.replace("Signature=", "Signature=0")) as response:
        assert response.status == 403
    clock.advance(61)
    async with http.get(url) as response:
        assert response.status == 403
        assert "<Code>AccessDenied</Code>" in await response.text()
        assert "Request has expired." in await response.text()


# -- uploads -------------------------------------------------------------------------------------


async def test_upload_flow(http: aiohttp.ClientSession, sim: Simulator) -> None:
    model = "wan2.6-i2v-flash"
    status, answer = await call(
        http, sim, "GET", "/uploads", params={"action": "getPolicy", "model": model}
    )
    assert status == 200
    policy = answer["data"]
    assert policy["upload_dir"].startswith("dashscope-instant/")
    assert policy["upload_host"].endswith("/oss")
    assert (policy["expire_in_seconds"], policy["max_file_size_mb"]) == (300, 100)
    assert (policy["x_oss_object_acl"], policy["x_oss_forbid_overwrite"]) == ("private", "true")

    image = samples.make_image(500, 1000)
    status, text = await post_oss(http, policy, image, "cat.png")  # no Authorization header
    assert (status, text) == (200, "")
    url = f"oss://{policy['upload_dir']}/cat.png"
    assert sim.uploads[url].data == image
    assert sim.uploads[url].model == model
    assert (await post_oss(http, policy, image, "cat.png"))[0] == 409

    body = {"model": model, "input": {"img_url": url}, "parameters": {"duration": 2}}
    status, _ = await submit(http, sim, body, **{"X-DashScope-OssResourceResolve": "enable"})
    assert status == 200
    assert next(iter(sim.tasks.values())).input_size == (500, 1000)

    status, answer = await submit(http, sim, body)
    assert (status, answer["code"]) == (400, "InvalidParameter.DataInspection")
    assert "X-DashScope-OssResourceResolve" in answer["message"]

    missing = {**body, "input": {"img_url": url + ".gone"}}
    status, answer = await submit(
        http, sim, missing, **{"X-DashScope-OssResourceResolve": "enable"}
    )
    assert (status, answer["code"]) == (400, "InvalidParameter.DataInspection")
    assert "Download the media resource timed out" in answer["message"]

    # A file is bound to the model it was uploaded for.
    other = {"model": "wan2.6-i2v", "input": {"img_url": url}}
    status, answer = await submit(http, sim, other, **{"X-DashScope-OssResourceResolve": "enable"})
    assert (status, answer["code"]) == (400, "InvalidParameter.DataInspection")

    # And to the account whose key asked for the policy (any key of it, when keys share one).
    resolve = {"X-DashScope-OssResourceResolve": "enable", "X-DashScope-Async": "enable"}
    status, answer = await call(http, sim, "POST", VG, body=body, key="sk-other", headers=resolve)
    assert (status, answer["code"]) == (400, "InvalidParameter.DataInspection")
    sim.config.keys_share_account = True
    status, _ = await call(http, sim, "POST", VG, body=body, key="sk-other", headers=resolve)
    assert status == 200


async def test_upload_policy_is_checked(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    status, answer = await call(
        http, sim, "GET", "/uploads", params={"action": "getPolicy", "model": "wan9"}
    )
    assert (status, answer["code"]) == (400, "InvalidParameter")
    _, answer = await call(
        http, sim, "GET", "/uploads", params={"action": "getPolicy", "model": "wan2.7-i2v"}
    )
    policy = answer["data"]
    status, text = await post_oss(http, policy, b"x", "a.png", key="elsewhere/a.png")
    assert status == 403
    assert "starts-with" in text
    clock.advance(301)
    status, text = await post_oss(http, policy, b"x", "a.png")
    assert status == 403
    assert "<Code>AccessDenied</Code>" in text
    assert "Invalid according to Policy: Policy expired." in text
    assert not sim.uploads


# -- list ----------------------------------------------------------------------------------------


async def test_list_tasks(http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock) -> None:
    started = clock()
    ids = []
    for body, path in ((flash_body(), VG), (kf2v_body(), I2V), (flash_body(), VG)):
        _, created = await submit(http, sim, body, path)
        ids.append(created["output"]["task_id"])
        clock.advance(2.0)

    status, page = await call(http, sim, "GET", "/tasks", params={"page_size": "2"})
    assert status == 200
    assert (page["total"], page["total_page"], page["page_no"], page["page_size"]) == (3, 2, 1, 2)
    assert [row["task_id"] for row in page["data"]] == [ids[2], ids[1]]
    newest = page["data"][0]
    assert newest["status"] == "RUNNING"
    assert newest["gmt_create"] == round((started + 4.0) * 1000)
    assert newest["model_name"] == "wan2.6-i2v-flash"
    assert newest["user_api_unique_key"].endswith(
        "video-generation:video-synthesis:wan2.6-i2v-flash"
    )

    _, page = await call(
        http,
        sim,
        "GET",
        "/tasks",
        params={"model_name": "wan2.2-kf2v-flash", "status": "SUCCEEDED"},
    )
    assert [row["task_id"] for row in page["data"]] == [ids[1]]
    assert page["data"][0]["end_time"] > page["data"][0]["start_time"]

    _, page = await call(
        http,
        sim,
        "GET",
        "/tasks",
        params={"start_time": "20200101000000", "end_time": "20200101120000"},
    )
    assert page["total"] == 0
    status, answer = await call(
        http,
        sim,
        "GET",
        "/tasks",
        params={"start_time": "20200101000000", "end_time": "20200102000001"},
    )
    assert (status, answer["code"]) == (400, "InvalidParameter")
    assert "24 hours" in answer["message"]

    _, page = await call(http, sim, "GET", "/tasks", key="sk-other")
    assert page["total"] == 0


# -- faults --------------------------------------------------------------------------------------


async def test_scripted_faults_then_normal(
    http: aiohttp.ClientSession, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sim.script("429", "500", "503", "drop", "ok")
    expected = [(429, "Throttling.RateQuota"), (500, "InternalError"), (503, "ModelUnavailable")]
    for status_code in expected:
        status, body = await submit(http, sim, flash_body())
        assert (status, body["code"]) == status_code
    with caplog.at_level(logging.ERROR), pytest.raises(aiohttp.ServerDisconnectedError):
        await submit(http, sim, flash_body())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert (await submit(http, sim, flash_body()))[0] == 200
    assert (await submit(http, sim, flash_body()))[0] == 200
    assert len(sim.tasks) == 2
    with pytest.raises(ValueError, match="Unknown scripted outcome"):
        sim.script("418")


async def test_fault_rates(http: aiohttp.ClientSession, sim: Simulator) -> None:
    sim.config.server_error_rate = 1.0
    status, body = await submit(http, sim, flash_body())
    assert (status, body["code"]) == (500, "InternalError")
    sim.config.server_error_rate, sim.config.drop_rate = 0.0, 1.0
    with pytest.raises(aiohttp.ClientConnectionError):
        await call(http, sim, "POST", "/tasks/x/cancel")
    sim.config.drop_rate = 0.0
    # Uploads and downloads are not API routes: no faults there.
    sim.config.server_error_rate = 1.0
    async with http.post(f"{sim.base_url.removesuffix('/api/v1')}/oss") as response:
        assert response.status == 400


async def test_slow_answer(http: aiohttp.ClientSession, sim: Simulator) -> None:
    sim.script("slow:0.3")
    timeout = aiohttp.ClientTimeout(total=0.05)
    with pytest.raises(TimeoutError):
        async with http.get(
            f"{sim.base_url}/tasks/x", headers={"Authorization": f"Bearer {KEY}"}, timeout=timeout
        ):
            pass


async def test_failure_rate_fails_tasks(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    sim.config.failure_rate = 1.0
    _, created = await submit(http, sim, flash_body())
    clock.advance(3.0)
    _, body = await call(http, sim, "GET", f"/tasks/{created['output']['task_id']}")
    output = body["output"]
    assert output["task_status"] == "FAILED"
    assert output["code"] == "DataInspectionFailed"
    assert output["message"] == "Input or output data may contain inappropriate content."
    assert "video_url" not in output
    assert "usage" not in body


async def test_media_checker_hook(http: aiohttp.ClientSession, sim: Simulator) -> None:
    seen: list[tuple[MediaType, int, str]] = []

    def checker(media_type: MediaType, data: bytes, spec: ModelSpec) -> None:
        seen.append((media_type, len(data), spec.name))
        if media_type is MediaType.LAST_FRAME:
            raise InvalidInput("The last frame is 100×100 px; it must be at least 360 px a side.")

    sim.config.media_checker = checker
    body = kf2v_body()
    body["input"]["last_frame_url"] = data_url(100, 100)
    status, answer = await submit(http, sim, body, I2V)
    assert status == 400
    assert answer["code"] == "InvalidParameter.DataInspection"
    assert answer["message"].startswith("The last frame is 100×100 px")
    # The http first frame is not fetched, so only the data: last frame is checked.
    assert seen == [(MediaType.LAST_FRAME, len(samples.make_image(100, 100)), "wan2.2-kf2v-flash")]
    assert not sim.tasks


async def test_unknown_api_path_answers_json(http: aiohttp.ClientSession, sim: Simulator) -> None:
    status, body = await call(http, sim, "GET", "/services/nothing")
    assert (status, body["code"]) == (404, "InvalidURL")
    assert body["request_id"]


async def test_serve_prints_its_url_and_stops_when_cancelled(
    http: aiohttp.ClientSession, capsys: pytest.CaptureFixture[str]
) -> None:
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve(0, ready=ready))
    try:
        url = await ready
        assert f"listening on {url}" in capsys.readouterr().out
        async with http.get(f"{url}/tasks/x", headers={"Authorization": "Bearer k"}) as response:
            assert (await response.json())["output"]["task_status"] == "UNKNOWN"
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server
    assert server.cancelled()


async def test_timing_hook_sets_each_tasks_times(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    seen: list[tuple[str, int]] = []

    def timing(model: str, body: dict[str, Any]) -> tuple[float, float]:
        duration = body["parameters"]["duration"]
        seen.append((model, duration))
        return 4.0, 30.0 * duration

    sim.config.timing = timing
    _, created = await submit(http, sim, flash_body(duration=2))
    task_id = created["output"]["task_id"]
    assert seen == [("wan2.6-i2v-flash", 2)]
    task = sim.tasks[task_id]
    assert (task.pending_seconds, task.running_seconds) == (4.0, 60.0)
    for elapsed, status in (
        (3.9, "PENDING"),
        (4.0, "RUNNING"),
        (63.9, "RUNNING"),
        (64.0, "SUCCEEDED"),
    ):
        clock.now = task.submit_time + elapsed
        _, body = await call(http, sim, "GET", f"/tasks/{task_id}")
        assert body["output"]["task_status"] == status


# -- what the result video shows ----------------------------------------------------------------

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 40), (30, 40, 220)


def solid_png(colour: tuple[int, int, int], width: int = 640, height: int = 360) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def png_data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def solid_clip(colours: list[tuple[int, int, int]], fps: int = 10) -> bytes:
    """A clip showing each colour for a second, in order."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for index in range(len(colours) * fps):
            picture = Image.new("RGB", (320, 240), colours[index // fps])
            frame = av.VideoFrame.from_image(picture)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out.getvalue()


def silent_wav(seconds: float) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=44_100)
        assert isinstance(stream, av.AudioStream)
        stream.layout = "mono"
        samples_left = int(seconds * 44_100)
        while samples_left > 0:
            count = min(1024, samples_left)
            frame = av.AudioFrame(format="s16", layout="mono", samples=count)
            frame.planes[0].update(bytes(2 * count))
            frame.sample_rate = 44_100
            container.mux(stream.encode(frame))
            samples_left -= count
        container.mux(stream.encode())
    return out.getvalue()


async def result_video(
    http: aiohttp.ClientSession,
    sim: Simulator,
    clock: VirtualClock,
    body: dict[str, Any],
    path: str = VG,
) -> bytes:
    """Submit a task, let it succeed and download its video."""
    status, created = await submit(
        http, sim, body, path, **{"X-DashScope-OssResourceResolve": "enable"}
    )
    assert status == 200, created
    clock.advance(3.0)
    _, done = await call(http, sim, "GET", f"/tasks/{created['output']['task_id']}")
    async with http.get(done["output"]["video_url"]) as response:
        assert response.status == 200
        return await response.read()


def video_frames(video: bytes) -> list[Image.Image]:
    with av.open(io.BytesIO(video), mode="r") as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def picture_part(image: Image.Image) -> Image.Image:
    """The upper two thirds of a frame, above any writing at its foot."""
    return image.crop((0, 0, image.width, image.height * 2 // 3))


def dominant(image: Image.Image) -> str | None:
    """The colour a picture mostly is: red, green or blue, or None when none stands out."""
    means = ImageStat.Stat(image.convert("RGB")).mean
    for name, channel in (("red", 0), ("green", 1), ("blue", 2)):
        others = [m for i, m in enumerate(means) if i != channel]
        if means[channel] > 100 and means[channel] > 2 * max(others):
            return name
    return None


def text_pixels(image: Image.Image) -> int:
    """How many near-white pixels a picture has: only writing makes them on these inputs."""
    grey = image.convert("L")
    return sum(count for value, count in enumerate(grey.histogram()) if value >= 200)


def kf2v_frames_body(first: str, last: str, prompt: str = "") -> dict[str, Any]:
    inputs = {"first_frame_url": first, "last_frame_url": last}
    return {
        "model": "wan2.2-kf2v-flash",
        "input": {**inputs, "prompt": prompt} if prompt else inputs,
        "parameters": {"resolution": "480P"},
    }


async def wan27_body(
    http: aiohttp.ClientSession, sim: Simulator, media: dict[str, bytes | str], **params: Any
) -> dict[str, Any]:
    """A wan2.7 body whose bytes inputs are uploaded and whose string inputs are URLs as given."""
    items = []
    for kind, data in media.items():
        url = data if isinstance(data, str) else await upload(http, sim, "wan2.7-i2v", data)
        items.append({"type": kind, "url": url})
    return {
        "model": "wan2.7-i2v",
        "input": {"prompt": "a test", "media": items},
        "parameters": {"duration": 3, **params},
    }


@pytest.mark.parametrize("how", ["data: URLs", "oss:// uploads"])
async def test_the_video_starts_on_the_first_frame_and_ends_on_the_last(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock, how: str
) -> None:
    red, blue = solid_png(RED, 400, 400), solid_png(BLUE, 400, 400)
    if how == "data: URLs":
        body = kf2v_frames_body(png_data_url(red), png_data_url(blue))
        video = await result_video(http, sim, clock, body, I2V)
    else:
        body = await wan27_body(http, sim, {"first_frame": red, "last_frame": blue})
        video = await result_video(http, sim, clock, body)
    frames = video_frames(video)
    quarter = len(frames) // 4
    assert [dominant(picture_part(f)) for f in frames[:quarter]] == ["red"] * quarter
    assert [dominant(picture_part(f)) for f in frames[-quarter:]] == ["blue"] * quarter
    assert frames[0].size == (320, 320)


async def test_a_first_frame_of_another_shape_is_letterboxed(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    # A 16:9 first frame gives a 16:9 video; a square last frame is not stretched to fill it.
    body = kf2v_frames_body(
        png_data_url(solid_png(RED, 1280, 720)), png_data_url(solid_png(BLUE, 400, 400))
    )
    last = video_frames(await result_video(http, sim, clock, body, I2V))[-1]
    assert last.size == (320, 180)
    left, middle = last.crop((0, 0, 60, 100)), last.crop((100, 0, 220, 100))
    assert dominant(middle) == "blue"
    assert ImageStat.Stat(left.convert("L")).mean[0] < 20  # a black bar, not blue


async def test_a_continuation_plays_the_clip_then_holds_its_last_frame(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    clip = solid_clip([RED, GREEN])  # two seconds: red, then green
    body = await wan27_body(http, sim, {"first_clip": clip}, duration=6)
    frames = video_frames(await result_video(http, sim, clock, body))
    assert len(frames) == 60
    assert {dominant(picture_part(f)) for f in frames[:8]} == {"red"}
    assert {dominant(picture_part(f)) for f in frames[12:18]} == {"green"}
    # After the clip's two seconds the video stays on the clip's last frame.
    assert {dominant(picture_part(f)) for f in frames[25:]} == {"green"}
    assert frames[0].size == (320, 240)


async def test_inputs_given_as_http_urls_are_drawn_as_labelled_placeholders(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    body = kf2v_frames_body("https://example.com/a.png", png_data_url(solid_png(BLUE)))
    frames = video_frames(await result_video(http, sim, clock, body, I2V))
    first = frames[0]
    assert dominant(picture_part(first)) is None
    # Words in the middle of the frame say what it stands for; the last frame is still the input.
    assert text_pixels(first.crop((0, first.height // 4, first.width, first.height * 3 // 4))) > 30
    assert dominant(picture_part(frames[-1])) == "blue"


async def test_the_model_and_mode_are_written_at_the_foot_of_the_video(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    red, blue = png_data_url(solid_png(RED)), png_data_url(solid_png(BLUE))
    kf2v = video_frames(await result_video(http, sim, clock, kf2v_frames_body(red, blue), I2V))
    first = kf2v[0]
    foot = first.crop((0, first.height * 3 // 4, first.width, first.height))
    # Plain red inputs have no near-white pixels: writing makes them, at the foot only.
    assert text_pixels(foot) > 50
    assert text_pixels(picture_part(first)) == 0

    # The same frames through another model: the same picture, other words at the foot.
    wan27 = await wan27_body(
        http, sim, {"first_frame": solid_png(RED), "last_frame": solid_png(BLUE)}
    )
    other = video_frames(await result_video(http, sim, clock, wan27))[0]
    other_foot = other.crop((0, other.height * 3 // 4, other.width, other.height))
    assert largest_difference(picture_part(first), picture_part(other)) <= 8
    assert largest_difference(foot, other_foot) > 100


def largest_difference(one: Image.Image, other: Image.Image) -> int:
    """The largest difference of any channel of any pixel (small ones are the encoder's)."""
    return int(max(high for _, high in ImageStat.Stat(ImageChops.difference(one, other)).extrema))


async def test_different_inputs_give_different_videos_and_the_same_inputs_the_same(
    http: aiohttp.ClientSession, clock: VirtualClock
) -> None:
    red, blue = png_data_url(solid_png(RED)), png_data_url(solid_png(BLUE))
    videos = []
    # Two simulators, so the second video is made again rather than taken from a cache.
    for first, last in ((red, blue), (blue, red), (red, blue)):
        async with Simulator(SimulatorConfig(), clock=clock) as sim:
            body = kf2v_frames_body(first, last, prompt="Day turns to night")
            videos.append(await result_video(http, sim, clock, body, I2V))
    assert videos[0] != videos[1]
    assert videos[0] == videos[2]


def audio_level(video: bytes) -> float:
    """The loudest sample of a video's soundtrack, from 0 to 1."""
    with av.open(io.BytesIO(video), mode="r") as container:
        assert container.streams.audio, "the video has no sound"
        return max(float(abs(frame.to_ndarray()).max()) for frame in container.decode(audio=0))


async def test_a_driving_audio_the_simulator_can_read_is_the_soundtrack(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    heard = await wan27_body(
        http, sim, {"first_frame": solid_png(RED), "driving_audio": silent_wav(3.0)}
    )
    unheard = await wan27_body(
        http,
        sim,
        {"first_frame": solid_png(RED), "driving_audio": "https://example.com/a.wav"},
    )
    assert audio_level(await result_video(http, sim, clock, heard)) < 0.01
    # Without the audio's bytes the video keeps a tone of its own.
    assert audio_level(await result_video(http, sim, clock, unheard)) > 0.1


async def test_large_videos_are_shared_by_tasks_whose_prompts_differ(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    # Writing each prompt would cost each task an encode of its own at this size.
    sim.config.video_max_side, sim.config.video_fps = 800, 2
    red, blue = png_data_url(solid_png(RED)), png_data_url(solid_png(BLUE))
    one = await result_video(http, sim, clock, kf2v_frames_body(red, blue, "one"), I2V)
    two = await result_video(http, sim, clock, kf2v_frames_body(red, blue, "two"), I2V)
    assert one == two
    sim.config.video_max_side = 320
    small = await result_video(http, sim, clock, kf2v_frames_body(red, blue, "one"), I2V)
    assert small != await result_video(http, sim, clock, kf2v_frames_body(red, blue, "two"), I2V)


@pytest.mark.parametrize("kind", ["first_frame", "first_clip"])
async def test_inputs_the_simulator_cannot_read_still_give_a_playable_video(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock, kind: str
) -> None:
    # Without a media checker the simulator takes any bytes; the video says what it could not use.
    body = await wan27_body(http, sim, {kind: b"not a picture at all"})
    video = await result_video(http, sim, clock, body)
    assert probe_video(video) == (pytest.approx(3.0, abs=0.3), 320, 180, True)
    first = video_frames(video)[0]
    assert text_pixels(first.crop((0, first.height // 4, first.width, first.height * 3 // 4))) > 30


async def test_a_retired_model_answers_model_not_found(
    http: aiohttp.ClientSession, sim: Simulator
) -> None:
    sim.config.retired_models = frozenset({"wan2.6-i2v-flash"})
    status, body = await submit(http, sim, flash_body())
    assert (status, body["code"], body["message"]) == (404, "ModelNotFound", "Model not exist.")
    assert not sim.tasks


# -- text to video ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "accepted"), [(2.0, False), (3.0, True), (30.0, True), (31.0, False)]
)
async def test_a_text_to_video_audio_is_checked_against_its_limits(
    http: aiohttp.ClientSession, sim: Simulator, seconds: float, accepted: bool
) -> None:
    sim.config.media_checker = check_media
    audio = await upload(http, sim, "wan2.7-t2v", samples.make_audio(seconds, fmt="mp3"))
    body = {"model": "wan2.7-t2v", "input": {"prompt": "She sings", "audio_url": audio}}
    status, answer = await submit(http, sim, body, **{"X-DashScope-OssResourceResolve": "enable"})
    if accepted:
        assert status == 200, answer
        return
    assert status == 400, answer
    assert answer["code"] == "InvalidParameter.DataInspection"
    assert "3–30 s" in answer["message"] or "30" in answer["message"], answer["message"]
    assert not sim.tasks


async def test_a_text_to_video_shows_its_prompt_model_and_mode_in_the_shape_asked(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    def body(prompt: str, ratio: str, audio: str | None = None) -> dict[str, Any]:
        inputs = {"prompt": prompt} | ({"audio_url": audio} if audio else {})
        return {"model": "wan2.7-t2v", "input": inputs, "parameters": {"ratio": ratio}}

    square = video_frames(await result_video(http, sim, clock, body("A fox in snow", "1:1")))[0]
    assert square.width == square.height
    # The middle of the picture names what was asked (no picture to show), the foot the model.
    assert text_pixels(picture_part(square)) > 50
    other = video_frames(await result_video(http, sim, clock, body("A whale at sea", "1:1")))[0]
    assert largest_difference(picture_part(square), picture_part(other)) > 100
    tall = video_frames(await result_video(http, sim, clock, body("A fox in snow", "3:4")))[0]
    assert tall.width / tall.height == pytest.approx(3 / 4, rel=0.05)
    # With an audio the label says so: the foot differs, the scene does not.
    sung = body("A fox in snow", "1:1", "https://example.com/a.mp3")
    with_audio = video_frames(await result_video(http, sim, clock, sung))[0]
    foot = square.crop((0, square.height * 3 // 4, square.width, square.height))
    sung_foot = with_audio.crop((0, square.height * 3 // 4, square.width, square.height))
    assert largest_difference(foot, sung_foot) > 100


def test_the_mode_of_a_text_to_video_is_named() -> None:
    assert mode_text(frozenset(), None) == "text"
    assert mode_text(frozenset({MediaType.DRIVING_AUDIO}), None) == "text+audio"


def test_a_multi_shot_video_is_named_so() -> None:
    first = frozenset({MediaType.FIRST_FRAME})
    assert mode_text(first, None, multi_shot=True) == "multi-shot first frame"
    assert mode_text(first, None) == "first frame"


async def test_a_multi_shot_video_says_so_at_its_foot(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    def body(**parameters: Any) -> dict[str, Any]:
        picture = png_data_url(solid_png(RED))
        return flash_body(**parameters) | {"input": {"img_url": picture}}

    single = video_frames(await result_video(http, sim, clock, body(shot_type="single")))[0]
    multi = video_frames(await result_video(http, sim, clock, body(shot_type="multi")))[0]
    assert largest_difference(picture_part(single), picture_part(multi)) <= 8
    foot = single.crop((0, single.height * 3 // 4, single.width, single.height))
    multi_foot = multi.crop((0, multi.height * 3 // 4, multi.width, multi.height))
    assert largest_difference(foot, multi_foot) > 100


# -- reference-to-video -------------------------------------------------------------------------


def _solid(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 400), colour).save(out, format="PNG")
    return out.getvalue()


async def test_r2v_draws_each_reference_and_bills_its_clips(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    """Two pictures and a 3 s clip, one with a voice: the video shows every reference side by
    side (each named as the prompt names it), has sound, and the usage bills the clip's seconds
    on top of the output's (../shared/dashscope-api.md §7.1, §7.5)."""
    model = "wan2.7-r2v"
    red = await upload(http, sim, model, _solid((220, 30, 30)))
    blue = await upload(http, sim, model, _solid((30, 30, 220)))
    clip = await upload(http, sim, model, samples.make_video(3.0, 320, 240))
    voice = await upload(http, sim, model, samples.make_audio(2.0))
    body = _r2v(
        {"type": "reference_image", "url": red, "reference_voice": voice},
        {"type": "reference_video", "url": clip, "reference_description": "a dog"},
        {"type": "reference_image", "url": blue},
        duration=5,
        resolution="720P",
        ratio="16:9",
    )
    body["input"] |= {"extend_prompt": True, "function": "video-synthesis"}
    status, created = await submit(http, sim, body, **{"X-DashScope-OssResourceResolve": "enable"})
    assert status == 200, created
    clock.advance(3.0)
    _, done = await call(http, sim, "GET", f"/tasks/{created['output']['task_id']}")
    usage = done["usage"]
    assert (usage["duration"], usage["input_video_duration"], usage["output_video_duration"]) == (
        8,
        3,
        5,
    )
    async with http.get(done["output"]["video_url"]) as response:
        video = await response.read()
    seconds, width, height, has_audio = probe_video(video)
    assert seconds == pytest.approx(5, abs=0.3) and has_audio
    assert width / height == pytest.approx(16 / 9, rel=0.05)
    with av.open(io.BytesIO(video)) as container:
        frame = next(container.decode(video=0)).to_image()
    third = width // 3
    left = ImageStat.Stat(frame.crop((0, 0, third, height))).mean
    right = ImageStat.Stat(frame.crop((2 * third, 0, width, height))).mean
    assert left[0] > left[2] + 40  # Image 1, red, on the left
    assert right[2] > right[0] + 40  # Image 2, blue, on the right
    assert mode_text(frozenset({MediaType.REFERENCE_IMAGE}), None) == "reference"


async def test_r2v_bills_reference_clips_up_to_five_seconds(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock
) -> None:
    model = "wan2.7-r2v"
    clip = await upload(http, sim, model, samples.make_video(4.0, 320, 240))
    body = _r2v({"type": "reference_video", "url": clip}, {"type": "reference_video", "url": clip})
    status, created = await submit(http, sim, body, **{"X-DashScope-OssResourceResolve": "enable"})
    assert status == 200, created
    clock.advance(3.0)
    _, done = await call(http, sim, "GET", f"/tasks/{created['output']['task_id']}")
    assert (done["usage"]["duration"], done["usage"]["input_video_duration"]) == (10, 5)


# -- video edit ---------------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [False, True], ids=["auto", "origin"])
async def test_videoedit_keeps_the_clips_length_and_bills_it(
    http: aiohttp.ClientSession, sim: Simulator, clock: VirtualClock, keep: bool
) -> None:
    """No duration: the video is as long as the clip; the usage bills the clip and the output
    (../shared/dashscope-api.md §7.2, §7.5); a reference image is drawn over the clip."""
    model = "wan2.7-videoedit"
    clip = await upload(http, sim, model, samples.make_video(3.0, 320, 240, with_audio=True))
    coat = await upload(http, sim, model, _solid((220, 30, 30)))
    parameters = {"audio_setting": "origin"} if keep else {}
    body = _edit(
        {"type": "video", "url": clip}, {"type": "reference_image", "url": coat}, **parameters
    )
    status, created = await submit(http, sim, body, **{"X-DashScope-OssResourceResolve": "enable"})
    assert status == 200, created
    clock.advance(3.0)
    _, done = await call(http, sim, "GET", f"/tasks/{created['output']['task_id']}")
    usage = done["usage"]
    assert (usage["duration"], usage["input_video_duration"], usage["output_video_duration"]) == (
        6,
        3,
        3,
    )
    async with http.get(done["output"]["video_url"]) as response:
        video = await response.read()
    seconds, width, height, has_audio = probe_video(video)
    assert seconds == pytest.approx(3, abs=0.3) and has_audio
    assert width / height == pytest.approx(4 / 3, rel=0.05)


async def test_videoedit_cannot_be_longer_than_its_clip(
    http: aiohttp.ClientSession, sim: Simulator
) -> None:
    model = "wan2.7-videoedit"
    clip = await upload(http, sim, model, samples.make_video(3.0, 320, 240))
    body = _edit({"type": "video", "url": clip}, duration=8)
    status, answer = await submit(http, sim, body, **{"X-DashScope-OssResourceResolve": "enable"})
    assert status == 400 and "longer than input.media video" in answer["message"], answer
    assert not sim.tasks
