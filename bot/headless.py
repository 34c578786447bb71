"""Run one generation from the shell: submit, poll, download, and keep the evidence.

The evidence (task id, every provider response, the final URL) is what the provider's docs ask
us to keep for troubleshooting; it is written beside the video, whatever the outcome.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.dashscope import DashScopeClient, TaskResponse, TaskStatus
from bot.errors import WanbotError
from bot.requests import GenerationRequest

Progress = Callable[[str, TaskStatus, float], None]  # task id, status, seconds since submit


class TaskFailed(WanbotError):
    """The provider accepted the task but it did not succeed."""

    def __init__(self, task_id: str, status: TaskStatus, code: str, message: str) -> None:
        self.task_id = task_id
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class PollSchedule:
    """Poll quickly at first, then back off towards `longest` (the docs suggest about 15 s)."""

    first: float = 2.0
    factor: float = 1.5
    longest: float = 15.0

    def intervals(self) -> Iterator[float]:
        interval = self.first
        while True:
            yield interval
            interval = min(self.longest, interval * self.factor)


@dataclass
class Evidence:
    request: dict[str, Any]
    task_id: str | None = None
    responses: list[dict[str, Any]] = field(default_factory=list)
    video_url: str | None = None
    output: str | None = None
    outcome: str = "started"

    def record(self, kind: str, response: TaskResponse) -> None:
        self.responses.append(
            {
                "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "call": kind,
                "body": response.model_dump(mode="json", exclude_unset=True),
            }
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=2, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class Result:
    task_id: str
    output: Path
    evidence_path: Path
    size_bytes: int
    final: TaskResponse
    seconds: float


def evidence_path_for(output: Path) -> Path:
    return output.with_suffix(".json")


async def run_to_file(
    client: DashScopeClient,
    request: GenerationRequest,
    output: Path,
    *,
    schedule: PollSchedule | None = None,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> Result:
    """Submit `request`, poll until it ends, download the video to `output`; raise TaskFailed if it fails."""
    evidence = Evidence(request=request.body())
    evidence_path = evidence_path_for(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    started = clock()
    try:
        response = await client.submit(request)
        evidence.record("submit", response)
        task_id = evidence.task_id = response.task_id
        status = response.status
        if progress:
            progress(task_id, status, 0.0)
        intervals = (schedule or PollSchedule()).intervals()
        while not status.is_final:
            await sleep(next(intervals))
            response = await client.get_task(task_id)
            evidence.record("query", response)
            if response.status != status and progress:
                progress(task_id, response.status, clock() - started)
            status = response.status
        if status is not TaskStatus.SUCCEEDED or not response.output.video_url:
            code = response.output.code or status.value
            message = response.output.message or _status_message(status)
            evidence.outcome = f"{status.value}: {code}"
            raise TaskFailed(task_id, status, code, message)
        evidence.video_url = response.output.video_url
        size = await client.download(response.output.video_url, output)
        evidence.output = str(output)
        evidence.outcome = "SUCCEEDED"
        return Result(task_id, output, evidence_path, size, response, clock() - started)
    except WanbotError as error:
        if evidence.outcome in {"started", "SUCCEEDED"}:
            evidence.outcome = f"error: {error}"
        raise
    finally:
        evidence.save(evidence_path)


def _status_message(status: TaskStatus) -> str:
    return {
        TaskStatus.CANCELED: "The task was canceled.",
        TaskStatus.UNKNOWN: "The provider no longer knows this task (task ids expire after 24 h).",
        TaskStatus.SUCCEEDED: "The task succeeded but gave no video URL.",
    }.get(status, "The task did not succeed.")
