"""A task's life as a function of the clock: its state, its times and the usage it bills."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

from bot.domain.catalog import WAN26_I2V_FLASH, MediaType, ModelSpec, Slot

UNFINISHED = frozenset({"PENDING", "RUNNING"})


@dataclass(frozen=True)
class TaskInputs:
    """The media a task was given: the bytes of those the simulator could see (data: URLs and
    oss:// uploads) and the roles of those it could not (http(s) URLs, which it never fetches)."""

    seen: tuple[tuple[Slot, bytes], ...] = ()
    unseen: tuple[Slot, ...] = ()
    digest: str = ""  # of the roles and bytes, so equal inputs can share one result video

    @classmethod
    def of(cls, seen: tuple[tuple[Slot, bytes], ...], unseen: tuple[Slot, ...]) -> TaskInputs:
        """Return the inputs with their digest."""
        digest = hashlib.sha256()
        for media_type, data in seen:
            digest.update(f"{media_type.value}:{len(data)}:".encode())
            digest.update(data)
        digest.update(",".join(slot.value for slot in unseen).encode())
        return cls(seen, unseen, digest.hexdigest())

    @property
    def roles(self) -> frozenset[MediaType]:
        """Every role given, seen or not (a reference's voice is not a role of its own)."""
        slots = [m for m, _ in self.seen] + list(self.unseen)
        return frozenset(
            slot if isinstance(slot, MediaType) else slot.role
            for slot in slots
            if isinstance(slot, MediaType) or not slot.voice
        )


@dataclass
class SimTask:
    """A submitted task; its state is a function of the clock."""

    task_id: str
    spec: ModelSpec
    request_id: str
    submit_time: float
    pending_seconds: float
    running_seconds: float
    resolution: str
    duration: int
    prompt: str
    prompt_extend: bool
    sound: bool
    fail: bool
    input_size: tuple[int, int] | None  # of the first frame or clip, when the bytes were seen
    clip_seconds: float | None
    account: str = field(repr=False)  # a keyed digest of the API key, never the key
    canceled_at: float | None = None
    template: str | None = None
    multi_shot: bool = False
    # Seconds of input the model bills on top of the output (wan2.7-r2v's reference clips, at
    # most its cap), as the simulator measured them.
    billed_input_seconds: float = 0.0
    keep_sound: bool = False  # an edit that keeps its clip's sound
    inputs: TaskInputs = field(default_factory=TaskInputs, repr=False)

    @property
    def model(self) -> str:
        """The model's name."""
        return self.spec.name

    @property
    def scheduled_at(self) -> float:
        """When the task starts RUNNING."""
        return self.submit_time + self.pending_seconds

    @property
    def ended_at(self) -> float:
        """When the task reaches SUCCEEDED or FAILED."""
        return self.scheduled_at + self.running_seconds

    def status(self, now: float) -> str:
        """Return the task status at `now`, ignoring expiry."""
        if self.canceled_at is not None:
            return "CANCELED"
        if now < self.scheduled_at:
            return "PENDING"
        if now < self.ended_at:
            return "RUNNING"
        return "FAILED" if self.fail else "SUCCEEDED"


def usage(task: SimTask) -> dict[str, Any]:
    """Return the usage block a succeeded task reports, in its model family's shape."""
    sr = int(task.resolution.removesuffix("P"))
    seconds = task.duration
    family = task.spec.family
    if family == "wan2.1":
        return {"video_duration": seconds, "video_count": 1, "video_ratio": "standard"}
    if family == "wan2.2":
        return {"video_duration": seconds, "video_count": 1, "SR": sr}
    if family == "wan2.6":
        block: dict[str, Any] = {
            "duration": seconds,
            "input_video_duration": 0,
            "output_video_duration": seconds,
            "SR": sr,
            "video_count": 1,
        }
        if task.model == WAN26_I2V_FLASH.name:
            block["audio"] = task.sound
        return block
    # wan2.7. Unconfirmed: whether `duration` counts the input clip when continuing one; we
    # treat the requested duration as the total and report the clip's length as input.
    clip = round(task.clip_seconds) if task.clip_seconds else 0
    if task.spec.billed_input_cap is not None:  # reference clips: billed on top of the output
        billed = round(task.billed_input_seconds)
        clip, seconds = billed, seconds + billed
    width, height = task.input_size or (16, 9)
    divisor = math.gcd(width, height)
    return {
        "SR": sr,
        "duration": seconds,
        "fps": 30,
        "input_video_duration": clip,
        "output_video_duration": max(0, seconds - clip),
        "ratio": f"{width // divisor}:{height // divisor}",
        "video_count": 1,
    }
