"""What the end-to-end tests share: sample inputs made once per run, the submits the simulator saw,
a job's quota ledger in the bot's SQLite file, and the job an interaction queued."""

from __future__ import annotations

import re
import sqlite3
from functools import cache
from pathlib import Path
from typing import Any

from bot.domain.catalog import IMAGE2VIDEO_PATH, VIDEO_GENERATION_PATH
from bot.media import samples
from bot.simulator import Simulator
from tests.support.fakediscord import Interaction

_QUEUED = re.compile(r"Queued as video #(\d+)")


@cache
def media(name: str) -> tuple[bytes, str]:
    """Sample inputs, made once per run: (bytes, content type)."""
    made = {
        "first.png": lambda: (samples.make_image(1280, 720, hue=0), "image/png"),
        "last.png": lambda: (samples.make_image(1280, 720, hue=3), "image/png"),
        "voice.wav": lambda: (samples.make_audio(3.0), "audio/wav"),
        "long.mp3": lambda: (samples.make_audio(31.0, fmt="mp3"), "audio/mpeg"),
        "clip.mp4": lambda: (samples.make_video(3.0, 640, 360, with_audio=True), "video/mp4"),
    }
    return made[name]()


def submits(simulator: Simulator) -> list[Any]:
    return [
        r
        for r in simulator.requests
        if r.method == "POST" and r.path.endswith((VIDEO_GENERATION_PATH, IMAGE2VIDEO_PATH))
    ]


def ledger(database: Path, job_id: int) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT kind, COUNT(*) FROM quota_ledger WHERE job_id = ? GROUP BY kind", (job_id,)
        ).fetchall()
    return dict(rows)


def job_of(interaction: Interaction) -> int | None:
    for text in interaction.texts():
        if match := _QUEUED.search(text):
            return int(match.group(1))
    return None
