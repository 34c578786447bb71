"""How the fake service behaves (timings, limits, faults, checks) and what its pieces share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.domain.catalog import ModelSpec, Slot

# Checks an input's bytes for its slot (a role, or a reference or its voice), as the intake does.
MediaChecker = Callable[[Slot, bytes, ModelSpec], object]


@dataclass
class SimulatorConfig:
    """How the fake service behaves; tests may change fields while it runs."""

    pending_seconds: float = 1.0  # time a task stays PENDING
    running_seconds: float = 2.0  # then RUNNING for this long, then SUCCEEDED or FAILED
    result_ttl_seconds: float = 86_400  # the result URL's Expires
    task_ttl_seconds: float = 86_400  # after this a task id answers UNKNOWN
    query_limit_per_second: int = 20  # task query, list and cancel share it, per API key
    concurrency: dict[str, int] = field(default_factory=dict)  # per model; else the catalogue's
    submit_per_second: dict[str, int] = field(default_factory=dict)  # likewise
    failure_rate: float = 0.0  # fraction of tasks that end FAILED (DataInspectionFailed)
    server_error_rate: float = 0.0  # fraction of API requests answered 500 InternalError
    slow_seconds: float = 0.0  # delay before answering every API request
    drop_rate: float = 0.0  # fraction of API requests whose connection is closed unanswered
    seed: int = 0  # for the random faults and failures
    # Models the service no longer has: a submit for one answers 404 ModelNotFound "Model not
    # exist." (a retired model; which answer the real one gives is unconfirmed, see
    # ../shared/dashscope-api.md §7.8).
    retired_models: frozenset[str] = frozenset()
    api_keys: frozenset[str] | None = None  # None: any non-empty Bearer key is accepted
    # Keys of one account see each other's tasks (in queries and the task list), each row naming
    # the key that made it; otherwise each key is an account of its own.
    keys_share_account: bool = False
    video_max_side: int = 320  # generated videos are small: longest side, aspect kept
    video_fps: int = 10
    # The prompt's first words are written on videos whose longest side is at most this. Each
    # prompt costs an encode of its own; larger videos (the delivery bench's 1080p) are shared by
    # every task with the same inputs.
    prompt_on_video_max_side: int = 640
    # Called on the bytes of every input the simulator can see (oss:// and data:) at submission;
    # InvalidInput becomes 400 InvalidParameter.DataInspection.
    media_checker: MediaChecker | None = None
    # Per-task timing: (model name, request body) -> (pending seconds, running seconds), called at
    # task creation; None: every task takes pending_seconds and running_seconds.
    timing: Callable[[str, dict[str, Any]], tuple[float, float]] | None = None
    # Every succeeded task's video is these bytes instead of one drawn for it (a bench's own
    # prepared result: real footage's size and content, which drawings do not have).
    result_video: bytes | None = field(default=None, repr=False)


@dataclass
class Context:
    """What every piece of the simulator reads at call time, so tests may swap them while it runs."""

    config: SimulatorConfig
    clock: Callable[[], float]
    secret: bytes = field(repr=False)  # keys account digests and the upload and result signatures
