"""Remix at the Discord edge: the button opens a form with the video's words, the form's submit
makes a new video with the same inputs and settings, for the requester or a moderator, charged
once; and Retry and Remix still work after the provider's copy of the inputs has expired."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.domain.catalog import MediaType
from bot.engine.virtual import VirtualClock, drive
from bot.i18n import ENGLISH
from cogs.video.commands import VideoCog
from cogs.views import DYNAMIC_ITEMS, RemixButton, RetryButton, result_view
from tests.support.discord_fakes import member, private_replies
from tests.support.video_rig import IMAGE, Rig, make_rig

HOUR = 3600.0


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for made in make_rig(tmp_path):
        yield made


async def _made(rig: Rig, **options: Any) -> int:
    """A video made and finished: "A cat" on a picture, unless `options` say otherwise."""
    before = {job.id for job in await rig.jobs()}
    options = {"prompt": "A cat", **options}
    await rig.call(
        VideoCog.animate,
        rig.fake(),
        image=rig.host.attachment("cat.png", IMAGE, content_type="image/png"),
        **options,
    )
    [job] = [job for job in await rig.jobs() if job.id not in before]

    async def done() -> bool:
        current = await rig.services.jobs.get(job.id)
        return current is not None and current.state.is_final

    await drive(rig.services.engine, rig.clock, until=done)  # type: ignore[arg-type]
    return job.id


def _form(fake: discord.Interaction) -> discord.ui.Modal:
    """The form the bot answered with."""
    fake.response.send_modal.assert_awaited_once()  # type: ignore[attr-defined]
    form = fake.response.send_modal.await_args.args[0]  # type: ignore[attr-defined]
    assert isinstance(form, discord.ui.Modal)
    return form


def _boxes(form: discord.ui.Modal) -> dict[str, discord.ui.TextInput[Any]]:
    return {c.custom_id: c for c in form.children if isinstance(c, discord.ui.TextInput)}


def _submit(rig: Rig, job_id: int, user: discord.Member | None = None, **values: str) -> Any:
    """The form's submit as discord.py hands it over: a raw modal-submit interaction."""
    fake = rig.fake(user)
    fake.type = discord.InteractionType.modal_submit
    fake.data = {
        "custom_id": f"wanbot:remixed:{job_id}",
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
            for key, value in values.items()
        ],
    }
    return fake


async def test_remix_opens_a_form_with_the_videos_words(rig: Rig) -> None:
    job_id = await _made(rig, negative_prompt="blur")
    assert f"wanbot:remix:{job_id}" in [c.custom_id for c in result_view(job_id, ENGLISH).children]
    assert RemixButton in DYNAMIC_ITEMS
    fake = rig.fake()
    await RemixButton(job_id).callback(fake)
    form = _form(fake)
    assert form.custom_id == f"wanbot:remixed:{job_id}"
    assert form.title == f"Remix video #{job_id}"
    boxes = _boxes(form)
    assert boxes["prompt"].default == "A cat" and boxes["negative_prompt"].default == "blur"
    assert boxes["prompt"].max_length == 4000 and not boxes["negative_prompt"].required
    assert private_replies(fake) == [] and len(await rig.jobs()) == 1, "nothing made yet"


async def test_the_submit_makes_the_same_video_with_the_new_words_charged_once(rig: Rig) -> None:
    job_id = await _made(rig, seed=42, duration=3, resolution="720P")
    original = await rig.services.jobs.get(job_id)
    assert original is not None
    used = (await rig.services.quotas.allowance(guild_id=10, user_id=1)).used_seconds

    fake = _submit(rig, job_id, prompt="A dog", negative_prompt="")
    await rig.cog.remix_submitted(fake)
    [reply] = private_replies(fake)
    assert reply.startswith("Queued as video #") and f"a remix of #{job_id}" in reply
    [remixed] = [job for job in await rig.jobs() if job.id != job_id]
    request = remixed.request
    assert (request.prompt, request.negative_prompt) == ("A dog", None)
    assert request.media == original.request.media, "the same inputs, not uploaded again"
    assert request.seed == 42, "the same seed: the words are the only change"
    assert (remixed.model, remixed.duration, remixed.resolution) == ("wan2.7-i2v", 3, "720P")
    assert request.watermark == original.request.watermark
    assert rig.uploads() == 1
    allowance = await rig.services.quotas.allowance(guild_id=10, user_id=1)
    assert (allowance.used_seconds, allowance.held_seconds) == (used + 3, 3), "its 3 s, once"


async def test_a_video_without_a_seed_is_remixed_without_one(rig: Rig) -> None:
    job_id = await _made(rig)
    await rig.cog.remix_submitted(_submit(rig, job_id, prompt="A dog"))
    [remixed] = [job for job in await rig.jobs() if job.id != job_id]
    assert remixed.request.seed is None and remixed.request.prompt == "A dog"


async def test_only_the_requester_or_a_moderator_may_remix(rig: Rig) -> None:
    job_id = await _made(rig)
    stranger = rig.fake(member(2))
    await RemixButton(job_id).callback(stranger)
    assert "only they or a moderator" in private_replies(stranger)[0]
    stranger.response.send_modal.assert_not_awaited()  # type: ignore[attr-defined]
    submit = _submit(rig, job_id, member(2), prompt="Mine now")
    await rig.cog.remix_submitted(submit)
    assert "only they or a moderator" in private_replies(submit)[0]

    moderator = _submit(rig, job_id, member(3, manage_guild=True), prompt="A dog")
    await rig.cog.remix_submitted(moderator)
    assert private_replies(moderator)[0].startswith("Queued as video #")
    [remixed] = await rig.services.jobs.for_user(10, 3)
    assert remixed.request.prompt == "A dog", "made for, and charged to, the moderator"


