"""Message menus end to end: right-click a message → Apps → "Animate this image" or "Continue this
clip", a modal for the prompt, the video posted in the channel, the quota charged once.

discord.py's real gateway and HTTP code on the fake Discord (every body checked against Discord's
OpenAPI spec, a modal's too), the simulator behind the bot.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.domain.catalog import MediaType
from tests.support.e2e import job_of, ledger, media, submits
from tests.support.fakediscord import FakeDiscord, Interaction, Message
from tests.support.fakediscord.model import EPHEMERAL
from tests.support.fakediscord.wanbot import (
    RunningBot,
    result_messages,
    status_messages,
    status_text,
)

ANIMATE, CONTINUE, EDIT = "Animate this image", "Continue this clip", "Edit this clip"
PROMPT, NEGATIVE = "What should happen in the video", "What to avoid"


async def posted(fake: FakeDiscord, job_id: int) -> Message:
    """Wait until the job's video is posted and its status says Done; the posted video."""

    def done() -> bool:
        return bool(result_messages(fake, job_id)) and any(
            status_text(m) == "Done" for m in status_messages(fake, job_id)
        )

    await fake.wait_for(done, within=20, what=f"video #{job_id} delivered")
    [result] = result_messages(fake, job_id)
    return result


async def opened(fake: FakeDiscord, interaction: Interaction) -> Interaction:
    await fake.wait_for(lambda: interaction.modal is not None, what="the modal")
    assert interaction.replies == [], "a modal is the only answer"
    assert [c["type"] for c in interaction.callbacks] == [9]
    return interaction


async def queued(fake: FakeDiscord, interaction: Interaction) -> int:
    await fake.wait_for(lambda: job_of(interaction) is not None, what="the private 'Queued'")
    assert [c["type"] for c in interaction.callbacks] == [5], "deferred privately, once"
    assert all(m.ephemeral for m in interaction.replies)
    job_id = job_of(interaction)
    assert job_id is not None
    return job_id


def charges(database: Path) -> int:
    with sqlite3.connect(database) as db:
        [(count,)] = db.execute("SELECT COUNT(*) FROM quota_ledger WHERE kind = 'commit'")
    return int(count)


async def test_right_click_a_picture_type_a_prompt_and_the_video_is_posted(
    wanbot: RunningBot,
) -> None:
    fake, simulator = wanbot.fake, wanbot.simulator
    bob = fake.add_member("bob")
    picture = fake.post(bob, fake.upload("cat.png", *media("first.png")), content="my cat")

    menu = await opened(fake, await fake.message_menu(ANIMATE, picture))
    assert menu.modal is not None and menu.modal["title"] == ANIMATE
    assert set(menu.modal_fields()) == {PROMPT, NEGATIVE}
    submitted = await fake.submit(menu, {PROMPT: "The cat waves", NEGATIVE: "blur"})
    job_id = await queued(fake, submitted)

    video = await posted(fake, job_id)
    assert f"<@{fake.member.id}>" in video.content, "the video is the clicker's, not bob's"
    assert [a.filename for a in video.attachments] == [f"wanbot-{job_id}.mp4"]
    [sent] = submits(simulator)
    assert sent.json["model"] == "wan2.7-i2v"
    assert sent.json["input"]["prompt"] == "The cat waves"
    assert sent.json["input"]["negative_prompt"] == "blur"
    assert [m["type"] for m in sent.json["input"]["media"]] == [MediaType.FIRST_FRAME.value]
    await wanbot.bot.engine.settle()
    assert ledger(wanbot.services.settings.database_path, job_id) == {"reserve": 1, "commit": 1}

    # Anyone's clip, continued from its message menu on wan2.7-i2v.
    clip = fake.post(bob, fake.upload("walk.mp4", *media("clip.mp4")))
    menu = await opened(fake, await fake.message_menu(CONTINUE, clip))
    submitted = await fake.submit(menu, {"What happens next": "The cat jumps"})
    continued = await queued(fake, submitted)
    await posted(fake, continued)
    sent = submits(simulator)[-1]
    assert sent.json["model"] == "wan2.7-i2v"
    assert [m["type"] for m in sent.json["input"]["media"]] == [MediaType.FIRST_CLIP.value]
    await wanbot.bot.engine.settle()
    assert ledger(wanbot.services.settings.database_path, continued) == {
        "reserve": 1,
        "commit": 1,
    }


async def test_right_click_a_clip_and_edit_it_by_instruction(wanbot: RunningBot) -> None:
    fake, simulator = wanbot.fake, wanbot.simulator
    clip = fake.post(fake.add_member("bob"), fake.upload("walk.mp4", *media("clip.mp4")))

    menu = await opened(fake, await fake.message_menu(EDIT, clip))
    submitted = await fake.submit(menu, {"How to change the clip": "Make it claymation"})
    job_id = await queued(fake, submitted)

    await posted(fake, job_id)
    [sent] = submits(simulator)
    assert sent.json["model"] == "wan2.7-videoedit"
    assert sent.json["input"]["prompt"] == "Make it claymation"
    assert [m["type"] for m in sent.json["input"]["media"]] == [MediaType.VIDEO.value]
    await wanbot.bot.engine.settle()
    assert ledger(wanbot.services.settings.database_path, job_id) == {"reserve": 1, "commit": 1}


async def test_a_message_without_a_picture_gets_a_private_refusal_and_costs_nothing(
    wanbot: RunningBot,
) -> None:
    fake, simulator = wanbot.fake, wanbot.simulator
    words = fake.say(fake.add_member("bob"), "no picture here")

    interaction = await fake.message_menu(ANIMATE, words)
    await fake.wait_for(lambda: bool(interaction.texts()), what="a private answer")
    assert interaction.modal is None
    assert interaction.callbacks[0]["type"] == 4
    assert interaction.callbacks[0]["data"]["flags"] & EPHEMERAL
    assert all(m.ephemeral for m in interaction.replies)
    assert "That message has no image attached." in " ".join(interaction.texts())
    assert submits(simulator) == []
    assert fake.channel_messages() == [words], "nothing public"
    assert charges(wanbot.services.settings.database_path) == 0


async def test_the_menus_are_synced_with_the_commands_in_every_language(
    wanbot: RunningBot,
) -> None:
    await wanbot.bot.tree.sync()
    menus = {c["name"]: c for c in wanbot.fake.synced_commands if c["type"] == 3}
    assert set(menus) == {ANIMATE, CONTINUE, EDIT}
    for menu in menus.values():
        assert menu["contexts"] == [0], "in servers only"
        assert {"ja", "de", "fr", "zh-CN"} <= set(menu["name_localizations"])


async def test_a_window_sent_after_a_restart_is_answered_and_costs_nothing(
    wanbot: RunningBot,
) -> None:
    fake, simulator = wanbot.fake, wanbot.simulator
    picture = fake.post(fake.member, fake.upload("cat.png", *media("first.png")))
    menu = await opened(fake, await fake.message_menu(ANIMATE, picture))
    assert menu.modal is not None
    # As if the bot had restarted since it opened the window: another run's id.
    menu.modal = menu.modal | {"custom_id": "wanbot:menu:0ldrun00:1:beef"}
    submitted = await fake.submit(menu, {PROMPT: "The cat waves"})
    await fake.wait_for(lambda: bool(submitted.texts()), what="a private answer")
    [text] = submitted.texts()
    assert text.startswith("That window has expired"), text
    assert all(m.ephemeral for m in submitted.replies)
    assert submits(simulator) == []
    assert charges(wanbot.services.settings.database_path) == 0
