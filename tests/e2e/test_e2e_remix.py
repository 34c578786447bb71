"""Remix through the fake Discord and the simulator: a member presses Remix under their video, the
bot answers with a form (interaction callback 9) holding the prompt, the member edits it and sends
it back (interaction type 5, MODAL_SUBMIT), and a second video is posted, charged once, made from
the same inputs with the new prompt. Also after the provider's copy of the inputs has expired
(the clocks driven 49 hours on). Every body the bot sends is checked against Discord's OpenAPI
spec (the `fake` fixture fails the test on a violation)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from bot.simulator import Simulator
from tests.support.e2e import job_of, ledger, media, submits
from tests.support.fakediscord import FakeDiscord, Interaction, Message
from tests.support.fakediscord.wanbot import (
    RunningBot,
    fast_settings,
    result_messages,
    running_bot,
    status_messages,
    status_text,
)

LATER = 49 * 3600.0  # past the provider's 48 hours


async def finished(fake: FakeDiscord, job_id: int) -> tuple[list[Message], list[Message]]:
    """Wait until the job's video is posted and its status says Done; return both lists."""

    def done() -> bool:
        return bool(result_messages(fake, job_id)) and any(
            status_text(m) == "Done" for m in status_messages(fake, job_id)
        )

    await fake.wait_for(done, within=20, what=f"video #{job_id} delivered")
    return status_messages(fake, job_id), result_messages(fake, job_id)


async def _first_video(wanbot: RunningBot) -> tuple[int, Interaction]:
    """A member's video, posted; returns its job and the press of Remix under it."""
    fake = wanbot.fake
    image = fake.upload("first.png", *media("first.png"))
    asked = await fake.slash(
        "video", "animate", image=image, prompt="A cat", negative_prompt="blur", seed=11
    )
    await fake.wait_for(lambda: job_of(asked) is not None, what="the private 'Queued' reply")
    first = job_of(asked)
    assert first is not None
    _, [video] = await finished(fake, first)
    assert f"wanbot:remix:{first}" in video.custom_ids()
    pressed = await fake.press(video, f"wanbot:remix:{first}")
    await fake.wait_for(lambda: bool(pressed.callbacks), what="the answer to Remix")
    return first, pressed


async def _remixed(fake: FakeDiscord, pressed: Interaction, **values: str) -> int:
    sent = await fake.submit_form(pressed, values)
    await fake.wait_for(lambda: job_of(sent) is not None, what="the private 'Queued' reply")
    assert all(reply.ephemeral for reply in sent.replies)
    job_id = job_of(sent)
    assert job_id is not None
    return job_id


async def test_a_member_remixes_their_video_with_a_new_prompt(wanbot: RunningBot) -> None:
    fake, simulator = wanbot.fake, wanbot.simulator
    first, pressed = await _first_video(wanbot)
    form = fake.form(pressed)
    assert form["title"] == f"Remix video #{first}"
    assert fake.form_values(pressed) == {"prompt": "A cat", "negative_prompt": "blur"}

    second = await _remixed(fake, pressed, prompt="A dog")
    assert second != first
    statuses, results = await finished(fake, second)
    assert len(statuses) == 1 and len(results) == 1, "a second video, posted once"

    one, two = (s.json for s in submits(simulator))
    assert two["input"] == {**one["input"], "prompt": "A dog"}, "the same inputs, new words"
    assert two["parameters"] == one["parameters"], "the same settings and seed"
    assert len(simulator.uploads) == 1, "the picture was not uploaded again"
    await wanbot.bot.engine.settle()
    database = wanbot.services.settings.database_path
    assert ledger(database, second) == {"reserve": 1, "commit": 1}, "charged once"
    assert ledger(database, first) == {"reserve": 1, "commit": 1}


def _later(wanbot: RunningBot) -> Callable[[], float]:
    """Drive the simulator's and the input store's clocks 49 hours on (the uploads expire)."""

    def clock() -> float:
        return time.time() + LATER

    wanbot.simulator.clock = clock
    assert wanbot.services.inputs is not None
    wanbot.services.inputs.clock = clock
    return clock


