"""The engine's Notifier for Discord: one status message per job, and the video as a reply.

Everything is sent with the bot's own token (channel messages), never the interaction's webhook,
whose token dies after 15 minutes. Progress for a job is shown one update at a time (a lock per
job), so however fast updates come, one status message is posted and then edited. Status edits
happen only when the embed changes and at most once every `edit_every` seconds (Discord
rate-limits edits to old messages); a change inside that window is held and sent when it ends.

What is kept per job is a cache of its row, forgotten when the job ends or idles (cogs/statuses.py);
a held edit is dropped if the row says the job has ended meanwhile, so it never covers another
process's last word.

Videos over the upload limit are re-encoded to fit in a worker thread, or posted as the
provider's link. A channel that is gone or closed to the bot gets a DM instead; Discord's 429s
are retried by discord.py, 5xx here.

Exactly once: every post carries a nonce made from the job and what is posted, with
`enforce_nonce`, so a retry after a 5xx or a restart returns the message Discord already made
instead of making another. After a restart, a delivery is looked for in the channel and the DM,
newest first, back to when the delivery began (the engine records that before posting).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.jobs import Job
from bot.engine.notifier import Progress
from bot.i18n import Language, Text, choose
from bot.media.pools import MediaWorkers
from bot.net.retry import RetryPolicy, retry
from bot.net.tasks import cancel, spawn
from cogs.render import channel as channel_words
from cogs.statuses import KEEP_IDLE_SECONDS, Status, Statuses
from cogs.views import progress_view, result_view
from storage.jobs import JobStore

if TYPE_CHECKING:
    from discord.abc import Messageable

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # Discord's limit without boosts
# Discord 5xx: three attempts, 1 s then 2 s apart (discord.py handles 429s itself).
_SEND_RETRY = RetryPolicy(attempts=3, base_delay=1.0, max_delay=2.0, jitter=False)
# Discord's snowflake clock and ours may differ a little: look this much further back.
_CLOCK_MARGIN_SECONDS = 120.0


# What a message says, made in the language of where it goes: content, embed and view.
Compose = Callable[[Language], dict[str, Any]]


class DiscordNotifier:
    def __init__(
        self,
        bot: discord.Client,
        jobs: JobStore,
        *,
        edit_every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        workers: MediaWorkers | None = None,
        fit: Callable[[Path, Path, int], Awaitable[Path | None]] | None = None,
        keep_idle: float = KEEP_IDLE_SECONDS,
    ) -> None:
        self._bot = bot
        self._jobs = jobs
        self._edit_every = edit_every
        self._clock = clock
        self._sleep = sleep
        self._own_workers = workers is None  # made here, closed in close()
        self._workers = workers or MediaWorkers()
        self._fit = fit or self._workers.fit  # under the upload limit, off the event loop
        self._status = Statuses(clock, keep_idle)

    async def close(self) -> None:
        """Send held edits now and stop the timers."""
        await cancel(*(s.flush for s in self._status.values() if s.flush is not None))
        if self._own_workers:
            self._workers.close()

    # -- progress --------------------------------------------------------------------------------

    async def progress(self, job: Job, update: Progress) -> None:
        await self._show(job, update, None)

    async def fail(self, job: Job, reason: Text) -> None:
        await self._show(job, Progress(state=job.state, elapsed=_elapsed(job)), reason)
        await self._send(
            job,
            "end",
            lambda lang: {"content": channel_words.failed_text(lang, job, reason)},
            reply=True,
        )

    async def _show(self, job: Job, update: Progress, reason: Text | None) -> None:
        status = self._status.touch(job.id)
        async with status.lock:  # a second update waits for the first post, then edits it
            await self._show_now(job, status, update, reason)
        if update.state.is_final:  # nothing more to show here, whether the edit worked or not
            self._status.forget(job.id, status)

    async def _show_now(
        self, job: Job, status: Status, update: Progress, reason: Text | None
    ) -> None:
        if status.message is None and job.progress_message_id:
            await self._find_status(job, status, job.progress_message_id)
        embed = channel_words.progress(
            status.lang or server_language(job), job, update, reason=reason
        )
        if status.message is None:
            await self._post_status(job, update, reason)
            return
        if _fingerprint(embed) == status.shown:
            return
        wait = status.edited_at + self._edit_every - self._clock()
        if update.state.is_final or wait <= 0:
            await self._edit(job.id, status, embed, final=update.state.is_final)
            return
        status.held = (job, update, reason)
        if status.flush is None or status.flush.done():
            status.flush = spawn(self._flush_later(job.id, wait), f"status edit {job.id}")

    async def _find_status(self, job: Job, status: Status, message_id: int) -> None:
        """After a restart or once forgotten: the status message posted earlier, by its id, where
        it was posted (the job's channel, or the requester's DM when the channel is gone)."""
        channel: Messageable | None = None
        if job.by_dm:  # private mode: in the DM, unless it could not be sent there
            channel = await self._dm_channel(job.user_id)
            status.lang = dm_language(job)
            if channel is not None and not await _has_message(channel, message_id):
                channel = None  # the DM was closed: it went to the channel
        if channel is None:
            channel = await self._channel(job)
            status.lang = server_language(job)
        if channel is None and not job.by_dm:
            channel = await self._dm_channel(job.user_id)
            status.lang = dm_language(job)
        if channel is not None and hasattr(channel, "get_partial_message"):
            status.message = channel.get_partial_message(message_id)

    async def _flush_later(self, job_id: int, wait: float) -> None:
        await self._sleep(wait)
        status = self._status.get(job_id)
        if status is None or status.held is None:
            return
        job, update, reason = status.held
        current = await self._jobs.get(job_id)
        if current is None or current.state.is_final:  # ended elsewhere: its end is shown there
            self._status.forget(job_id, status)
            return
        status.held = None
        lang = status.lang or server_language(job)
        await self._edit(
            job_id, status, channel_words.progress(lang, job, update, reason=reason), final=False
        )

    async def flushed(self, job_id: int) -> None:
        """Wait until a held edit of `job_id` has been sent (tests, and shutdown)."""
        status = self._status.get(job_id)
        if status is not None and status.flush is not None:
            await asyncio.wait([status.flush])  # a later update may have sent it instead

    async def _post_status(self, job: Job, update: Progress, reason: Text | None) -> None:
        status = self._status[job.id]
        shown: dict[str, discord.Embed] = {}

        def compose(lang: Language) -> dict[str, Any]:
            shown["embed"] = channel_words.progress(lang, job, update, reason=reason)
            view = None if update.state.is_final else progress_view(job.id, lang)
            return {"embed": shown["embed"], "view": view}

        message = await self._send(job, "status", compose)
        if message is None:
            return
        embed = shown["embed"]
        status.lang = dm_language(job) if _in_dm(message) else server_language(job)
        # Only the id and channel are needed to edit it: a partial message keeps no copy of it.
        channel = message.channel
        # A bot is never in a group DM; there the whole message would be kept.
        kept = (
            message
            if isinstance(channel, discord.GroupChannel)
            else channel.get_partial_message(message.id)
        )
        status.message, status.shown, status.edited_at = kept, _fingerprint(embed), self._clock()
        await self._jobs.save(job.id, progress_message_id=message.id)

    async def _edit(
        self, job_id: int, status: Status, embed: discord.Embed, *, final: bool
    ) -> None:
        assert status.message is not None
        if status.flush is not None and status.flush is not asyncio.current_task():
            status.flush.cancel()
            status.held = None
        kwargs: dict[str, Any] = {"embed": embed}
        if final:
            kwargs["view"] = None  # nothing left to cancel
        try:
            await status.message.edit(**kwargs)
        except discord.NotFound:
            log.info("Status message of job %s was deleted; not editing it again", job_id)
            status.message = None
            return
        except discord.HTTPException:
            log.warning("Could not edit the status of job %s", job_id, exc_info=True)
            return
        status.shown, status.edited_at = _fingerprint(embed), self._clock()

    # -- delivery --------------------------------------------------------------------------------

    async def deliver(self, job: Job, video: Path) -> int | None:
        """Post the video as a reply mentioning the requester: as it is, shrunk to fit, or as a link."""
        limit = job.filesize_limit or DEFAULT_UPLOAD_LIMIT
        with tempfile.TemporaryDirectory(prefix="wanbot-fit-") as folder:
            upload: Path | None = video
            if video.stat().st_size > limit:
                upload = await self._fit(video, Path(folder) / "fitted.mp4", limit)
            if upload is None:

                def link(lang: Language) -> dict[str, Any]:
                    return {
                        "content": channel_words.link_text(
                            lang, job, job.result_url or "", job.result_expires_at
                        ),
                        "view": result_view(job.id, lang),
                    }

                message = await self._send(job, "video", link, reply=True)
            else:

                def post(lang: Language) -> dict[str, Any]:
                    return {
                        "content": channel_words.result_text(lang, job),
                        "view": result_view(job.id, lang),
                    }

                message = await self._send(job, "video", post, file_path=upload, reply=True)
        if message is None:
            raise RuntimeError(f"could not post video #{job.id} anywhere")
        return message.id

    async def delivered_message(self, job: Job) -> int | None:
        """After a restart: find a result already posted for `job` (it carries the job's buttons),
        in its channel or the requester's DM, newest first, back to when its delivery began."""
        began = (job.delivery_started_at or job.created_at) - _CLOCK_MARGIN_SECONDS
        since = datetime.fromtimestamp(began, UTC)
        if job.by_dm:  # private mode: the DM first, the channel if the DM was closed
            found = await self._find_delivery(await self._dm_channel(job.user_id), job, since)
            if found is None:
                found = await self._find_delivery(await self._channel(job), job, since)
            return found
        found = await self._find_delivery(await self._channel(job), job, since)
        if found is None:  # the DM is opened only when the channel does not have it
            found = await self._find_delivery(await self._dm_channel(job.user_id), job, since)
        return found

    async def _find_delivery(
        self, place: Messageable | None, job: Job, since: datetime
    ) -> int | None:
        """The id of the bot's post with `job`'s buttons in `place` since `since`, newest first."""
        if place is None or not hasattr(place, "history"):
            return None
        marker = f"wanbot:retry:{job.id}"
        try:
            async for message in place.history(limit=None, after=since, oldest_first=False):
                if message.author.id == getattr(self._bot.user, "id", None) and _has_button(
                    message, marker
                ):
                    return message.id
        except discord.HTTPException:
            log.warning("Could not read message history for job %s", job.id, exc_info=True)
        return None

    # -- sending ---------------------------------------------------------------------------------

    async def _channel(self, job: Job) -> Messageable | None:
        if job.channel_id is None:
            return None
        try:
            channel = self._bot.get_channel(job.channel_id) or await self._bot.fetch_channel(
                job.channel_id
            )
        except (discord.NotFound, discord.Forbidden):
            return None
        # Where a command was used, a message can be sent: a category or forum never asks.
        return channel if isinstance(channel, discord.abc.Messageable) else None

    async def _send(
        self,
        job: Job,
        what: str,
        compose: Compose,
        *,
        file_path: Path | None = None,
        reply: bool = False,
    ) -> discord.Message | None:
        """Send what `compose` makes in the server's language to the job's channel, falling back
        to a DM in the member's; retry Discord's server errors. A job in private mode goes to the
        DM first, and to the channel only when the DM cannot be sent, saying why there. The nonce
        names the job and `what` is sent: Discord answers a repeat with the first message."""
        nonce = f"wanbot-{job.id}-{what}"
        if job.by_dm:
            message = await self._send_to_dm(job, compose, file_path, nonce)
            if message is None:
                log.info("Cannot DM job %s in private mode; posting it in its channel", job.id)
                message = await self._send_to_channel(
                    job, _said_above(compose, channel_words.dm_closed, job), file_path, nonce
                )
            return message
        reference = self._reference(job) if reply else None
        message = await self._send_to_channel(job, compose, file_path, nonce, reference)
        if message is None:
            message = await self._send_to_dm(job, compose, file_path, nonce)
        return message

    async def _send_to_channel(
        self,
        job: Job,
        compose: Compose,
        file_path: Path | None,
        nonce: str,
        reference: discord.MessageReference | None = None,
    ) -> discord.Message | None:
        """Send to the job's channel; None when it is gone or closed to the bot."""
        channel = await self._channel(job)
        if channel is None:
            return None
        try:
            return await self._send_with_retries(
                channel, compose(server_language(job)), file_path, reference, job, nonce
            )
        except (discord.Forbidden, discord.NotFound):
            log.info("Cannot post job %s in its channel", job.id)
            return None

    async def _send_to_dm(
        self, job: Job, compose: Compose, file_path: Path | None, nonce: str
    ) -> discord.Message | None:
        """Send to the requester's DM in their language; None when it cannot be sent."""
        user = await self._dm(job.user_id)
        if user is None:
            return None
        try:
            return await self._send_with_retries(
                user, compose(dm_language(job)), file_path, None, job, nonce
            )
        except (discord.Forbidden, discord.NotFound):
            log.warning("Cannot DM the requester of job %s", job.id)
            return None

    async def _send_with_retries(
        self,
        destination: Messageable,
        parts: dict[str, Any],
        file_path: Path | None,
        reference: discord.MessageReference | None,
        job: Job,
        nonce: str,
    ) -> discord.Message:
        async def attempt() -> discord.Message:
            kwargs: dict[str, Any] = {
                "allowed_mentions": discord.AllowedMentions(
                    users=[discord.Object(id=job.user_id)], everyone=False, roles=False
                ),
                "nonce": nonce,  # sent with enforce_nonce: a repeat returns the first message
                **{name: part for name, part in parts.items() if part is not None},
            }
            upload = discord.File(file_path, filename=f"wanbot-{job.id}.mp4") if file_path else None
            if upload is not None:
                kwargs["file"] = upload
            if reference is not None:
                kwargs["reference"] = reference
                kwargs["mention_author"] = False
            try:
                return await destination.send(**kwargs)
            finally:
                if upload is not None:
                    upload.close()  # each attempt opens the file afresh; none may leak

        def retrying(error: Exception, attempt: int, delay: float) -> None:
            log.warning("Discord 5xx sending for job %s; retrying", job.id)

        return await retry(
            attempt,
            _SEND_RETRY,
            retryable=lambda error: isinstance(error, discord.DiscordServerError),
            sleep=self._sleep,
            on_retry=retrying,
        )

    def _reference(self, job: Job) -> discord.MessageReference | None:
        if not job.progress_message_id or job.channel_id is None:
            return None
        return discord.MessageReference(
            message_id=job.progress_message_id, channel_id=job.channel_id, fail_if_not_exists=False
        )

    async def _dm(self, user_id: int) -> Messageable | None:
        user = self._bot.get_user(user_id)
        if user is None:
            with contextlib.suppress(discord.HTTPException):
                user = await self._bot.fetch_user(user_id)
        return user

    async def _dm_channel(self, user_id: int) -> discord.DMChannel | None:
        """The DM channel with the requester (opened if need be), to read what was sent there."""
        user = await self._dm(user_id)
        if not isinstance(user, discord.User | discord.Member):
            return None
        if user.dm_channel is not None:
            return user.dm_channel
        try:
            return await user.create_dm()
        except discord.HTTPException:
            return None


def _said_above(compose: Compose, say: Callable[[Language, Job], str], job: Job) -> Compose:
    """`compose` with `say`'s words above its content."""

    def composed(lang: Language) -> dict[str, Any]:
        parts = compose(lang)
        above = say(lang, job)
        content = parts.get("content")
        return {**parts, "content": f"{above}\n{content}" if content else above}

    return composed


def server_language(job: Job) -> Language:
    """The language of a job's channel messages, chosen when it was asked."""
    return choose(job.locale)


def dm_language(job: Job) -> Language:
    """The language of a job's messages when they go to the requester's DM."""
    return choose(job.member_locale, job.locale)


async def _has_message(channel: discord.DMChannel, message_id: int) -> bool:
    """Whether `channel` holds the message (one request: only after a restart, or once idle)."""
    try:
        await channel.fetch_message(message_id)
    except discord.HTTPException:
        return False
    return True


def _in_dm(message: discord.Message) -> bool:
    return isinstance(message.channel, discord.DMChannel)


def _fingerprint(embed: discord.Embed) -> str:
    """A short stand-in for an embed, to tell whether it changed (thousands are kept)."""
    text = json.dumps(embed.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _has_button(message: discord.Message, custom_id: str) -> bool:
    return any(
        getattr(child, "custom_id", None) == custom_id
        for row in message.components
        for child in getattr(row, "children", ())
    )


def _elapsed(job: Job) -> float:
    return max(0.0, (job.finished_at or job.updated_at) - job.created_at)
