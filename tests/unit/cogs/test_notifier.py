"""The Discord notifier: throttled status edits, delivery by upload, re-encode or link, fallbacks."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import discord
import pytest

from bot.domain.catalog import MediaType
from bot.domain.jobs import Job, JobState, Requester
from bot.domain.requests import GenerationRequest, MediaItem
from bot.engine.notifier import Progress
from bot.engine.virtual import VirtualClock
from bot.i18n import Text
from bot.i18n import catalogs as upkeep
from bot.media import samples
from bot.media.edit import FitResult
from cogs.notifier import DiscordNotifier
from storage.connect import open_database
from storage.jobs import JobStore

BOT_ID = 4242
_ids = itertools.count(5000)


def http_error(cls: type[discord.HTTPException], status: int) -> discord.HTTPException:
    return cls(SimpleNamespace(status=status, reason="x"), "error")  # type: ignore[arg-type]


def fake_message() -> discord.Message:
    """A posted message; the notifier keeps (and edits) only its partial form."""
    message = mock.create_autospec(discord.Message, instance=True, spec_set=True)
    message.id = next(_ids)
    partial = mock.create_autospec(discord.PartialMessage, instance=True, spec_set=True)
    partial.id = message.id
    message.channel = SimpleNamespace(get_partial_message=lambda message_id: partial)
    return message


def fake_channel() -> discord.TextChannel:
    channel = mock.create_autospec(discord.TextChannel, instance=True, spec_set=True)
    channel.id = 100
    channel.send.side_effect = lambda **kwargs: fake_message()
    return channel


@dataclass
class Rig:
    notifier: DiscordNotifier
    jobs: JobStore
    bot: Any
    channel: Any
    clock: VirtualClock
    slept: list[float]
    fits: list[int]
    fit_result: FitResult | None

    async def job(self, **changes: Any) -> Job:
        request = GenerationRequest.build(
            model="wan2.7-i2v",
            prompt="A cat",
            media=(MediaItem(type=MediaType.FIRST_FRAME, url="oss://x/cat.png"),),
        )
        async with self.jobs._db.transaction() as tx:  # test set-up only
            job_id = await self.jobs.create(
                tx,
                requester=Requester(user_id=7, guild_id=10, channel_id=100, filesize_limit=200_000),
                request=request,
                reserved_seconds=5,
            )
            if changes:
                await self.jobs.update(tx, job_id, **changes)
        job = await self.jobs.get(job_id)
        assert job is not None
        return job


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = VirtualClock(0.0)
    slept: list[float] = []
    fits: list[int] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    channel = fake_channel()
    bot = mock.create_autospec(discord.Client, instance=True, spec_set=True)
    bot.user = SimpleNamespace(id=BOT_ID)
    bot.get_channel.side_effect = lambda channel_id: channel if channel_id == 100 else None
    async with await open_database(tmp_path / "n.sqlite3") as db:
        jobs = JobStore(db)
        holder: dict[str, Rig] = {}

        async def fit(source: Path, target: Path, limit: int) -> Path | None:
            fits.append(limit)
            result = holder["rig"].fit_result
            if result is not None:
                target.write_bytes(b"small")
                return FitResult(target, 5, 320, 180, 300_000, 1).path
            return None

        notifier = DiscordNotifier(bot, jobs, edit_every=5.0, clock=clock, sleep=sleep, fit=fit)
        rig = Rig(notifier, jobs, bot, channel, clock, slept, fits, None)
        holder["rig"] = rig
        yield rig


def sent(channel: Any) -> list[dict[str, Any]]:
    return [call.kwargs for call in channel.send.await_args_list]


async def test_one_status_message_then_throttled_edits(rig: Rig) -> None:
    job = await rig.job()
    await rig.notifier.progress(job, Progress(JobState.QUEUED, queue_position=2))
    [first] = sent(rig.channel)
    assert "#3" in str(first["embed"].to_dict())
    assert [c.custom_id for c in first["view"].children] == [f"wanbot:cancel:{job.id}"]
    job = await rig.jobs.get(job.id)
    assert job is not None and job.progress_message_id is not None

    message = rig.notifier._status[job.id].message  # the status message it keeps editing
    assert message is not None

    rig.clock.advance(1)
    await rig.notifier.progress(job, Progress(JobState.PENDING, elapsed=1))
    rig.clock.advance(1)
    await rig.notifier.progress(job, Progress(JobState.RUNNING, elapsed=2))
    message.edit.assert_not_awaited()  # both within 5 s of the post: held
    await rig.notifier.flushed(job.id)
    message.edit.assert_awaited_once()
    assert "Being made" in str(message.edit.await_args.kwargs["embed"].to_dict())
    assert rig.slept == [4.0], "held from the first change (t=1) until 5 s after the post"

    await rig.notifier.progress(job, Progress(JobState.RUNNING, elapsed=2))
    assert message.edit.await_count == 1, "nothing changed, nothing edited"

    await rig.notifier.progress(job, Progress(JobState.DELIVERED, elapsed=3))
    assert message.edit.await_count == 2, "a final state is shown at once"
    assert message.edit.await_args.kwargs["view"] is None
    assert len(sent(rig.channel)) == 1


async def test_a_video_within_the_limit_is_uploaded_as_a_reply(rig: Rig, tmp_path: Path) -> None:
    job = await rig.job(progress_message_id=777)
    video = tmp_path / "v.mp4"
    video.write_bytes(samples.make_video(2.0, 160, 120, fps=5))
    message_id = await rig.notifier.deliver(job, video)
    [kwargs] = sent(rig.channel)
    assert kwargs["file"].filename == f"wanbot-{job.id}.mp4"
    assert kwargs["content"].startswith("<@7>")
    assert kwargs["reference"].message_id == 777
    assert [c.custom_id for c in kwargs["view"].children] == [
        f"wanbot:retry:{job.id}",
        f"wanbot:remix:{job.id}",
        f"wanbot:extend:{job.id}",
        f"wanbot:lastframe:{job.id}",
        f"wanbot:delete:{job.id}",
    ]
    assert message_id is not None and rig.fits == []


async def test_a_video_over_the_limit_is_shrunk_or_linked(rig: Rig, tmp_path: Path) -> None:
    job = await rig.job(
        result_url="https://results.example/v.mp4?Expires=1", result_expires_at=1_900_000_000.0
    )
    video = tmp_path / "big.mp4"
    video.write_bytes(b"\0" * 300_000)  # over the job's 200,000-byte limit

    rig.fit_result = FitResult(tmp_path / "unused", 5, 320, 180, 300_000, 1)
    await rig.notifier.deliver(job, video)
    assert rig.fits == [200_000]
    assert sent(rig.channel)[-1]["file"].filename == f"wanbot-{job.id}.mp4"

    rig.fit_result = None  # cannot fit at a watchable quality
    await rig.notifier.deliver(job, video)
    last = sent(rig.channel)[-1]
    assert "file" not in last
    assert (
        "https://results.example/v.mp4" in last["content"] and "<t:1900000000:f>" in last["content"]
    )


async def test_a_lost_channel_delivers_by_dm(rig: Rig, tmp_path: Path) -> None:
    job = await rig.job()
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0" * 10)
    user = mock.create_autospec(discord.User, instance=True, spec_set=True)
    user.send.side_effect = lambda **kwargs: fake_message()
    rig.bot.get_user.return_value = user

    rig.channel.send.side_effect = http_error(discord.Forbidden, 403)
    await rig.notifier.deliver(job, video)
    user.send.assert_awaited_once()

    rig.bot.get_channel.side_effect = lambda channel_id: None
    rig.bot.fetch_channel.side_effect = http_error(discord.NotFound, 404)
    await rig.notifier.deliver(job, video)
    assert user.send.await_count == 2


async def test_discord_server_errors_are_retried(rig: Rig, tmp_path: Path) -> None:
    job = await rig.job()
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0" * 10)
    answers = [http_error(discord.DiscordServerError, 503), None]

    def send(**kwargs: Any) -> discord.Message:
        error = answers.pop(0)
        if error is not None:
            raise error
        return fake_message()

    rig.channel.send.side_effect = send
    assert await rig.notifier.deliver(job, video)
    assert rig.channel.send.await_count == 2 and rig.slept == [1]
    nonces = {kwargs["nonce"] for kwargs in sent(rig.channel)}
    assert nonces == {f"wanbot-{job.id}-video"}, "a retry repeats the nonce: Discord posts once"


async def test_updates_that_race_the_first_post_edit_it_never_post_again(rig: Rig) -> None:
    job = await rig.job()
    posted = asyncio.Event()

    async def slow_send(**kwargs: Any) -> discord.Message:
        await posted.wait()  # Discord takes its time with the first post
        return fake_message()

    async def answer() -> None:
        posted.set()

    rig.channel.send.side_effect = slow_send
    rig.clock.advance(10)
    await asyncio.gather(
        rig.notifier.progress(job, Progress(JobState.QUEUED, queue_position=0)),
        rig.notifier.progress(job, Progress(JobState.PENDING, elapsed=0.01)),
        rig.notifier.progress(job, Progress(JobState.RUNNING, elapsed=0.02)),
        answer(),
    )
    await rig.notifier.flushed(job.id)
    assert rig.channel.send.await_count == 1, "one status message per job"
    message = rig.notifier._status[job.id].message
    assert message is not None
    assert "Being made" in str(message.edit.await_args.kwargs["embed"].to_dict())  # type: ignore[union-attr]
    assert sent(rig.channel)[0]["nonce"] == f"wanbot-{job.id}-status"


async def test_after_a_restart_the_search_spans_the_delivery_window_and_the_dm(
    rig: Rig,
) -> None:
    job = await rig.job(progress_message_id=777, delivery_started_at=1_800_000_000.0)
    in_dm = fake_message()
    in_dm.author = SimpleNamespace(id=BOT_ID)
    in_dm.components = [
        SimpleNamespace(children=[SimpleNamespace(custom_id=f"wanbot:retry:{job.id}")])
    ]
    asked: list[dict[str, Any]] = []

    async def nothing_here(**kwargs: Any) -> AsyncIterator[discord.Message]:
        asked.append(kwargs)
        for _ in ():
            yield fake_message()

    async def dm_history(**kwargs: Any) -> AsyncIterator[discord.Message]:
        asked.append(kwargs)
        yield in_dm

    rig.channel.history.side_effect = nothing_here
    user = mock.create_autospec(discord.User, instance=True, spec_set=True)
    user.dm_channel = mock.create_autospec(discord.DMChannel, instance=True, spec_set=True)
    user.dm_channel.history.side_effect = dm_history
    rig.bot.get_user.return_value = user

    assert await rig.notifier.delivered_message(job) == in_dm.id
    for kwargs in asked:
        assert kwargs["limit"] is None and kwargs["oldest_first"] is False
        assert 0 < 1_800_000_000.0 - kwargs["after"].timestamp() <= 300


async def test_after_a_restart_an_earlier_delivery_is_found_not_repeated(rig: Rig) -> None:
    job = await rig.job(progress_message_id=777)
    posted = fake_message()
    posted.author = SimpleNamespace(id=BOT_ID)
    posted.components = [
        SimpleNamespace(children=[SimpleNamespace(custom_id=f"wanbot:retry:{job.id}")])
    ]
    other = fake_message()
    other.author = SimpleNamespace(id=1)
    other.components = []

    async def history(**kwargs: Any) -> AsyncIterator[discord.Message]:
        for message in (other, posted):
            yield message

    rig.channel.history.side_effect = history
    assert await rig.notifier.delivered_message(job) == posted.id
    posted.components = []  # nothing of this job's in the channel
    assert await rig.notifier.delivered_message(job) is None


async def test_a_failure_edits_the_status_and_tells_the_requester(rig: Rig) -> None:
    job = await rig.job()
    await rig.notifier.progress(job, Progress(JobState.QUEUED))
    message = rig.notifier._status[job.id].message
    failed = await rig.jobs.get(job.id)
    assert failed is not None
    failed = Job(**{**failed.__dict__, "state": JobState.FAILED})
    await rig.notifier.fail(failed, Text("The provider's content moderation refused it."))
    assert "content moderation" in str(message.edit.await_args.kwargs["embed"].to_dict())  # type: ignore[union-attr]
    assert sent(rig.channel)[-1]["content"].startswith("<@7> video #")


async def test_channel_messages_speak_the_servers_language_and_a_dm_the_members(
    rig: Rig, tmp_path: Path
) -> None:
    german, japanese = upkeep.read("de"), upkeep.read("ja")
    job = await rig.job(locale="de", member_locale="ja")
    await rig.notifier.progress(job, Progress(JobState.QUEUED))
    [status] = sent(rig.channel)
    fields = [field["name"] for field in status["embed"].to_dict()["fields"]]
    assert fields == [german[name].string for name in ("Status", "Model", "Elapsed", "Asked by")]
    assert german["Elapsed"].string != "Elapsed"
    assert status["view"].children[0].item.label == german["Cancel"].string

    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0" * 10)
    user = mock.create_autospec(discord.User, instance=True, spec_set=True)
    user.send.side_effect = lambda **kwargs: fake_message()
    rig.bot.get_user.return_value = user
    rig.channel.send.side_effect = http_error(discord.Forbidden, 403)  # only the DM is left
    await rig.notifier.deliver(job, video)
    posted = user.send.await_args.kwargs
    ready = japanese["{mention} your video #{id} is ready."].string
    assert posted["content"] == ready.format(mention="<@7>", id=job.id)
    assert posted["view"].children[0].item.label == japanese["Retry"].string


async def test_jobs_finished_by_another_process_are_forgotten_once_idle(rig: Rig) -> None:
    """With several processes, most jobs whose status this process posted end elsewhere."""
    for _ in range(30):
        job = await rig.job()
        await rig.notifier.progress(job, Progress(JobState.QUEUED, queue_position=1))
        rig.clock.advance(60)  # then another process takes it to the end: nothing more here
    assert len(rig.notifier._status) <= 11, "none idle for ten minutes is kept"

    rig.clock.advance(3600)
    last = await rig.job()
    await rig.notifier.progress(last, Progress(JobState.QUEUED, queue_position=1))
    assert list(rig.notifier._status) == [last.id]


async def test_a_job_that_ends_here_is_forgotten_even_when_its_last_edit_fails(rig: Rig) -> None:
    ended = await rig.job()
    await rig.notifier.progress(ended, Progress(JobState.QUEUED))
    message = rig.notifier._status[ended.id].message
    message.edit.side_effect = http_error(discord.DiscordServerError, 503)  # type: ignore[union-attr]
    await rig.notifier.progress(ended, Progress(JobState.FAILED, elapsed=1))

    at_once = await rig.job()  # ends before its status was ever posted: posted final, kept not
    await rig.notifier.progress(at_once, Progress(JobState.CANCELED))
    assert len(sent(rig.channel)) == 2
    assert rig.notifier._status == {}


async def test_a_forgotten_job_progressed_again_edits_its_status_message(rig: Rig) -> None:
    job = await rig.job()
    await rig.notifier.progress(job, Progress(JobState.QUEUED, queue_position=3))
    rig.clock.advance(3600)
    other = await rig.job()
    await rig.notifier.progress(other, Progress(JobState.QUEUED))
    assert job.id not in rig.notifier._status

    partials: dict[int, Any] = {}

    def partial(message_id: int) -> Any:
        found = mock.create_autospec(discord.PartialMessage, instance=True, spec_set=True)
        found.id = message_id
        return partials.setdefault(message_id, found)

    rig.channel.get_partial_message.side_effect = partial
    fresh = await rig.jobs.get(job.id)  # the engine reads the row before telling
    assert fresh is not None and fresh.progress_message_id is not None
    await rig.notifier.progress(fresh, Progress(JobState.RUNNING, elapsed=3600))
    assert [kwargs["nonce"] for kwargs in sent(rig.channel)] == [
        f"wanbot-{job.id}-status",
        f"wanbot-{other.id}-status",
    ], "one status message per job"
    edited = partials[fresh.progress_message_id].edit
    edited.assert_awaited_once()
    assert "Being made" in str(edited.await_args.kwargs["embed"].to_dict())


async def test_a_held_edit_never_overwrites_the_end_another_process_showed(rig: Rig) -> None:
    job = await rig.job()
    await rig.notifier.progress(job, Progress(JobState.QUEUED))
    message = rig.notifier._status[job.id].message
    rig.clock.advance(1)
    await rig.notifier.progress(job, Progress(JobState.RUNNING, elapsed=1))  # held for 4 s
    async with rig.jobs._db.transaction() as tx:  # meanwhile another process delivers it
        await tx.execute("UPDATE jobs SET state = 'delivered' WHERE id = ?", (job.id,))
    await rig.notifier.flushed(job.id)
    message.edit.assert_not_awaited()  # type: ignore[union-attr]
    assert rig.notifier._status == {}


async def test_a_forgotten_job_whose_status_went_by_dm_edits_it_there(rig: Rig) -> None:
    job = await rig.job(locale="de", member_locale="ja")
    rig.bot.get_channel.side_effect = lambda channel_id: None  # the channel is gone
    rig.bot.fetch_channel.side_effect = http_error(discord.NotFound, 404)
    user = mock.create_autospec(discord.User, instance=True, spec_set=True)
    user.send.side_effect = lambda **kwargs: fake_message()
    user.dm_channel = mock.create_autospec(discord.DMChannel, instance=True, spec_set=True)
    in_dm = mock.create_autospec(discord.PartialMessage, instance=True, spec_set=True)
    user.dm_channel.get_partial_message.side_effect = lambda message_id: in_dm
    rig.bot.get_user.return_value = user
    await rig.notifier.progress(job, Progress(JobState.QUEUED))
    user.send.assert_awaited_once()

    rig.clock.advance(3600)
    await rig.notifier.progress(await rig.job(), Progress(JobState.QUEUED))
    assert job.id not in rig.notifier._status
    fresh = await rig.jobs.get(job.id)
    assert fresh is not None
    await rig.notifier.progress(fresh, Progress(JobState.RUNNING, elapsed=3600))
    nonces = [call.kwargs["nonce"] for call in user.send.await_args_list]
    assert nonces.count(f"wanbot-{job.id}-status") == 1, "one status message per job"
    embed = in_dm.edit.await_args.kwargs["embed"].to_dict()
    japanese = upkeep.read("ja")
    assert japanese["Being made"].string in str(embed), "in the member's language, as posted"


# -- private mode: the requester's DM first ---------------------------------------------------


def dm_user(rig: Rig) -> Any:
    user = mock.create_autospec(discord.User, instance=True, spec_set=True)
    user.send.side_effect = lambda **kwargs: fake_message()
    user.dm_channel = mock.create_autospec(discord.DMChannel, instance=True, spec_set=True)
    rig.bot.get_user.return_value = user
    return user


async def test_a_job_in_private_mode_goes_to_the_dm_and_the_channel_gets_nothing(
    rig: Rig, tmp_path: Path
) -> None:
    job = await rig.job(by_dm=1, progress_message_id=None)
    assert job.by_dm
    user = dm_user(rig)
    await rig.notifier.progress(job, Progress(JobState.QUEUED))
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0" * 10)
    job = await rig.jobs.get(job.id)
    assert job is not None
    await rig.notifier.deliver(job, video)
    status, posted = (call.kwargs for call in user.send.await_args_list)
    assert "embed" in status and "content" not in status
    assert posted["file"].filename == f"wanbot-{job.id}.mp4"
    assert "reference" not in posted, "a reply only in a channel"
    rig.channel.send.assert_not_awaited()


async def test_a_closed_dm_in_private_mode_posts_in_the_channel_and_says_why(
    rig: Rig, tmp_path: Path
) -> None:
    job = await rig.job(by_dm=1)
    user = dm_user(rig)
    user.send.side_effect = http_error(discord.Forbidden, 403)  # DMs closed to the bot
    await rig.notifier.progress(job, Progress(JobState.QUEUED))
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0" * 10)
    await rig.notifier.deliver(job, video)
    why = (
        f"<@7> your DMs are closed to me, so video #{job.id} is posted here instead of in private."
    )
    status, posted = sent(rig.channel)
    assert status["content"] == why and "embed" in status
    assert posted["content"] == f"{why}\n<@7> your video #{job.id} is ready."


async def test_after_a_restart_a_private_delivery_is_looked_for_in_the_dm_first(
    rig: Rig,
) -> None:
    job = await rig.job(by_dm=1, progress_message_id=777)
    in_dm = fake_message()
    in_dm.author = SimpleNamespace(id=BOT_ID)
    in_dm.components = [
        SimpleNamespace(children=[SimpleNamespace(custom_id=f"wanbot:retry:{job.id}")])
    ]

    async def dm_history(**kwargs: Any) -> AsyncIterator[discord.Message]:
        yield in_dm

    user = dm_user(rig)
    user.dm_channel.history.side_effect = dm_history
    assert await rig.notifier.delivered_message(job) == in_dm.id
    rig.channel.history.assert_not_called()


async def test_after_a_restart_a_private_status_is_edited_where_it_was_posted(rig: Rig) -> None:
    in_dm = mock.create_autospec(discord.PartialMessage, instance=True, spec_set=True)
    in_channel = mock.create_autospec(discord.PartialMessage, instance=True, spec_set=True)
    user = dm_user(rig)
    user.dm_channel.get_partial_message.side_effect = lambda message_id: in_dm
    rig.channel.get_partial_message.side_effect = lambda message_id: in_channel

    job = await rig.job(by_dm=1, progress_message_id=777)  # found in the DM
    await rig.notifier.progress(job, Progress(JobState.RUNNING, elapsed=5))
    in_dm.edit.assert_awaited_once()
    in_channel.edit.assert_not_awaited()

    user.dm_channel.fetch_message.side_effect = http_error(discord.NotFound, 404)
    closed = await rig.job(by_dm=1, progress_message_id=778)  # its DM was closed
    await rig.notifier.progress(closed, Progress(JobState.RUNNING, elapsed=5))
    in_channel.edit.assert_awaited_once()
    assert rig.channel.send.await_count == 0 and user.send.await_count == 0, "edited, not posted"
