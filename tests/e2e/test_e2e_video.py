"""Every /video mode end to end: discord.py's real gateway and HTTP code, the fake Discord, the simulator.

A real WanBot logs in to the fake; the test dispatches INTERACTION_CREATE as Discord would and
then checks what a member sees: a private deferred reply, one status message per job that is
edited to "Done", one video posted as a reply to it (a playable mp4), and quota charged once.
Every body the bot sends is checked against Discord's OpenAPI spec (see tests/fakediscord/spec.py).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from bot.domain.catalog import IMAGE2VIDEO_PATH, VIDEO_GENERATION_PATH
from bot.media import samples
from bot.media.probe import check_media, probe_video_file
from bot.simulator import Simulator, SimulatorConfig
from tests.fakediscord import FakeDiscord, Interaction, Message
from tests.fakediscord.model import EPHEMERAL
from tests.fakediscord.wanbot import (
    RunningBot,
    fast_settings,
    result_messages,
    running_bot,
    status_messages,
    status_text,
)

_QUEUED = re.compile(r"Queued as video #(\d+)")


@cache
def media(name: str) -> tuple[bytes, str]:
    """Sample inputs, made once per run: (bytes, content type)."""
    made = {
        "first.png": lambda: (samples.make_image(1280, 720, hue=0), "image/png"),
        "last.png": lambda: (samples.make_image(1280, 720, hue=3), "image/png"),
        "voice.wav": lambda: (samples.make_audio(3.0), "audio/wav"),
        "clip.mp4": lambda: (samples.make_video(3.0, 640, 360, with_audio=True), "video/mp4"),
    }
    return made[name]()


@dataclass(frozen=True)
class Mode:
    subcommand: str
    files: dict[str, str]  # option name -> sample file name
    model: str
    options: dict[str, Any] = field(default_factory=dict)


MODES = {
    "animate": Mode("animate", {"image": "first.png"}, "wan2.7-i2v", {"prompt": "A sunrise"}),
    "animate+audio": Mode(
        "animate", {"image": "first.png", "audio": "voice.wav"}, "wan2.7-i2v", {"duration": 3}
    ),
    "interpolate": Mode("interpolate", {"first": "first.png", "last": "last.png"}, "wan2.7-i2v"),
    "continue": Mode("continue", {"clip": "clip.mp4"}, "wan2.7-i2v", {"duration": 6}),
    "continue+last": Mode("continue", {"clip": "clip.mp4", "last_frame": "last.png"}, "wan2.7-i2v"),
    "effect": Mode("effect", {"image": "first.png"}, "wanx2.1-kf2v-plus", {"template": "mech1"}),
    "flash": Mode(
        "animate", {"image": "first.png"}, "wan2.6-i2v-flash", {"model": "wan2.6-i2v-flash"}
    ),
    "kf2v": Mode(
        "interpolate",
        {"first": "first.png", "last": "last.png"},
        "wan2.2-kf2v-flash",
        {"model": "wan2.2-kf2v-flash", "resolution": "480P"},
    ),
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
        server.assert_no_violations()


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(pending_seconds=0.3, running_seconds=0.5, media_checker=check_media)
    async with Simulator(config) as sim:
        yield sim


@pytest.fixture
async def wanbot(
    fake: FakeDiscord, simulator: Simulator, tmp_path: Path
) -> AsyncIterator[RunningBot]:
    async with running_bot(fake, simulator, fast_settings(tmp_path)) as running:
        yield running


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


async def finished(fake: FakeDiscord, job_id: int) -> tuple[list[Message], list[Message]]:
    """Wait until the job's video is posted and its status says Done; return both lists."""

    def done() -> bool:
        return bool(result_messages(fake, job_id)) and any(
            status_text(m) == "Done" for m in status_messages(fake, job_id)
        )

    await fake.wait_for(done, within=20, what=f"video #{job_id} delivered")
    return status_messages(fake, job_id), result_messages(fake, job_id)


def assert_private_deferral(interaction: Interaction) -> None:
    """The first answer is a deferral ("thinking…", only for the member); so is every reply."""
    assert interaction.callbacks[0]["type"] == 5, interaction.callbacks
    assert interaction.callbacks[0]["data"]["flags"] & EPHEMERAL
    assert interaction.replies and all(m.ephemeral for m in interaction.replies)


@pytest.mark.parametrize("name", list(MODES))
async def test_every_mode_end_to_end(name: str, wanbot: RunningBot, tmp_path: Path) -> None:
    mode, fake, simulator = MODES[name], wanbot.fake, wanbot.simulator
    uploads = {
        option: fake.upload(filename, *media(filename)) for option, filename in mode.files.items()
    }
    interaction = await fake.slash("video", mode.subcommand, **uploads, **mode.options)
    await fake.wait_for(lambda: job_of(interaction) is not None, what="the private 'Queued' reply")
    job_id = job_of(interaction)
    assert job_id is not None
    assert_private_deferral(interaction)

    statuses, results = await finished(fake, job_id)
    assert len(statuses) == 1, f"{len(statuses)} status messages for one job"
    status = statuses[0]
    assert status.edits, "the status message was never edited"
    assert len(results) == 1, f"video #{job_id} was posted {len(results)} times"
    result = results[0]
    assert result.reply_to == status.id
    assert [a.filename for a in result.attachments] == [f"wanbot-{job_id}.mp4"]
    video = tmp_path / "posted.mp4"
    video.write_bytes(result.attachments[0].data)
    info = probe_video_file(video)
    assert info.kind == "video" and info.duration and info.duration > 0
    assert {f"wanbot:retry:{job_id}", f"wanbot:extend:{job_id}"} <= set(result.custom_ids())

    sent = submits(simulator)
    assert len(sent) == 1
    assert sent[0].json["model"] == mode.model
    await wanbot.bot.engine.settle()
    assert ledger(wanbot.services.settings.database_path, job_id) == {"reserve": 1, "commit": 1}


async def test_bad_input_gets_a_private_answer_and_submits_nothing(wanbot: RunningBot) -> None:
    fake, simulator = wanbot.fake, wanbot.simulator
    not_an_image = fake.upload("first.png", b"this is not a picture", "image/png")
    interaction = await fake.slash("video", "animate", image=not_an_image)
    await fake.wait_for(lambda: bool(interaction.texts()), what="a private answer")
    assert all(m.ephemeral for m in interaction.replies)
    text = " ".join(interaction.texts())
    assert "image" in text.lower() or "picture" in text.lower(), text
    assert "Traceback" not in text and "Error" not in text.split()[0]
    assert submits(simulator) == []
    assert fake.channel_messages() == []  # nothing public: no status message, no video


async def test_one_status_message_when_discord_is_slow(wanbot: RunningBot) -> None:
    fake = wanbot.fake
    fake.faults.delay("POST", r"/channels/\d+/messages", 0.3)  # a realistic round trip
    image = fake.upload("first.png", *media("first.png"))
    interaction = await fake.slash("video", "animate", image=image)
    await fake.wait_for(lambda: job_of(interaction) is not None, what="the 'Queued' reply")
    job_id = job_of(interaction)
    assert job_id is not None
    statuses, results = await finished(fake, job_id)
    assert len(statuses) == 1, f"{len(statuses)} status messages for one job"
    assert len(results) == 1
