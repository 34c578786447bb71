"""Memory: streaming a 100 MB result to disk, and holding 10,000 queued jobs.

What is measured, each part in a fresh process so one does not hide or inflate the other.

(a) download: a 100 MB body, generated 1 MiB at a time by a small aiohttp app in a separate
    process on loopback (so the server's memory does not count), is fetched with
    `DashScopeClient.download` into a temporary file. Reported: the downloading process's RSS
    (/proc/self/statm) before and after, and its peak during the download (VmHWM from
    /proc/self/status, reset just before via /proc/self/clear_refs; if the kernel refuses, a
    thread samples RSS every 2 ms instead). `download_rss_growth_mb` is the peak minus before.
(b) queue: 10,000 jobs (1,000 users × 10) are enqueued into an Engine on a real SQLite file
    (WAL), with no submission (the engine is never stepped). Reported: the enqueue rate, the
    absolute RSS after, and the growth over the baseline taken after imports (before the
    database is opened). `queued_10k_rss_mb` is that growth.

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
from benchlib import MB, NullNotifier, report, report_header, rss_bytes, video_request
from pydantic import SecretStr

from bot.dashscope import DashScopeClient, RetryPolicy
from bot.engine.runner import Engine, EngineConfig
from storage.database import Database
from storage.jobs import JobState, JobStore, Requester
from storage.quotas import QuotaStore

DOWNLOAD_BYTES = 100 * MB
CHUNK = b"\0" * MB
QUEUED_JOBS = 10_000
QUEUE_USERS = 1_000


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

    app = web.Application()
    app.router.add_get("/result.mp4", result)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
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
    baseline = rss_bytes()  # after imports, before the database or the engine exist
    with tempfile.TemporaryDirectory(prefix="wanbot-bench-") as tmp:
        db = await Database.open(Path(tmp) / "wanbot.sqlite3")
        jobs = JobStore(db)
        async with aiohttp.ClientSession() as session:
            engine = Engine(
                db=db,
                jobs=jobs,
                quotas=QuotaStore(db, default_seconds=10**7),
                client=DashScopeClient(
                    session, api_key=SecretStr("sk-bench"), base_url="http://127.0.0.1:9/api/v1"
                ),
                notifier=NullNotifier(),
                config=EngineConfig(
                    spool_dir=Path(tmp) / "spool",
                    max_waiting_per_user=QUEUED_JOBS // QUEUE_USERS,
                ),
            )
            ready = rss_bytes()
            request = video_request("wan2.7-i2v", "720P", 5)
            started = time.perf_counter()
            for index in range(QUEUED_JOBS):
                requester = Requester(user_id=1 + index % QUEUE_USERS, guild_id=1, channel_id=1)
                last = await engine.enqueue(request, requester)
            seconds = time.perf_counter() - started
            after = rss_bytes()
            # Counted after the measurement: the last job has every other one ahead of it.
            ahead = engine.queue_position(last.id)
            queued = len(await jobs.with_states({JobState.QUEUED}))
            database_bytes = sum(p.stat().st_size for p in Path(tmp).glob("wanbot.sqlite3*"))
        await db.close()
    assert queued == QUEUED_JOBS and ahead == QUEUED_JOBS - 1, (queued, ahead)
    report("queued_jobs", queued)
    report("enqueue_per_s", QUEUED_JOBS / seconds)
    report("queue_rss_baseline_after_imports_mb", baseline / MB)
    report("queue_rss_after_engine_setup_mb", ready / MB)
    report("queue_rss_after_10k_mb", after / MB)
    report("queue_rss_growth_over_setup_mb", (after - ready) / MB)
    report("queue_database_files_mb", database_bytes / MB)
    report("queued_10k_rss_mb", (after - baseline) / MB)


# -- driver ---------------------------------------------------------------------------------------


def run_parts() -> int:
    """Each part in its own interpreter; their lines pass straight through."""
    report_header(__file__, "wall clock (time.perf_counter); no virtual time")
    report("summary_download_rss_growth_mb", "peak RSS during the download minus RSS before it")
    report("summary_queued_10k_rss_mb", "RSS after 10,000 enqueues minus RSS after imports")
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