async def test_bad_words_are_refused_for_free(rig: Rig) -> None:
    job_id = await _made(rig)
    await rig.services.guild_settings.update(10, banned_words=("dog",))
    fake = _submit(rig, job_id, prompt="A dog")
    await rig.cog.remix_submitted(fake)
    assert private_replies(fake) == [
        "The prompt uses “dog”, which this server does not allow. Please rephrase it."
    ]
    fake.response.defer.assert_not_awaited()  # type: ignore[attr-defined]
    assert [job.id for job in await rig.jobs()] == [job_id]


async def test_an_effect_template_has_nothing_to_remix(rig: Rig) -> None:
    image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
    await rig.call(VideoCog.effect, rig.fake(), image=image, template="mech1")
    [job] = await rig.jobs()
    fake = rig.fake()
    await RemixButton(job.id).callback(fake)
    assert "effect template, which takes no prompt" in private_replies(fake)[0]
    fake.response.send_modal.assert_not_awaited()  # type: ignore[attr-defined]


async def test_a_prompt_longer_than_a_form_holds_is_refused_not_cut(rig: Rig) -> None:
    job_id = await _made(rig, prompt="a" * 4500)  # wan2.7-i2v takes 5000
    fake = rig.fake()
    await RemixButton(job_id).callback(fake)
    assert "longer than a Discord form can hold (4000 characters)" in private_replies(fake)[0]
    fake.response.send_modal.assert_not_awaited()  # type: ignore[attr-defined]


async def test_a_form_sent_back_after_a_restart_still_works(tmp_path: Path) -> None:
    clock = VirtualClock()
    async for rig in make_rig(tmp_path, clock):
        job_id = await _made(rig, seed=5)
        opened = rig.fake()
        await RemixButton(job_id).callback(opened)
        custom_id = _form(opened).custom_id
    # A new process: new bot, cog and engine; the same database. Only the form's id survives.
    async for rig in make_rig(tmp_path, clock):
        fake = rig.fake()
        fake.type = discord.InteractionType.modal_submit
        fake.data = {
            "custom_id": custom_id,
            "components": [
                {"type": 1, "components": [{"type": 4, "custom_id": "prompt", "value": "A dog"}]}
            ],
        }
        listeners = rig.bot.extra_events["on_interaction"]
        assert any(getattr(f, "__name__", "") == "remix_submitted" for f in listeners)
        await rig.cog.remix_submitted(fake)  # the listener, with no form in memory
        assert private_replies(fake)[0].startswith("Queued as video #")
        [remixed] = [job for job in await rig.jobs() if job.id != job_id]
        assert remixed.request.prompt == "A dog" and remixed.request.seed == 5


async def test_retry_and_remix_upload_the_kept_inputs_again_once_the_uploads_expired(
    rig: Rig,
) -> None:
    job_id = await _made(rig, seed=9)
    [first_url] = [item.url for item in (await rig.services.jobs.get(job_id)).request.media]  # type: ignore[union-attr]
    rig.clock.advance(49 * HOUR)  # the provider's copy is gone (48 h)

    fake = _submit(rig, job_id, prompt="A dog")
    await rig.cog.remix_submitted(fake)
    assert private_replies(fake)[0].startswith("Queued as video #")
    pressed = rig.fake()
    await RetryButton(job_id).callback(pressed)
    assert private_replies(pressed)[0].startswith("Queued as video #")

    later = sorted((job for job in await rig.jobs() if job.id != job_id), key=lambda j: j.id)
    for job in later:
        [item] = job.request.media
        assert item.type is MediaType.FIRST_FRAME and item.url != first_url, "uploaded again"
        assert rig.simulator.uploads[item.url].data == IMAGE, "the same picture"

    async def done() -> bool:
        jobs = [await rig.services.jobs.get(job.id) for job in later]
        return all(job is not None and job.state.is_final for job in jobs)

    await drive(rig.services.engine, rig.clock, until=done)  # type: ignore[arg-type]
    assert [job.state.value for job in [await rig.services.jobs.get(j.id) for j in later]] == [
        "delivered",
        "delivered",
    ]


async def test_inputs_no_longer_kept_are_said_before_the_form_and_cost_nothing(
    rig: Rig,
) -> None:
    job_id = await _made(rig)
    shutil.rmtree(rig.services.settings.input_folder)  # swept, or never kept
    rig.clock.advance(49 * HOUR)
    fake = rig.fake()
    await RemixButton(job_id).callback(fake)
    assert private_replies(fake) == [
        f"The files video #{job_id} was made from are no longer kept, so it cannot be made "
        "again: start a new video with /video and your files."
    ]
    fake.response.send_modal.assert_not_awaited()  # type: ignore[attr-defined]
    pressed = rig.fake()
    await RetryButton(job_id).callback(pressed)
    assert "are no longer kept" in private_replies(pressed)[0]
    pressed.response.defer.assert_not_awaited()  # type: ignore[attr-defined]
    assert [job.id for job in await rig.jobs()] == [job_id]
    assert rig.uploads() == 1
