"""Languages from outside: a Japanese member in a German server, through discord.py's gateway.

The commands are synced (their body checked against Discord's OpenAPI spec) with Japanese names;
the member's private answers are in Japanese; the status message and the posted video, which the
whole server reads, are in German. Expected words are read from the catalogs' .po files.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.i18n import catalogs as upkeep
from bot.i18n.catalogs import NAME_CONTEXT
from bot.media.probe import check_media
from bot.simulator import Simulator, SimulatorConfig
from tests.support.e2e import media, submits
from tests.support.fakediscord import FakeDiscord
from tests.support.fakediscord.model import Message
from tests.support.fakediscord.wanbot import RunningBot, fast_settings, running_bot

JAPANESE = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture
async def wanbot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    config = SimulatorConfig(pending_seconds=0.3, running_seconds=0.5, media_checker=check_media)
    async with FakeDiscord() as fake, Simulator(config) as simulator:
        fake.guild.locale = "de"
        fake.member.locale = "ja"
        async with running_bot(fake, simulator, fast_settings(tmp_path)) as running:
            yield running
        fake.assert_no_violations()


async def test_a_japanese_member_in_a_german_server(wanbot: RunningBot) -> None:
    fake = wanbot.fake
    ja, de = upkeep.read("ja"), upkeep.read("de")

    await wanbot.bot.tree.sync()
    video = next(c for c in fake.synced_commands if c["name"] == "video")
    assert video["name_localizations"]["ja"] == ja.get("video", context=NAME_CONTEXT).string
    animate = next(o for o in video["options"] if o["name"] == "animate")
    assert animate["description_localizations"]["ja"] == ja[animate["description"]].string

    interaction = await fake.slash("video", "animate", image=fake.upload(*_image()))
    await fake.wait_for(lambda: bool(interaction.texts()), what="the private answer")
    [answer] = interaction.texts()
    queued = ja[
        "Queued as video #{id} ({s} s of your quota). Progress is posted in this channel."
    ].string
    match = re.fullmatch(
        re.escape(queued).replace(r"\{id\}", r"(\d+)").replace(r"\{s\}", r"\d+"), answer
    )
    assert match, answer
    job_id = int(match.group(1))

    done = de["Done"].string
    await fake.wait_for(
        lambda: _result(fake) is not None and done in _status_values(fake),
        within=20,
        what="the video posted and its status done",
    )
    status = next(m for m in fake.channel_messages() if m.embeds)
    assert [f["name"] for f in status.embeds[0]["fields"]][:3] == [
        de[name].string for name in ("Status", "Model", "Elapsed")
    ]
    result = _result(fake)
    assert result is not None
    ready = de["{mention} your video #{id} is ready."].string
    assert result.content == ready.format(mention=f"<@{fake.member.id}>", id=job_id)
    assert de["Retry"].string in _labels(result)


async def test_bad_input_is_refused_in_the_members_language(wanbot: RunningBot) -> None:
    fake = wanbot.fake
    not_an_image = fake.upload("first.png", b"this is not a picture", "image/png")
    interaction = await fake.slash("video", "animate", image=not_an_image)
    await fake.wait_for(lambda: bool(interaction.texts()), what="a private answer")
    [answer] = interaction.texts()
    assert JAPANESE.search(answer), answer
    assert submits(wanbot.simulator) == [] and fake.channel_messages() == []


def _image() -> tuple[str, bytes, str]:
    return ("first.png", *media("first.png"))


def _result(fake: FakeDiscord) -> Message | None:
    return next((m for m in fake.channel_messages() if m.attachments), None)


def _status_values(fake: FakeDiscord) -> list[str]:
    return [
        str(f.get("value"))
        for m in fake.channel_messages()
        for e in m.embeds
        for f in e.get("fields", ())
    ]


def _labels(message: Message) -> list[str]:
    return [c.get("label", "") for row in message.components for c in row.get("components", ())]
