"""The DashScope client against the simulator: wire format, retries, uploads, cancel, secrecy."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from bot.dashscope import DashScopeClient, DashScopeError, RetryPolicy, TaskStatus
from bot.domain.catalog import IMAGE2VIDEO_PATH, VIDEO_GENERATION_PATH, MediaType
from bot.engine.virtual import VirtualClock
from bot.media import samples
from bot.media.probe import probe
from bot.run.settings import Settings
from bot.simulator import Simulator
from tests.support.provider import API_KEY, IMAGE_URL, RecordedSleeps, build

FIRST, LAST = MediaType.FIRST_FRAME, MediaType.LAST_FRAME
AUDIO, CLIP = MediaType.DRIVING_AUDIO, MediaType.FIRST_CLIP


def api_requests(simulator: Simulator, path_part: str = "") -> list:
    return [r for r in simulator.requests if "/api/v1" in r.path and path_part in r.path]


MODES = [
    pytest.param("wan2.7-i2v", {FIRST: IMAGE_URL}, {}, VIDEO_GENERATION_PATH, id="first frame"),
    pytest.param(
        "wan2.7-i2v",
        {FIRST: IMAGE_URL, AUDIO: "https://example.com/a.mp3"},
        {},
        VIDEO_GENERATION_PATH,
        id="first frame + audio",
    ),
    pytest.param(
        "wan2.7-i2v",
        {FIRST: IMAGE_URL, LAST: "https://example.com/last.png"},
        {},
        VIDEO_GENERATION_PATH,
        id="first + last frame",
    ),
    pytest.param(
        "wan2.7-i2v",
        {CLIP: "https://example.com/c.mp4"},
        {"duration": 10},
        VIDEO_GENERATION_PATH,
        id="continuation",
    ),
    pytest.param("wan2.6-i2v-flash", {FIRST: IMAGE_URL}, {}, VIDEO_GENERATION_PATH, id="img_url"),
    pytest.param(
        "wan2.2-kf2v-flash",
        {FIRST: IMAGE_URL, LAST: "https://example.com/last.png"},
        {"resolution": "480P"},
        IMAGE2VIDEO_PATH,
        id="kf2v",
    ),
    pytest.param(
        "wanx2.1-kf2v-plus",
        {FIRST: IMAGE_URL},
        {"template": "mech1"},
        IMAGE2VIDEO_PATH,
        id="effect",
    ),
]


@pytest.mark.parametrize(("model", "media", "fields", "path"), MODES)
async def test_submit_sends_the_documented_path_headers_and_body(
    client: DashScopeClient,
    simulator: Simulator,
    model: str,
    media: dict[MediaType, str],
    fields: dict,
    path: str,
) -> None:
    request = build(model, media, **fields)
    response = await client.submit(request)

    assert response.status is TaskStatus.PENDING
    [sent] = api_requests(simulator)
    assert sent.method == "POST"
    assert sent.path == "/api/v1" + path
    assert sent.headers["X-DashScope-Async"] == "enable"
    assert sent.headers["Content-Type"].startswith("application/json")
    assert "X-DashScope-OssResourceResolve" not in sent.headers
    assert sent.authorized
    assert sent.json == request.body()


async def test_a_task_runs_to_success_and_its_video_downloads(
    client: DashScopeClient, simulator: Simulator, clock: VirtualClock, tmp_path: Path
) -> None:
    task_id = (await client.submit(build("wan2.7-i2v", {FIRST: IMAGE_URL}, duration=4))).task_id
    assert (await client.get_task(task_id)).status is TaskStatus.PENDING
    clock.advance(6)
    assert (await client.get_task(task_id)).status is TaskStatus.RUNNING
    clock.advance(10)
    done = await client.get_task(task_id)
    assert done.status is TaskStatus.SUCCEEDED
    assert done.usage and done.usage["duration"] == 4

    assert done.output.video_url is not None
    target = tmp_path / "video.mp4"
    size = await client.download(done.output.video_url, target)
    info = probe(CLIP, target.read_bytes())
    assert size == target.stat().st_size
    assert info.duration == pytest.approx(4, abs=0.3)
    assert info.has_audio
    assert not list(tmp_path.glob("*.part"))


async def test_an_expired_result_url_is_a_clear_error(
    client: DashScopeClient, simulator: Simulator, clock: VirtualClock, tmp_path: Path
) -> None:
    task_id = (await client.submit(build("wan2.7-i2v", {FIRST: IMAGE_URL}))).task_id
    clock.advance(20)
    url = (await client.get_task(task_id)).output.video_url
    assert url is not None
    clock.advance(86_401)
    with pytest.raises(DashScopeError) as failed:
        await client.download(url, tmp_path / "late.mp4")
    assert failed.value.status == 403
    assert not (tmp_path / "late.mp4").exists()
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("outcomes", "status"),
    [
        (["429"], 429),
        (["500"], 500),
        (["503"], 503),
        (["drop"], None),
        (["429", "500", "drop"], None),
    ],
)
async def test_transient_failures_are_retried_with_backoff(
    client: DashScopeClient,
    simulator: Simulator,
    sleeps: RecordedSleeps,
    outcomes: list[str],
    status: int | None,
) -> None:
    simulator.script(*outcomes)
    response = await client.submit(build("wan2.7-i2v", {FIRST: IMAGE_URL}))

    assert response.status is TaskStatus.PENDING
    assert len(api_requests(simulator)) == len(outcomes) + 1
    assert len(sleeps.delays) == len(outcomes)
    # Full jitter: each delay lies between 0 and base * 2**attempt.
    for attempt, delay in enumerate(sleeps.delays):
        assert 0 <= delay <= 0.5 * 2**attempt


async def test_a_timeout_is_retried(
    client: DashScopeClient, simulator: Simulator, sleeps: RecordedSleeps
) -> None:
    simulator.script("slow:2")  # longer than the client's 0.5 s read timeout
    task_id = (await client.submit(build("wan2.7-i2v", {FIRST: IMAGE_URL}))).task_id
    assert task_id
    assert len(sleeps.delays) == 1


async def test_giving_up_reports_the_last_error(
    client: DashScopeClient, simulator: Simulator, sleeps: RecordedSleeps
) -> None:
    simulator.script("500", "500", "500", "500")
    with pytest.raises(DashScopeError) as failed:
        await client.get_task("anything")
    assert failed.value.status == 500
    assert failed.value.code == "InternalError"
    assert failed.value.request_id
    assert len(api_requests(simulator)) == 4
    assert len(sleeps.delays) == 3


async def test_a_400_is_never_retried(
    client: DashScopeClient, simulator: Simulator, sleeps: RecordedSleeps
) -> None:
    request = build("wan2.7-i2v", {FIRST: "oss://dashscope-instant/never/uploaded.png"})
    with pytest.raises(DashScopeError) as failed:
        await client.submit(request)
    assert failed.value.status == 400
    assert failed.value.code.startswith("InvalidParameter")
    assert len(api_requests(simulator)) == 1
    assert sleeps.delays == []


async def test_a_wrong_key_is_a_401_not_retried(
    session: aiohttp.ClientSession, simulator: Simulator, sleeps: RecordedSleeps
) -> None:
    assert simulator.base_url
    client = DashScopeClient(
        session, api_key=SecretStr("sk-wrong"), base_url=simulator.base_url, sleep=sleeps
    )
    with pytest.raises(DashScopeError) as failed:
        await client.get_task("x")
    assert (failed.value.status, failed.value.code) == (401, "InvalidApiKey")
    assert sleeps.delays == []


async def test_retry_after_is_honoured(
    session: aiohttp.ClientSession, sleeps: RecordedSleeps
) -> None:
    answers = [
        web.json_response(
            {"code": "Throttling", "message": "slow down"}, status=429, headers={"Retry-After": "7"}
        )
    ]

    async def handler(request: web.Request) -> web.Response:
        if answers:
            return answers.pop()
        return web.json_response({"output": {"task_id": "t1", "task_status": "RUNNING"}})

    app = web.Application()
    app.router.add_get("/api/v1/tasks/{task_id}", handler)
    async with TestServer(app) as server:
        client = DashScopeClient(
            session,
            api_key=SecretStr(API_KEY),
            base_url=str(server.make_url("/api/v1")),
            sleep=sleeps,
        )
        assert (await client.get_task("t1")).status is TaskStatus.RUNNING
    assert sleeps.delays == [7.0]


async def test_upload_then_submit_with_the_resolve_header(
    client: DashScopeClient, simulator: Simulator
) -> None:
    image = samples.make_image(800, 600)
    url = await client.upload("wan2.7-i2v", "cat.png", image)

    assert url.startswith("oss://dashscope-instant/")
    assert url.endswith("/cat.png")
    policy, post = simulator.requests[-2:]
    assert policy.path == "/api/v1/uploads"
    assert policy.query == {"action": "getPolicy", "model": "wan2.7-i2v"}
    assert post.method == "POST" and not post.path.startswith("/api/v1")
    assert not post.authorized, "the API key must not be sent to the upload host"
    assert simulator.uploads[url].data == image

    response = await client.submit(build("wan2.7-i2v", {FIRST: url}))
    assert response.status is TaskStatus.PENDING
    submit = simulator.requests[-1]
    assert submit.headers["X-DashScope-OssResourceResolve"] == "enable"


async def test_uploaded_bytes_are_checked_by_the_provider(
    client: DashScopeClient, simulator: Simulator
) -> None:
    url = await client.upload("wan2.7-i2v", "tiny.png", samples.make_image(100, 100))
    with pytest.raises(DashScopeError) as refused:
        await client.submit(build("wan2.7-i2v", {FIRST: url}))
    assert refused.value.code == "InvalidParameter.DataInspection"


async def test_cancel_works_only_while_pending(
    client: DashScopeClient, simulator: Simulator, clock: VirtualClock
) -> None:
    pending = (await client.submit(build("wan2.7-i2v", {FIRST: IMAGE_URL}))).task_id
    await client.cancel(pending)
    assert (await client.get_task(pending)).status is TaskStatus.CANCELED

    running = (await client.submit(build("wan2.7-i2v", {FIRST: IMAGE_URL}))).task_id
    clock.advance(6)
    with pytest.raises(DashScopeError) as refused:
        await client.cancel(running)
    assert (refused.value.status, refused.value.code) == (400, "UnsupportedOperation")


async def test_unknown_tasks_answer_unknown(client: DashScopeClient) -> None:
    assert (await client.get_task("no-such-task")).status is TaskStatus.UNKNOWN


async def test_list_tasks_finds_recent_tasks_of_a_model(
    client: DashScopeClient, clock: VirtualClock
) -> None:
    first = await client.submit(build("wan2.7-i2v", {FIRST: IMAGE_URL}))
    await client.submit(build("wan2.6-i2v-flash", {FIRST: IMAGE_URL}))
    now = datetime.fromtimestamp(clock(), UTC)
    listed = await client.list_tasks(
        start=now - timedelta(hours=1), end=now + timedelta(minutes=1), model="wan2.7-i2v"
    )
    assert [row.task_id for row in listed.data] == [first.task_id]
    assert listed.data[0].status is TaskStatus.PENDING


async def test_the_key_never_leaks(
    client: DashScopeClient,
    simulator: Simulator,
    clock: VirtualClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = [repr(client), str(client.__dict__.get("_api_key"))]
    simulator.script("500", "drop")
    url = await client.upload("wan2.7-i2v", "cat.png", samples.make_image(800, 600))
    task_id = (await client.submit(build("wan2.7-i2v", {FIRST: url}))).task_id
    clock.advance(30)
    done = await client.get_task(task_id)
    assert done.output.video_url
    await client.download(done.output.video_url, tmp_path / "out.mp4")
    for failing in (client.cancel(task_id), client.get_task("x" * 5000)):
        try:
            await failing
        except DashScopeError as error:
            seen += [str(error), repr(error), repr(error.__dict__)]
    simulator.script("500", "500", "500", "500")
    with pytest.raises(DashScopeError) as gave_up:
        await client.get_task(task_id)
    seen += [str(gave_up.value), repr(gave_up.value.__cause__), repr(gave_up.value.__context__)]

    seen += [record.getMessage() for record in caplog.records]
    seen += [repr(r) for r in simulator.requests]
    assert caplog.records, "the client should log what it retried"
    assert not [text for text in seen if API_KEY in text]
    outside_api = [r for r in simulator.requests if not r.path.startswith("/api/v1")]
    assert outside_api and not any(r.authorized for r in outside_api)


async def test_a_submit_is_given_up_after_its_own_time_limit(
    session: aiohttp.ClientSession, simulator: Simulator
) -> None:
    """WANBOT_SUBMIT_TIMEOUT_SECONDS bounds a whole submit; the engine reconciles it then."""
    assert simulator.base_url
    client = DashScopeClient(
        session,
        api_key=SecretStr(API_KEY),
        base_url=simulator.base_url,
        retry=RetryPolicy(attempts=1),
        submit_seconds=0.3,
    )
    simulator.script("slow:5")
    with pytest.raises(DashScopeError) as refused:
        await client.submit(build("wan2.7-i2v", {FIRST: IMAGE_URL}))
    assert refused.value.unclear


def test_the_submit_deadline_follows_the_submit_time_limit() -> None:
    settings = Settings(submit_timeout_seconds=5, _env_file=None)  # type: ignore[call-arg]
    assert settings.engine_config().submit_deadline_seconds == 20
    assert Settings(_env_file=None).engine_config().submit_deadline_seconds == 90  # type: ignore[call-arg]
