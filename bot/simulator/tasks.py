"""The task endpoints: create, query, cancel and list, within the account's rate limits.

A submission is validated, its visible inputs inspected, then counted against the model's
submits per second and concurrent tasks; queries, lists and cancels share one budget per second
per account. Each key is an account of its own unless keys share one, when these limits are
the account's, shared by its keys. A task is visible to the account that made it until its time
to live runs out, after which its id answers UNKNOWN.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from collections import deque
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.dashscope.models import PROVIDER_TIMEZONE
from bot.domain.catalog import (
    IMAGE2VIDEO_PATH,
    MODELS,
    VIDEO_GENERATION_PATH,
    MediaType,
    ModelSpec,
    Reference,
    Slot,
    ratio_size,
)
from bot.simulator.config import Context
from bot.simulator.lifecycle import UNFINISHED, SimTask, TaskInputs, usage
from bot.simulator.results import Results
from bot.simulator.uploads import Uploads
from bot.simulator.validation import (
    Submission,
    input_bytes,
    inspect_inputs,
    probe_size,
    validate_body,
)
from bot.simulator.wire import ACCOUNT_KEY, JSON_KEY, ApiError, bad, ok, throttled

LIST_WINDOW_SECONDS = 24 * 3600
LIST_PAGE_SIZE_MAX = 100  # the real cap is undocumented
# DashScope stamps task times in Beijing time; list windows are read in the same zone.
BEIJING = PROVIDER_TIMEZONE


def _format_time(t: float) -> str:
    stamp = datetime.fromtimestamp(t, BEIJING)
    return stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond // 1000:03d}"


class Tasks:
    """Creates tasks into `tasks` (every task ever made, by id) and answers for them."""

    def __init__(
        self,
        context: Context,
        tasks: dict[str, SimTask],
        uploads: Uploads,
        results: Results,
    ) -> None:
        self.tasks = tasks
        self._context = context
        self._uploads = uploads
        self._results = results
        self._failure_rng = random.Random(f"{context.config.seed}:failures")
        self._submits: dict[tuple[str, str], deque[float]] = {}
        self._queries: dict[str, deque[float]] = {}

    # -- create --------------------------------------------------------------------------------

    async def create_video_generation(self, request: web.Request) -> web.Response:
        """Create a task on the video-generation endpoint."""
        return await self._create(request, VIDEO_GENERATION_PATH)

    async def create_image2video(self, request: web.Request) -> web.Response:
        """Create a task on the image2video endpoint."""
        return await self._create(request, IMAGE2VIDEO_PATH)

    async def _create(self, request: web.Request, path: str) -> web.Response:
        config = self._context.config
        if request.headers.get("X-DashScope-Async", "").lower() != "enable":
            raise ApiError(
                403, "AccessDenied", "current user api does not support synchronous calls"
            )
        body = request[JSON_KEY]
        if not isinstance(body, dict):
            raise bad("The request body must be a JSON object with model, input and parameters.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise bad("model is required.")
        # Unknown models answer 400 InvalidParameter (not 404 ModelNotFound), as the API does for
        # model names it has never heard of.
        spec = MODELS.get(model)
        if spec is None:
            raise bad("Model not exist.")
        if model in config.retired_models:
            raise ApiError(404, "ModelNotFound", "Model not exist.")
        if spec.endpoint != path:
            raise bad("url error, please check url!")
        submission = validate_body(body, spec)
        resolve = request.headers.get("X-DashScope-OssResourceResolve", "").lower() == "enable"
        account: str = request[ACCOUNT_KEY]
        blobs = [
            (media_type, where, data)
            for media_type, where, url in submission.inputs
            if (data := input_bytes(where, url, media_type, spec, resolve, self._uploads, account))
            is not None
        ]
        probe = await inspect_inputs(config.media_checker, spec, blobs)
        seconds = _output_seconds(spec, submission, probe)
        seen = tuple((media_type, data) for media_type, _, data in blobs)
        billed_input = _billed_input_seconds(spec, seen)
        unseen = tuple(m for m, _, _ in submission.inputs if m not in dict(seen))
        # Hashing an upload of many megabytes is kept off the event loop.
        inputs = (
            await asyncio.to_thread(TaskInputs.of, seen, unseen)
            if seen
            else TaskInputs.of(seen, unseen)
        )

        # Rate limits are checked after the last await so that the count and the new task agree.
        now = self._context.clock()
        self._check_submit_limits(account, spec, now)
        pending, running = config.pending_seconds, config.running_seconds
        if config.timing is not None:
            pending, running = config.timing(spec.name, body)
        task = SimTask(
            task_id=str(uuid.uuid4()),
            spec=spec,
            request_id=str(uuid.uuid4()),
            submit_time=now,
            pending_seconds=pending,
            running_seconds=running,
            resolution=submission.resolution,
            duration=seconds,
            prompt=submission.prompt,
            prompt_extend=submission.prompt_extend,
            sound=submission.sound,
            fail=self._failure_rng.random() < config.failure_rate,
            input_size=ratio_size(submission.ratio)
            if submission.ratio
            else probe[:2]
            if probe
            else None,
            clip_seconds=probe[2] if probe else None,
            account=account,
            template=submission.template,
            multi_shot=submission.multi_shot,
            keep_sound=submission.keep_sound,
            billed_input_seconds=billed_input,
            inputs=inputs,
        )
        self.tasks[task.task_id] = task
        return web.json_response(
            {
                "output": {"task_status": "PENDING", "task_id": task.task_id},
                "request_id": task.request_id,
            }
        )

    def limits_of(self, account: str) -> str:
        """Whose limits a call counts against: its key's own account, or the shared one."""
        return "shared" if self._context.config.keys_share_account else account

    def _check_submit_limits(self, account: str, spec: ModelSpec, now: float) -> None:
        config = self._context.config
        per_second = config.submit_per_second.get(spec.name, spec.submit_per_second)
        holder = self.limits_of(account)
        window = self._submits.setdefault((holder, spec.name), deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= per_second:
            raise throttled()
        limit = config.concurrency.get(spec.name, spec.concurrency)
        unfinished = sum(
            1
            for task in self.tasks.values()
            if self.limits_of(task.account) == holder and task.model == spec.name
            if task.status(now) in UNFINISHED
        )
        # Which code the real service uses for the concurrency cap is unconfirmed.
        if unfinished >= limit:
            raise throttled(
                f"Requests rate limit exceeded: {spec.name} allows {limit} concurrent tasks "
                "(PENDING or RUNNING); please try again later."
            )
        window.append(now)

    # -- query, cancel, list -------------------------------------------------------------------

    def _check_query_limit(self, account: str) -> None:
        now = self._context.clock()
        window = self._queries.setdefault(self.limits_of(account), deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= self._context.config.query_limit_per_second:
            raise throttled()
        window.append(now)

    def _visible(self, task_id: str, account: str, now: float) -> SimTask | None:
        task = self.tasks.get(task_id)
        config = self._context.config
        if task is None or (task.account != account and not config.keys_share_account):
            return None
        if now - task.submit_time > config.task_ttl_seconds:
            return None
        return task

    async def get_task(self, request: web.Request) -> web.Response:
        """Answer a task query: its state, times and, once it succeeded, its video and usage."""
        account: str = request[ACCOUNT_KEY]
        self._check_query_limit(account)
        task_id = request.match_info["task_id"]
        now = self._context.clock()
        task = self._visible(task_id, account, now)
        if task is None:
            return ok({"output": {"task_id": task_id, "task_status": "UNKNOWN"}})
        status = task.status(now)
        output: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": status,
            "submit_time": _format_time(task.submit_time),
        }
        payload: dict[str, Any] = {"output": output}
        if status in ("RUNNING", "SUCCEEDED", "FAILED"):
            output["scheduled_time"] = _format_time(task.scheduled_at)
        if status in ("SUCCEEDED", "FAILED"):
            output["end_time"] = _format_time(task.ended_at)
        if status == "FAILED":
            output["code"] = "DataInspectionFailed"
            output["message"] = "Input or output data may contain inappropriate content."
        if status == "SUCCEEDED":
            output["video_url"] = self._results.url(request, task)
            output["orig_prompt"] = task.prompt
            if task.prompt_extend and task.spec.family != "wan2.6":
                output["actual_prompt"] = (
                    f"{task.prompt} Cinematic lighting, smooth camera motion, rich detail."
                ).strip()
            payload["usage"] = usage(task)
        return ok(payload)

    async def cancel_task(self, request: web.Request) -> web.Response:
        """Cancel a task that is still PENDING."""
        account: str = request[ACCOUNT_KEY]
        self._check_query_limit(account)
        now = self._context.clock()
        task = self._visible(request.match_info["task_id"], account, now)
        if task is None or task.status(now) != "PENDING":
            raise ApiError(
                400,
                "UnsupportedOperation",
                "Failed to cancel the task, please confirm if the task is in PENDING status.",
            )
        task.canceled_at = now
        return ok({})

    async def list_tasks(self, request: web.Request) -> web.Response:
        """List the account's tasks in a window of at most 24 hours, filtered and paged."""
        account: str = request[ACCOUNT_KEY]
        self._check_query_limit(account)
        query = request.query
        now = self._context.clock()
        end = self._list_time(query, "end_time", now)
        start = self._list_time(query, "start_time", end - LIST_WINDOW_SECONDS)
        if end < start:
            raise bad("start_time must not be later than end_time.")
        if end - start > LIST_WINDOW_SECONDS:
            raise bad("start_time and end_time may be at most 24 hours apart.")
        page_no = self._list_int(query, "page_no", 1, 1, 10**6)
        page_size = self._list_int(query, "page_size", 10, 1, LIST_PAGE_SIZE_MAX)
        rows = []
        for task in sorted(self.tasks.values(), key=lambda t: t.submit_time, reverse=True):
            if self._visible(task.task_id, account, now) is None:
                continue
            if not start <= task.submit_time <= end:
                continue
            if query.get("task_id") and task.task_id != query["task_id"]:
                continue
            if query.get("model_name") and task.model != query["model_name"]:
                continue
            status = task.status(now)
            if query.get("status") and status != query["status"]:
                continue
            rows.append(self._list_row(task, status))
        page = rows[(page_no - 1) * page_size : page_no * page_size]
        return ok(
            {
                "total": len(rows),
                "data": page,
                "total_page": math.ceil(len(rows) / page_size),
                "page_no": page_no,
                "page_size": page_size,
            }
        )

    @staticmethod
    def _list_time(query: Any, name: str, default: float) -> float:
        text = query.get(name)
        if not text:
            return default
        try:
            return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING).timestamp()
        except ValueError:
            raise bad(f"{name} must be YYYYMMDDhhmmss; got {text!r}.") from None

    @staticmethod
    def _list_int(query: Any, name: str, default: int, low: int, high: int) -> int:
        text = query.get(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise bad(f"{name} must be an integer from {low} to {high}; got {text!r}.")
        return value

    @staticmethod
    def _list_row(task: SimTask, status: str) -> dict[str, Any]:
        service = "image2video" if task.spec.endpoint == IMAGE2VIDEO_PATH else "video-generation"
        row: dict[str, Any] = {
            "api_key_id": str(int(task.account[:12], 16)),  # the key that made it
            "caller_parent_id": "1000000000000000",
            "caller_uid": "1000000000000000",
            "gmt_create": round(task.submit_time * 1000),
            "model_name": task.model,
            "region": "cn-beijing",
            "request_id": task.request_id,
            "status": status,
            "task_id": task.task_id,
            "user_api_unique_key": f"apikey:v1:aigc:{service}:video-synthesis:{task.model}",
        }
        if status in ("RUNNING", "SUCCEEDED", "FAILED"):
            row["start_time"] = round(task.scheduled_at * 1000)
        if status in ("SUCCEEDED", "FAILED"):
            row["end_time"] = round(task.ended_at * 1000)
        return row


def _billed_input_seconds(spec: ModelSpec, seen: tuple[tuple[Slot, bytes], ...]) -> float:
    """The input clips' seconds the model bills (wan2.7-r2v's reference clips, the clip
    wan2.7-videoedit edits; at most its cap), of those the simulator could see and read."""
    if spec.billed_input_cap is None:
        return 0.0
    total = 0.0
    for slot, data in seen:
        reference_clip = (
            isinstance(slot, Reference)
            and not slot.voice
            and slot.role is MediaType.REFERENCE_VIDEO
        )
        if slot is MediaType.VIDEO or reference_clip:
            size = probe_size(slot, data)
            if size is not None and size[2] is not None:
                total += size[2]
    return min(spec.billed_input_cap, total)


def _output_seconds(
    spec: ModelSpec, submission: Submission, probe: tuple[int, int, float | None] | None
) -> int:
    """The video's length: as asked; an edit asked for none (0), its clip's, when seen (else
    5 s); an edit never longer than its clip (refused)."""
    clip = probe[2] if probe and spec.duration_from_input else None
    if spec.duration_from_input and submission.duration == 0:
        return max(1, round(clip)) if clip else 5
    if clip is not None and submission.duration > clip + 0.5:
        raise bad(
            f"parameters.duration {submission.duration} is longer than input.media video "
            f"({clip:.1f} s); an edit is cut from the clip's start."
        )
    return submission.duration