async def test_a_banned_word_in_the_form_is_refused_privately_for_free(
    wanbot: RunningBot,
) -> None:
    fake, simulator = wanbot.fake, wanbot.simulator
    first, pressed = await _first_video(wanbot)
    await wanbot.services.guild_settings.update(fake.guild.id, banned_words=("dog",))
    sent = await fake.submit_form(pressed, {"prompt": "A dog"})
    await fake.wait_for(lambda: bool(sent.texts()), what="the answer to the form")
    assert all(reply.ephemeral for reply in sent.replies)
    assert "“dog”, which this server does not allow" in sent.texts()[0]
    assert job_of(sent) is None and len(submits(simulator)) == 1
    assert ledger(wanbot.services.settings.database_path, first + 1) == {}, "nothing charged"


async def test_a_form_opened_before_a_restart_is_made_after_it(
    fake: FakeDiscord, simulator: Simulator, tmp_path: Path
) -> None:
    settings = fast_settings(tmp_path)
    async with running_bot(fake, simulator, settings) as before:
        first, pressed = await _first_video(before)
    async with running_bot(fake, simulator, settings) as after:  # the same database, a new bot
        second = await _remixed(fake, pressed, prompt="A dog")
        assert second != first
        await finished(fake, second)
        assert submits(simulator)[-1].json["input"]["prompt"] == "A dog"
        await after.bot.engine.settle()


async def test_remix_after_the_uploads_expired_uploads_the_kept_inputs_again(
    wanbot: RunningBot,
) -> None:
    fake, simulator = wanbot.fake, wanbot.simulator
    first, pressed = await _first_video(wanbot)
    _later(wanbot)

    second = await _remixed(fake, pressed, prompt="A dog")
    await finished(fake, second)
    one, two = (s.json for s in submits(simulator))
    assert two["input"]["prompt"] == "A dog"
    assert two["input"]["media"] != one["input"]["media"], "a new upload"
    uploads = list(simulator.uploads.values())
    assert len(uploads) == 2 and uploads[0].data == uploads[1].data, "of the same picture"
    assert two["parameters"] == one["parameters"]
    await wanbot.bot.engine.settle()
    assert ledger(wanbot.services.settings.database_path, second) == {"reserve": 1, "commit": 1}

    # Retry of the first video, by the same code: its picture uploaded again too.
    [video] = result_messages(fake, first)
    retried = await fake.press(video, f"wanbot:retry:{first}")
    await fake.wait_for(lambda: job_of(retried) is not None, what="the answer to Retry")
    third = job_of(retried)
    assert third is not None
    await finished(fake, third)
    assert submits(simulator)[-1].json["input"]["media"] not in (
        one["input"]["media"],
        two["input"]["media"],
    )
    assert len({upload.data for upload in simulator.uploads.values()}) == 1


async def test_remix_of_inputs_no_longer_kept_is_refused_before_the_form(
    wanbot: RunningBot,
) -> None:
    fake, simulator = wanbot.fake, wanbot.simulator
    image = fake.upload("first.png", *media("first.png"))
    asked = await fake.slash("video", "animate", image=image, prompt="A cat")
    await fake.wait_for(lambda: job_of(asked) is not None, what="the private 'Queued' reply")
    first = job_of(asked)
    assert first is not None
    _, [video] = await finished(fake, first)
    _later(wanbot)
    shutil.rmtree(wanbot.services.settings.input_folder)  # past keeping: swept

    pressed = await fake.press(video, f"wanbot:remix:{first}")
    await fake.wait_for(lambda: bool(pressed.texts()), what="the answer to Remix")
    assert pressed.callbacks[0]["type"] == 4, "a private answer, not a form"
    assert all(reply.ephemeral for reply in pressed.replies)
    assert "are no longer kept" in pressed.texts()[0]
    assert len(submits(simulator)) == 1
