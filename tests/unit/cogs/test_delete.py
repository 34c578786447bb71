"""Deleting a posted video: asked first, done by the requester or a moderator, the job and its
charge kept, its buttons refused after. Discord's message deletion is faked at the client."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.domain.jobs import Job
from bot.engine.virtual import drive
from bot.i18n import ENGLISH
from cogs.video.commands import VideoCog
from cogs.views import (
    ConfirmDeleteButton,
    DeleteButton,
    ExtendButton,
    KeepButton,
    LastFrameButton,
    RetryButton,
    result_view,
)
from tests.support.discord_fakes import member, private_replies
from tests.support.video_rig import IMAGE, Rig, make_rig

CHANNEL, DM, STATUS = 100, 555, 4242


def _http_error(kind: type[discord.HTTPException], status: int) -> discord.HTTPException:
    return kind(SimpleNamespace(status=status, reason="x"), "x")  # type: ignore[arg-type]


class Messages:
    """What the bot posted, by (channel, message); deleting one that is not there is a 404, in a
    channel in `closed` a 403 (the bot lost access)."""

    def __init__(self) -> None:
        self.posted: set[tuple[int, int]] = set()
        self.closed: set[int] = set()
        self.deletes: list[tuple[int, int]] = []

    def channel(self, channel_id: int) -> Any:
        def message(message_id: int) -> Any:
            async def delete() -> None:
                self.deletes.append((channel_id, message_id))
                if channel_id in self.closed:
                    raise _http_error(discord.Forbidden, 403)
                if (channel_id, message_id) not in self.posted:
                    raise _http_error(discord.NotFound, 404)
                self.posted.remove((channel_id, message_id))

            return SimpleNamespace(delete=delete)

        return SimpleNamespace(get_partial_message=message)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for made in make_rig(tmp_path):
        yield made


@pytest.fixture
def messages(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> Messages:
    found = Messages()

    async def create_dm(user: discord.abc.Snowflake) -> Any:
        return found.channel(DM)

    monkeypatch.setattr(rig.bot, "get_partial_messageable", found.channel)
    monkeypatch.setattr(rig.bot, "create_dm", create_dm)
    return found


def pressing(rig: Rig, user: discord.Member | None = None) -> discord.Interaction:
    """A press on a button; answering by editing the message it is on counts as an answer."""
    fake = rig.fake(user)
    done = fake.response.is_done.side_effect  # type: ignore[attr-defined]
    edited = {"value": False}

    async def edit(**kwargs: object) -> None:
        edited["value"] = True

    fake.response.edit_message.side_effect = edit  # type: ignore[attr-defined]
    fake.response.is_done.side_effect = lambda: edited["value"] or done()  # type: ignore[attr-defined]
    return fake


def edited_to(fake: discord.Interaction) -> dict[str, Any]:
    call = fake.response.edit_message.await_args  # type: ignore[attr-defined]
    assert call is not None, "the question was not answered by editing it"
    return dict(call.kwargs)


async def delivered(rig: Rig, messages: Messages, *, where: int = CHANNEL) -> Job:
    """A video made, delivered and charged, its post and status message in `where`."""
    await rig.call(
        VideoCog.animate,
        rig.fake(),
        image=rig.host.attachment("cat.png", IMAGE, content_type="image/png"),
        prompt="A cat",
    )
    [job] = await rig.jobs()

    async def done() -> bool:
        current = await rig.services.jobs.get(job.id)
        return current is not None and current.state.is_final

    await drive(rig.services.engine, rig.clock, until=done)  # type: ignore[arg-type]
    await rig.services.jobs.save(job.id, progress_message_id=STATUS)
    finished = await rig.services.jobs.get(job.id)
    assert finished is not None and finished.delivered_message_id
    messages.posted |= {(where, finished.delivered_message_id), (where, STATUS)}
    return finished


async def test_delete_asks_then_removes_the_video_and_its_status_and_keeps_the_charge(
    rig: Rig, messages: Messages
) -> None:
    job = await delivered(rig, messages)
    used = (await rig.services.quotas.allowance(guild_id=10, user_id=1)).used_seconds
    rows = [
        [button["custom_id"] for button in row["components"]]
        for row in result_view(job.id, ENGLISH).to_components()
    ]
    assert rows[1] == [f"wanbot:delete:{job.id}"], "Delete on a row of its own"

    asked = rig.fake()
    await DeleteButton(job.id).callback(asked)
    assert private_replies(asked) == [
        f"Delete video #{job.id}? The video and its status message disappear for everyone, and "
        "this cannot be undone. The 5 s it used stay counted."
    ]
    view = asked.response.send_message.await_args.kwargs["view"]  # type: ignore[attr-defined]
    assert [c.custom_id for c in view.children] == [
        f"wanbot:confirmdelete:{job.id}",
        f"wanbot:keep:{job.id}",
    ]
    assert len(messages.posted) == 2 and not (await rig.services.jobs.get(job.id)).deleted  # type: ignore[union-attr]

    confirmed = pressing(rig)
    await ConfirmDeleteButton(job.id).callback(confirmed)
    assert edited_to(confirmed) == {"content": f"Deleting video #{job.id}…", "view": None}
    assert private_replies(confirmed) == [f"Video #{job.id} is deleted."]
    assert messages.posted == set(), "the video and its status message are gone"
    after = await rig.services.jobs.get(job.id)
    assert after is not None and after.deleted and after.deleted_by == 1
    assert (await rig.services.quotas.allowance(guild_id=10, user_id=1)).used_seconds == used

    for button in (RetryButton, ExtendButton, LastFrameButton):
        pressed = rig.fake()
        await button(job.id).callback(pressed)
        assert private_replies(pressed) == [
            f"Video #{job.id} was deleted, so its buttons no longer work."
        ]
    assert [j.id for j in await rig.jobs()] == [job.id], "no new video from a deleted one"

    again = rig.fake()
    await rig.call(VideoCog.delete, again, id=job.id)
    assert private_replies(again) == [f"Video #{job.id} is already deleted."]

    shown = rig.fake()
    await rig.call(VideoCog.job, shown, id=job.id)
    [detail] = private_replies(shown)
    assert "Deleted" in detail and "<@1>" in detail
    shown.followup.send.assert_not_awaited()  # type: ignore[attr-defined]  # no link, no buttons
    listed = rig.fake()
    await rig.call(VideoCog.jobs, listed)
    assert f"**#{job.id}** " in private_replies(listed)[0]
    assert "Deleted" in private_replies(listed)[0]


async def test_keep_leaves_the_video_where_it_is(rig: Rig, messages: Messages) -> None:
    job = await delivered(rig, messages)
    kept = pressing(rig)
    await KeepButton(job.id).callback(kept)
    assert edited_to(kept) == {"content": f"Video #{job.id} stays.", "view": None}
    assert len(messages.posted) == 2 and messages.deletes == []
    assert not (await rig.services.jobs.get(job.id)).deleted  # type: ignore[union-attr]


async def test_only_the_requester_or_a_moderator_may_delete(rig: Rig, messages: Messages) -> None:
    job = await delivered(rig, messages)
    stranger = pressing(rig, member(2))
    await ConfirmDeleteButton(job.id).callback(stranger)
    assert "belongs to someone else" in private_replies(stranger)[0]
    assert len(messages.posted) == 2

    moderator = pressing(rig, member(3, manage_guild=True))
    await ConfirmDeleteButton(job.id).callback(moderator)
    assert private_replies(moderator) == [f"Video #{job.id} is deleted."]
    assert messages.posted == set()
    assert (await rig.services.jobs.get(job.id)).deleted_by == 3  # type: ignore[union-attr]


async def test_a_video_not_posted_yet_cannot_be_deleted(rig: Rig, messages: Messages) -> None:
    await rig.call(
        VideoCog.animate,
        rig.fake(),
        image=rig.host.attachment("cat.png", IMAGE, content_type="image/png"),
    )
    [job] = await rig.jobs()
    fake = rig.fake()
    await rig.call(VideoCog.delete, fake, id=job.id)
    assert private_replies(fake) == [
        f"Video #{job.id} has not been posted yet, so there is nothing to delete; to stop it, "
        "use its Cancel button or `/video cancel`."
    ]
    await rig.call(VideoCog.cancel, rig.fake(), job=job.id)
    fake = rig.fake()
    await rig.call(VideoCog.delete, fake, id=job.id)
    assert private_replies(fake) == [
        f"Video #{job.id} was never posted, so there is nothing to delete."
    ]


async def test_messages_already_gone_still_mark_the_video_deleted(
    rig: Rig, messages: Messages
) -> None:
    job = await delivered(rig, messages)
    messages.posted.clear()  # someone removed them by hand
    fake = pressing(rig)
    await ConfirmDeleteButton(job.id).callback(fake)
    assert private_replies(fake) == [f"Video #{job.id} is deleted."]
    assert (await rig.services.jobs.get(job.id)).deleted  # type: ignore[union-attr]


async def test_a_video_delivered_by_dm_is_deleted_there(rig: Rig, messages: Messages) -> None:
    job = await delivered(rig, messages, where=DM)
    messages.closed.add(CHANNEL)  # why it went to the DM: the bot may not post in the channel
    fake = pressing(rig, member(1))
    await ConfirmDeleteButton(job.id).callback(fake)
    assert private_replies(fake) == [f"Video #{job.id} is deleted."]
    assert messages.posted == set()


async def test_a_channel_the_bot_cannot_reach_is_said_and_nothing_is_marked(
    rig: Rig, messages: Messages
) -> None:
    job = await delivered(rig, messages)
    messages.closed.add(CHANNEL)
    fake = pressing(rig)
    await ConfirmDeleteButton(job.id).callback(fake)
    assert "the bot cannot reach the channel it was posted in" in private_replies(fake)[0]
    assert not (await rig.services.jobs.get(job.id)).deleted  # type: ignore[union-attr]


async def test_a_failed_write_leaves_the_video_unmarked_and_a_second_press_finishes(
    rig: Rig, messages: Messages, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The messages go first and the row is marked last: when that one write fails, the member
    is told something went wrong, the job is not marked, and pressing again marks it (the
    messages, already gone, count as deleted)."""
    job = await delivered(rig, messages)
    store = rig.services.jobs
    marking = store.mark_deleted
    failed: list[int] = []

    async def failing_once(job_id: int, *, by: int) -> bool:
        if not failed:
            failed.append(job_id)
            raise sqlite3.OperationalError("disk I/O error")
        return await marking(job_id, by=by)

    monkeypatch.setattr(store, "mark_deleted", failing_once)
    first = pressing(rig)
    with contextlib.suppress(sqlite3.OperationalError):
        await ConfirmDeleteButton(job.id).callback(first)
    assert failed == [job.id]
    assert messages.posted == set(), "the messages went before the write"
    assert not (await store.get(job.id)).deleted  # type: ignore[union-attr]
    assert f"Video #{job.id} is deleted." not in private_replies(first)

    second = pressing(rig)
    await ConfirmDeleteButton(job.id).callback(second)
    assert private_replies(second) == [f"Video #{job.id} is deleted."]
    assert (await store.get(job.id)).deleted  # type: ignore[union-attr]
