"""Every /video mode end to end: discord.py's real gateway and HTTP code, the fake Discord, the simulator.

A real WanBot logs in to the fake; the test dispatches INTERACTION_CREATE as Discord would and
then checks what a member sees: a private deferred reply, one status message per job that is
edited to "Done", one video posted as a reply to it (a playable mp4), and quota charged once.
Every body the bot sends is checked against Discord's OpenAPI spec (see tests/support/fakediscord/spec.py).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.media.probe import probe_video_file
from tests.support.e2e import job_of, ledger, media, submits
from tests.support.fakediscord import FakeDiscord, Interaction, Message
from tests.support.fakediscord.model import EPHEMERAL
from tests.support.fakediscord.wanbot import (
    RunningBot,
    result_messages,
    status_messages,
    status_text,
)


@dataclass(frozen=True)
class Mode:
    subcommand: str
    files: dict[str, str]  # option name -> sample file name
    model: str
    options: dict[str, Any] = field(default_factory=dict)
    kind: str | None = None  # what the status message's title calls it, where checked


MODES = {
    "animate": Mode("animate", {"image": "first.png"}, "wan2.7-i2v", {"prompt": "A sunrise"}),
    "animate+audio": Mode(
        "animate", {"image": "first.png", "audio": "voice.wav"}, "wan2.7-i2v", {"duration": 3}
    ),
    "interpolate": Mode("interpolate", {"first": "first.png", "last": "last.png"}, "wan2.7-i2v"),
    "continue": Mode("continue", {"clip": "clip.mp4"}, "wan2.7-i2v", {"duration": 6}),
    "continue+last": Mode("continue", {"clip": "clip.mp4", "last_frame": "last.png"}, "wan2.7-i2v"),
    "effect": Mode("effect", {"image": "first.png"}, "wanx2.1-kf2v-plus", {"template": "mech1"}),
    "text": Mode(
        "text", {}, "wan2.7-t2v", {"prompt": "A fox dances", "ratio": "9:16"}, "From text"
    ),
    "text+audio": Mode(
        "text",
        {"audio": "voice.wav"},
        "wan2.7-t2v",
        {"prompt": "She sings", "duration": 3},
        "From text with audio",
    ),
    "reference": Mode(
        "reference",
        {"reference1": "first.png", "reference2": "clip.mp4", "voice1": "voice.wav"},
        "wan2.7-r2v",
        {"prompt": "Image 1 throws a ball to Video 1", "ratio": "1:1", "duration": 4},
        "From references",
    ),
    "edit": Mode(
        "edit",
        {"clip": "clip.mp4", "reference1": "last.png"},
        "wan2.7-videoedit",
        {"prompt": "Make it claymation", "keep_sound": True},
        "Edit",
    ),
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
    if mode.kind:
        assert status.embeds[0]["title"] == f"Video #{job_id} · {mode.kind}"
    if "ratio" in mode.options:  # the shape asked is sent, and the video has it
        assert sent[0].json["parameters"]["ratio"] == mode.options["ratio"]
        width, height = map(int, mode.options["ratio"].split(":"))
        assert info.width and info.height
        assert info.width / info.height == pytest.approx(width / height, rel=0.05)
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


@pytest.mark.parametrize(
    ("options", "files", "says"),
    [
        ({"prompt": "   "}, {}, "write a prompt"),
        ({"prompt": "A fox", "ratio": "21:9"}, {}, "21:9"),
        ({"prompt": "She sings"}, {"audio": "long.mp3"}, "3–30 s"),
    ],
    ids=["no prompt", "bad ratio", "audio too long"],
)
async def test_bad_text_to_video_input_is_refused_for_free(
    wanbot: RunningBot, options: dict[str, Any], files: dict[str, str], says: str
) -> None:
    fake, simulator = wanbot.fake, wanbot.simulator
    uploads = {option: fake.upload(name, *media(name)) for option, name in files.items()}
    interaction = await fake.slash("video", "text", **uploads, **options)
    await fake.wait_for(lambda: bool(interaction.texts()), what="a private answer")
    assert all(m.ephemeral for m in interaction.replies)
    text = " ".join(interaction.texts())
    assert says in text, text
    assert submits(simulator) == []
    assert fake.channel_messages() == []  # nothing public: no status message, no video
    await wanbot.bot.engine.settle()
    assert job_of(interaction) is None


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


async def test_a_model_the_provider_no_longer_has_is_explained_and_refunded(
    wanbot: RunningBot,
) -> None:
    fake, simulator = wanbot.fake, wanbot.simulator
    simulator.config.retired_models = frozenset({"wan2.7-i2v"})
    image = fake.upload("first.png", *media("first.png"))
    interaction = await fake.slash("video", "animate", image=image)
    await fake.wait_for(lambda: job_of(interaction) is not None, what="the 'Queued' reply")
    job_id = job_of(interaction)
    assert job_id is not None

    def told() -> bool:
        return any("no longer available" in m.content for m in fake.channel_messages())

    await fake.wait_for(told, within=20, what="the channel told the model is gone")
    assert result_messages(fake, job_id) == []
    await wanbot.bot.engine.settle()
    assert ledger(wanbot.services.settings.database_path, job_id) == {"reserve": 1, "refund": 1}


async def test_retry_on_a_text_to_video_keeps_its_prompt_audio_and_shape(
    wanbot: RunningBot,
) -> None:
    fake, simulator = wanbot.fake, wanbot.simulator
    audio = fake.upload("voice.wav", *media("voice.wav"))
    asked = await fake.slash("video", "text", prompt="She sings", audio=audio, ratio="1:1")
    await fake.wait_for(lambda: job_of(asked) is not None, what="the private 'Queued' reply")
    first = job_of(asked)
    assert first is not None
    _, [video] = await finished(fake, first)

    pressed = await fake.press(video, f"wanbot:retry:{first}")
    await fake.wait_for(lambda: job_of(pressed) is not None, what="the answer to Retry")
    second = job_of(pressed)
    assert second is not None and second != first
    await finished(fake, second)
    one, two = (s.json for s in submits(simulator))
    assert two["model"] == "wan2.7-t2v"
    assert two["input"] == one["input"]  # the same prompt, the same uploaded audio
    assert two["parameters"]["ratio"] == "1:1"
    assert two["parameters"]["seed"] != one["parameters"].get("seed")


async def test_variations_end_to_end(wanbot: RunningBot) -> None:
    fake, simulator = wanbot.fake, wanbot.simulator
    image = fake.upload("first.png", *media("first.png"))
    interaction = await fake.slash("video", "animate", image=image, seed=5, duration=2, count=2)

    def queued() -> list[int]:
        for text in interaction.texts():
            if text.startswith("Queued as videos"):
                return [int(n) for n in re.findall(r"#(\d+)", text)]
        return []

    await fake.wait_for(lambda: bool(queued()), what="the private 'Queued as videos' reply")
    assert_private_deferral(interaction)
    first, second = queued()
    assert "(4 s of your quota)" in interaction.texts()[-1]
    for job_id in (first, second):  # each its own status message and its own posted video
        statuses, results = await finished(fake, job_id)
        assert len(statuses) == 1 and len(results) == 1
        assert results[0].reply_to == statuses[0].id
    sent = submits(simulator)
    assert sorted(s.json["parameters"]["seed"] for s in sent) == [5, 6]
    assert len(simulator.uploads) == 1  # the picture, uploaded once for both


def _reservation(database: Path, job_id: int) -> tuple[int, int | None]:
    with sqlite3.connect(database) as db:
        row = db.execute(
            "SELECT reserved_seconds, billed_seconds FROM quota_reservations WHERE job_id = ?",
            (job_id,),
        ).fetchone()
    return row[0], row[1]


async def test_a_reference_video_counts_its_clip_and_retry_keeps_every_reference(
    wanbot: RunningBot,
) -> None:
    """Two attachments, a picture and a 3 s clip, with a voice for the picture: one video
    posted, its quota held for the video and the clip (4 + 3 s) and charged once as the
    provider bills it; Retry sends the same references, voice and shape again."""
    fake, simulator = wanbot.fake, wanbot.simulator
    files = {"reference1": "first.png", "reference2": "clip.mp4", "voice1": "voice.wav"}
    uploads = {option: fake.upload(name, *media(name)) for option, name in files.items()}
    asked = await fake.slash(
        "video", "reference", prompt="Image 1 waves at Video 1", duration=4, ratio="4:3", **uploads
    )
    await fake.wait_for(lambda: job_of(asked) is not None, what="the private 'Queued' reply")
    first = job_of(asked)
    assert first is not None
    assert "(7 s of your quota)" in asked.texts()[-1]
    _, [video] = await finished(fake, first)
    await wanbot.bot.engine.settle()
    database = wanbot.services.settings.database_path
    assert ledger(database, first) == {"reserve": 1, "commit": 1}
    assert _reservation(database, first) == (7, 7)

    pressed = await fake.press(video, f"wanbot:retry:{first}")
    await fake.wait_for(lambda: job_of(pressed) is not None, what="the answer to Retry")
    second = job_of(pressed)
    assert second is not None and second != first
    await finished(fake, second)
    one, two = (s.json for s in submits(simulator))
    assert two["model"] == "wan2.7-r2v"
    assert two["input"]["media"] == one["input"]["media"]  # the same uploads, voice and order
    assert [m["type"] for m in one["input"]["media"]] == ["reference_image", "reference_video"]
    assert one["input"]["media"][0]["reference_voice"].startswith("oss://")
    assert two["parameters"]["ratio"] == "4:3" and two["parameters"]["duration"] == 4
    await wanbot.bot.engine.settle()
    assert _reservation(database, second) == (7, 7)


@pytest.mark.parametrize(
    ("options", "files", "says"),
    [
        ({"duration": 12}, {"reference1": "clip.mp4"}, "2–10 s"),
        ({}, {"reference1": "first.png", "voice2": "voice.wav"}, "reference2 is empty"),
        ({}, {"reference1": "voice.wav"}, "neither a picture nor a video clip"),
    ],
    ids=["too long with a clip", "a voice without its reference", "a sound as a reference"],
)
async def test_bad_reference_input_is_refused_for_free(
    wanbot: RunningBot, options: dict[str, Any], files: dict[str, str], says: str
) -> None:
    fake, simulator = wanbot.fake, wanbot.simulator
    uploads = {option: fake.upload(name, *media(name)) for option, name in files.items()}
    interaction = await fake.slash("video", "reference", prompt="Image 1", **uploads, **options)
    await fake.wait_for(lambda: bool(interaction.texts()), what="a private answer")
    assert all(m.ephemeral for m in interaction.replies)
    text = " ".join(interaction.texts())
    assert says in text, text
    assert submits(simulator) == []
    assert fake.channel_messages() == []
    await wanbot.bot.engine.settle()
    assert job_of(interaction) is None


async def test_an_edit_counts_its_clip_and_retry_keeps_it(wanbot: RunningBot) -> None:
    """/video edit with a 3 s clip and a picture: one video as long as the clip, charged once
    for the clip and the video (3 + 3 s); Retry sends the same clip, picture and sound setting."""
    fake, simulator = wanbot.fake, wanbot.simulator
    clip = fake.upload("clip.mp4", *media("clip.mp4"))
    coat = fake.upload("last.png", *media("last.png"))
    asked = await fake.slash(
        "video", "edit", clip=clip, prompt="Make it claymation", reference1=coat, keep_sound=True
    )
    await fake.wait_for(lambda: job_of(asked) is not None, what="the private 'Queued' reply")
    first = job_of(asked)
    assert first is not None
    assert "(6 s of your quota)" in asked.texts()[-1]
    _, [video] = await finished(fake, first)
    await wanbot.bot.engine.settle()
    database = wanbot.services.settings.database_path
    assert ledger(database, first) == {"reserve": 1, "commit": 1}
    assert _reservation(database, first) == (6, 6)

    pressed = await fake.press(video, f"wanbot:retry:{first}")
    await fake.wait_for(lambda: job_of(pressed) is not None, what="the answer to Retry")
    second = job_of(pressed)
    assert second is not None and second != first
    await finished(fake, second)
    one, two = (s.json for s in submits(simulator))
    assert two["model"] == "wan2.7-videoedit"
    assert two["input"]["media"] == one["input"]["media"]
    assert [m["type"] for m in one["input"]["media"]] == ["video", "reference_image"]
    assert one["parameters"]["audio_setting"] == two["parameters"]["audio_setting"] == "origin"
    assert "duration" not in one["parameters"] and "duration" not in two["parameters"]
