"""Result videos: their signed, expiring URLs, and the small real MP4s served behind them.

A task's video shows its inputs, so a demo or a test can see they arrived: the first frame
(or first clip) scaled to the video's size, cross-fading to the last frame where one was given,
with the model, the mode (with "multi-shot" when a wan2.6 multi-shot was asked) and the prompt's
first words written at its foot (see drawing.py); a
text-to-video, which has no picture, shows its prompt's first words; a reference-to-video, every
reference side by side, named "Image 1", "Video 1" as the prompt names them; a video edit, its
clip with the reference pictures across its top (its own sound, with audio_setting "origin"). Its size keeps the first
frame's aspect (a text-to-video's: the `ratio` asked) with the longest side `video_max_side`. A video is made when
first downloaded and kept for the tasks that ask for the same thing, so equal requests share one
encode; the prompt is written only on small videos, so large ones (as the delivery bench's) are
shared by tasks whose prompts differ.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import OrderedDict

from aiohttp import web

from bot.simulator.config import Context
from bot.simulator.drawing import VideoPlan, make_result_video, mode_text
from bot.simulator.lifecycle import SimTask
from bot.simulator.wire import RESULTS_PATH, OssError

KEPT_VIDEOS = 32  # the most recently used videos kept; each is tens of kB at the default size


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


class Results:
    """Signs result URLs and serves the video of a succeeded task until its URL expires."""

    def __init__(self, context: Context, tasks: dict[str, SimTask]) -> None:
        self._context = context
        self._tasks = tasks
        self._videos: OrderedDict[str, bytes] = OrderedDict()
        self._video_locks: dict[str, asyncio.Lock] = {}

    def url(self, request: web.Request, task: SimTask) -> str:
        """Return the signed URL of a task's video, on the host the request came to."""
        name = f"{task.task_id}.mp4"
        expires = int(task.ended_at + self._context.config.result_ttl_seconds)
        return (
            f"http://{request.host}{RESULTS_PATH}/{name}?Expires={expires}"
            f"&OSSAccessKeyId=sim&Signature={self._signature(name, expires)}"
        )

    async def download(self, request: web.Request) -> web.Response:
        """Serve a video when its URL's signature holds and it has not expired."""
        name = request.match_info["name"]
        try:
            expires = int(request.query.get("Expires", ""))
        except ValueError:
            expires = -1
        signature = request.query.get("Signature", "")
        if expires < 0 or not hmac.compare_digest(signature, self._signature(name, expires)):
            raise OssError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        clock = self._context.clock
        if clock() > expires:
            raise OssError(403, "AccessDenied", "Request has expired.")
        task = self._tasks.get(name.removesuffix(".mp4"))
        if task is None or task.status(clock()) != "SUCCEEDED":
            raise OssError(404, "NoSuchKey", "The specified key does not exist.")
        return web.Response(body=await self._video_bytes(task), content_type="video/mp4")

    def _signature(self, name: str, expires: int) -> str:
        message = f"{name}:{expires}".encode()
        return hmac.new(self._context.secret, message, hashlib.sha1).hexdigest()

    def _plan(self, task: SimTask) -> VideoPlan:
        config = self._context.config
        width, height = task.input_size or (16, 9)
        scale = config.video_max_side / max(width, height)
        prompt = task.prompt if config.video_max_side <= config.prompt_on_video_max_side else ""
        return VideoPlan(
            seconds=float(task.duration),
            width=_even(width * scale),
            height=_even(height * scale),
            fps=config.video_fps,
            sound=task.sound,
            label=f"{task.model} · {mode_text(task.inputs.roles, task.template, task.multi_shot)}"
            + (" (sound kept)" if task.keep_sound else ""),
            keep_sound=task.keep_sound,
            prompt=prompt,
            seen=task.inputs.seen,
            unseen=task.inputs.unseen,
        )

    async def _video_bytes(self, task: SimTask) -> bytes:
        if self._context.config.result_video is not None:
            return self._context.config.result_video
        plan = self._plan(task)
        # The inputs' digest stands for their bytes; the rest of the plan is small.
        described = repr((plan.seconds, plan.width, plan.height, plan.fps, plan.sound))
        described += repr((plan.label, plan.prompt, task.inputs.digest))
        key = hashlib.sha256(described.encode()).hexdigest()
        lock = self._video_locks.setdefault(key, asyncio.Lock())
        async with lock:
            video = self._videos.get(key)
            if video is None:
                video = await asyncio.to_thread(make_result_video, plan)
                self._videos[key] = video
                while len(self._videos) > KEPT_VIDEOS:
                    self._videos.popitem(last=False)
            self._videos.move_to_end(key)
        if not lock.locked():
            # At worst a later request makes a video again; the lock table does not grow.
            self._video_locks.pop(key, None)
        return video
