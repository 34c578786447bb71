"""Pydantic models of what DashScope answers; unknown fields are kept, never rejected."""

from __future__ import annotations

from datetime import timedelta, timezone
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

# DashScope stamps task times, and reads the task-list window, in Beijing time (UTC+8).
PROVIDER_TIMEZONE = timezone(timedelta(hours=8))

# Task-list rows name the account and key that made each task: never kept, never shown.
ACCOUNT_FIELDS = frozenset({"api_key_id", "caller_uid", "caller_parent_id", "user_api_unique_key"})


def without_account(body: Any) -> Any:
    """`body` (an answer as JSON) with every account identifier removed, at any depth."""
    if isinstance(body, dict):
        return {k: without_account(v) for k, v in body.items() if k not in ACCOUNT_FIELDS}
    if isinstance(body, list):
        return [without_account(item) for item in body]
    return body


class TaskStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUSPENDED = "SUSPENDED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"  # the task does not exist or has expired (task ids live 24 h)

    @property
    def is_final(self) -> bool:
        return self in {
            TaskStatus.SUCCEEDED,
            TaskStatus.FAILED,
            TaskStatus.CANCELED,
            TaskStatus.UNKNOWN,
        }


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class TaskOutput(_Open):
    task_id: str
    task_status: TaskStatus
    submit_time: str | None = None
    scheduled_time: str | None = None
    end_time: str | None = None
    video_url: str | None = None
    orig_prompt: str | None = None
    actual_prompt: str | None = None
    code: str | None = None
    message: str | None = None


class TaskResponse(_Open):
    """The answer to a submit or a task query."""

    request_id: str | None = None
    output: TaskOutput
    usage: dict[str, Any] | None = None

    @property
    def task_id(self) -> str:
        return self.output.task_id

    @property
    def status(self) -> TaskStatus:
        return self.output.task_status


class TaskSummary(_Open):
    task_id: str
    status: TaskStatus
    model_name: str | None = None
    request_id: str | None = None
    api_key_id: str | None = None  # which key made it: tells our tasks from another client's
    gmt_create: int | None = None  # epoch milliseconds
    start_time: int | None = None
    end_time: int | None = None


class TaskList(_Open):
    total: int = 0
    data: list[TaskSummary] = []
    total_page: int = 0
    page_no: int = 1
    page_size: int = 10
    request_id: str | None = None


class UploadPolicy(_Open):
    """What `GET /uploads?action=getPolicy` grants: a signed form for one OSS upload."""

    policy: str
    signature: str
    upload_dir: str
    upload_host: str
    expire_in_seconds: int
    max_file_size_mb: int
    oss_access_key_id: str
    x_oss_object_acl: str = "private"
    x_oss_forbid_overwrite: str = "true"
