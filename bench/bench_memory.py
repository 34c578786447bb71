"""Memory: streaming a 100 MB result to disk, and holding 10,000 queued jobs.

What is measured, each part in a fresh process so one does not hide or inflate the other.

(a) download: a 100 MB body, generated 1 MiB at a time by a small aiohttp app in a separate
    process on loopback (so the server's memory does not count), is fetched with
    `DashScopeClient.download` into a temporary file. Reported: the downloading process's RSS
    (/proc/self/statm) before and after, and its peak during the download (VmHWM from
    /proc/self/status, reset just before via /proc/self/clear_refs; if the kernel refuses, a
    thread samples RSS every 2 ms instead). `download_rss_growth_mb` is the peak minus before.
(b) queue: 10,000 jobs (1,000 users × 10, over 100 channels) are enqueued into an Engine on a
    real SQLite file (WAL), with no submission (the engine is never stepped), and with the real
    notifier (cogs.notifier.DiscordNotifier) on a discord.py Client logged in to the fake Discord
    in another process (tests/support/fakediscord/process.py): each enqueue posts the job's status message
    through discord.py's HTTP client (fetching the channel first, as the bot does when it is not
    cached) and the notifier keeps that message to edit later. Reported: the enqueue rate (per
    1,000 and for all 10,000), the absolute RSS after, the growth over the baseline taken after
    imports (before the database is opened or the client logs in), and the growth of the first
    1,000 against each further 1,000. `queued_10k_rss_mb` is the growth over the baseline. It can
    come out badly: anything kept per job (messages, embeds, views, rate-limit buckets) shows.

Wall clock (time.perf_counter) for the rates; no virtual time is involved.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
from aiohttp import web
from benchlib import MB, report, report_header, rss_bytes, video_request
from pydantic import SecretStr

from bot.dashscope import DashScopeClient, RetryPolicy
from bot.domain.jobs import Job, JobState, Requester
from bot.engine.queue import FairQueue
from bot.engine.runner import Engine, EngineConfig
from storage.connect import open_database
from storage.jobs import JobStore
from storage.quotas import QuotaStore

DOWNLOAD_BYTES = 100 * MB
CHUNK = b"\0" * MB
QUEUED_JOBS = 10_000
QUEUE_USERS = 1_000
CHANNELS = 100


# -- the server (its own process) ----------------------------------------------------------------


async def serve_big_body() -> None:
    """Serve GET /result.mp4: DOWNLOAD_BYTES streamed from one 1 MiB buffer; print the port."""

    async def result(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = DOWNLOAD_BYTES
        await response.prepare(request)
        for _ in range(DOWNLOAD_BYTES // len(CHUNK)):
            await response.write(CHUNK)
        await response.write_eof()
        return response

    from tests.support.fakediscord.process import serve

    app = web.Application()
    app.router.add_get("/result.mp4", result)
    await serve(app)
    await asyncio.Event().wait()


@contextlib.contextmanager
def big_body_server() -> Iterator[str]:
    """Run `serve_big_body` in a child process; yield the URL of its 100 MB result."""
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        yield f"http://127.0.0.1:{port}/result.mp4?Expires=0&Signature=x"
    finally:
        server.terminate()
        server.wait(timeout=10)


# -- peak RSS -------------------------------------------------------------------------------------


class PeakRss:
    """The highest RSS between start() and stop(): VmHWM after a reset, else sampled."""

    def __init__(self) -> None:
        self.method = "VmHWM"
        self._sampled = 0
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        except OSError:
            self.method = "sampled every 2 ms"
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.002):
            self._sampled = max(self._sampled, rss_bytes())

    def stop(self) -> int:
        if self._thread is not None:
            self._done.set()
            self._thread.join()
            return max(self._sampled, rss_bytes())
        status = Path("/proc/self/status").read_text().splitlines()
        line = next(line for line in status if line.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024


# -- (a) download ---------------------------------------------------------------------------------


async def measure_download() -> None:
    with big_body_server() as url, tempfile.TemporaryDirectory(prefix="wanbot-bench-") as tmp:
        async with aiohttp.ClientSession() as session:
            client = DashScopeClient(
                session,
                api_key=SecretStr("sk-bench"),
                base_url="http://127.0.0.1:9/api/v1",
                retry=RetryPolicy(attempts=1),
            )
            destination = Path(tmp) / "result.mp4"
            before = rss_bytes()
            peak = PeakRss()
            peak.start()
            started = time.perf_counter()
            size = await client.download(url, destination)
            seconds = time.perf_counter() - started
            highest, after = peak.stop(), rss_bytes()
            assert size == destination.stat().st_size == DOWNLOAD_BYTES
    report("download_bytes", size)
    report("download_mb_per_s", size / MB / seconds)
    report("download_rss_before_mb", before / MB)
    report("download_rss_after_mb", after / MB)
    report("download_rss_peak_mb", highest / MB)
    report("download_peak_measured_by", peak.method)
    report("download_rss_growth_after_mb", (after - before) / MB)
    report("download_rss_growth_mb", (highest - before) / MB)


# -- (b) 10,000 queued jobs -----------------------------------------------------------------------


async def measure_queue() -> None:
    import discord

    from cogs.notifier import DiscordNotifier
    from tests.support.fakediscord.process import point_discord_at, spawn

    baseline = rss_bytes()  # after imports, before the database, the client or the engine exist
    with (
        spawn("discord") as rest_url,
        tempfile.TemporaryDirectory(prefix="wanbot-bench-") as tmp,
    ):
        point_discord_at(rest_url)
        async with aiohttp.ClientSession() as setup:
            async with setup.get(f"{rest_url}/_bench/info") as answer:
                token = (await answer.json())["token"]
            async with setup.post(f"{rest_url}/_bench/channels", json={"count": CHANNELS}) as made:
                channels: list[int] = await made.json()
        db = await open_database(Path(tmp) / "wanbot.sqlite3")
        jobs = JobStore(db)
        # As WanBot is built: guild events only, no message cache.
        client = discord.Client(intents=discord.Intents(guilds=True), max_messages=None)
        await client.login(token)  # GET /users/@me and the application, from the fake
        notifier = DiscordNotifier(client, jobs)
        async with aiohttp.ClientSession() as session:
            engine = Engine(
                db=db,
                jobs=jobs,
                quotas=QuotaStore(db, default_seconds=10**7),
                client=DashScopeClient(
                    session, api_key=SecretStr("sk-bench"), base_url="http://127.0.0.1:9/api/v1"
                ),
                notifier=notifier,
                config=EngineConfig(
                    spool_dir=Path(tmp) / "spool",
                    max_waiting_per_user=QUEUED_JOBS // QUEUE_USERS,
                ),
            )
            ready = rss_bytes()
            request = video_request("wan2.7-i2v", "720P", 5)
            marks: list[tuple[int, float, int]] = []  # (jobs queued, seconds, RSS)
            started = time.perf_counter()
            last = None
            for index in range(QUEUED_JOBS):
                requester = Requester(
                    user_id=1 + index % QUEUE_USERS,
                    guild_id=1,
                    channel_id=channels[index % CHANNELS],
                )
                last = await engine.enqueue(request, requester)  # posts its status message
                if (index + 1) % 1000 == 0:
                    marks.append((index + 1, time.perf_counter() - started, rss_bytes()))
            seconds = time.perf_counter() - started
            after = rss_bytes()
            assert last is not None
            queued = await jobs.with_states({JobState.QUEUED})
            # Counted after the measurement: the last job has every other one ahead of it.
            ahead = fair_position(queued, last.id)
            posted = sum(1 for job in queued if job.progress_message_id)
            database_bytes = sum(p.stat().st_size for p in Path(tmp).glob("wanbot.sqlite3*"))
            async with session.get(f"{rest_url}/_bench/counts") as answer:
                counts = await answer.json()
        await notifier.close()
        await client.close()
        await db.close()
    assert len(queued) == QUEUED_JOBS and ahead == QUEUED_JOBS - 1, (len(queued), ahead)
    report("queued_jobs", len(queued))
    report("queued_status_messages_posted", posted)
    report("queued_rest_calls", " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    report("enqueue_per_s", QUEUED_JOBS / seconds)
    report("enqueue_10k_s", seconds)
    _, first_seconds, first_rss = marks[0]
    report("enqueue_first_1k_s", first_seconds)
    report("queue_rss_baseline_after_imports_mb", baseline / MB)
    report("queue_rss_after_login_and_engine_setup_mb", ready / MB)
    report("queue_rss_growth_first_1k_mb", (first_rss - ready) / MB)
    report("queue_rss_growth_per_1k_after_first_mb", (after - first_rss) / MB / 9)
    report("queue_rss_after_10k_mb", after / MB)
    report("queue_rss_growth_over_setup_mb", (after - ready) / MB)
    report("queue_database_files_mb", database_bytes / MB)
    print(
        "# queued_10k_rss_mb = RSS after 10,000 enqueues minus RSS after imports: it includes the"
        " SQLite connection and its cache, the logged-in discord.py client, the engine, and per"
        " job the queue entry and the notifier's status (a partial message, a fingerprint of its"
        " embed, a lock, discord.py's stored Cancel view). The fake REST runs in another process"
        " and is not counted.",
        flush=True,
    )
    print(
        "# the fake sends no rate-limit waits. Real Discord allows about 5 messages per 5 s per"
        f" channel and 50 requests/s per bot: {QUEUED_JOBS:,} status posts over {CHANNELS}"
        " channels would take minutes, and enqueue waits for its post.",
        flush=True,
    )
    report("queued_10k_rss_mb", (after - baseline) / MB)


def fair_position(queued: list[Job], job_id: int) -> int | None:
    """Where `job_id` stands in the engine's fair order, rebuilt from the queued rows."""
    line = FairQueue()
    for job in sorted(queued, key=lambda job: job.id):
        line.push(job.id, job.model, (job.guild_id, job.user_id))
    return line.position(job_id)


# -- driver ---------------------------------------------------------------------------------------


def run_parts() -> int:
    """Each part in its own interpreter; their lines pass straight through."""
    report_header(__file__, "wall clock (time.perf_counter); no virtual time")
    report("summary_download_rss_growth_mb", "peak RSS during the download minus RSS before it")
    report(
        "summary_queued_10k_rss_mb",
        "RSS after 10,000 enqueues with status messages posted, minus RSS after imports",
    )
    code = 0
    for part in ("download", "queue"):
        done = subprocess.run([sys.executable, __file__, "--part", part], check=False)
        code = code or done.returncode
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("download", "queue"))
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve_big_body())
        return 0
    if args.part == "download":
        asyncio.run(measure_download())
        return 0
    if args.part == "queue":
        asyncio.run(measure_queue())
        return 0
    return run_parts()


if __name__ == "__main__":
    sys.exit(main())
