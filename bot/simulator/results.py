"""Result videos: their signed, expiring URLs, and the small real MP4s served behind them.

A video is made once per (duration, size, sound, fps) with the first frame's aspect and kept, so
many tasks share one encode.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from aiohttp import web

from bot import samples
from bot.simulator.config import Context
from bot.simulator.lifecycle import SimTask
from bot.simulator.wire import RESULTS_PATH, OssError

_VideoKey = tuple[int, int, int, bool, int]  # duration, width, height, sound, fps


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


class Results:
    """Signs result URLs and serves the video of a succeeded task until its URL expires."""

    def __init__(self, context: Context, tasks: dict[str, SimTask]) -> None:
        self._context = context
        self._tasks = tasks
        self._videos: dict[_VideoKey, bytes] = {}
        self._video_locks: dict[_VideoKey, asyncio.Lock] = {}

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

    async def _video_bytes(self, task: SimTask) -> bytes:
        width, height = task.input_size or (16, 9)
        side = self._context.config.video_max_side
        scale = side / max(width, height)
        fps = self._context.config.video_fps
        key = (task.duration, _even(width * scale), _even(height * scale), task.sound, fps)
        async with self._video_locks.setdefault(key, asyncio.Lock()):
            if key not in self._videos:
                self._videos[key] = await asyncio.to_thread(
                    samples.make_video,
                    float(task.duration),
                    key[1],
                    key[2],
                    fps=fps,
                    with_audio=task.sound,
                )
        return self._videos[key]
