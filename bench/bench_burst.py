"""Checking a member's input while a burst of finished videos is being fitted for upload.

What is measured: BURST results (4 s of noisy 1080p30 with sound, ~9 MB each) are fitted under
3 MiB at once, as when several tasks finish together; meanwhile a member's inputs are checked one
after another (a 720p clip with PyAV, then a 1024x1024 PNG with Pillow, as /video does) and the
event loop's lateness is sampled every 20 ms (what an interaction's ack would wait for).

Two set-ups, same work, same order:
- `unbounded`: every piece through `asyncio.to_thread` (the default pool: cores + 4 threads), as
  the bot did before `bot/media/pools.py`;
- `bounded`: fits on `MediaWorkers.result_work` (cores − 1 threads), checks on `input_work`.
Figures are medians over ROUNDS rounds of each set-up, alternated; all wall clock
(time.perf_counter). `input_check_p95_ms_*` is the 95th percentile of single check times during
the burst; `burst_wall_s_*` is how long the whole burst took (the price of bounding).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench_fit import make_source
from benchlib import MB, percentile, report, report_header

from bot.domain.catalog import MODELS, MediaType
from bot.media.edit import fit_video
from bot.media.pools import MediaWorkers
from bot.media.probe import check_media
from bot.media.samples import make_image, make_video

BURST = 4
SOURCE_SECONDS = 4
LIMIT_BYTES = 3 * MB
ROUNDS = 3
LAG_TICK = 0.02
SPEC = MODELS["wan2.7-i2v"]

Run = Callable[..., Awaitable[Any]]


async def one_round(source: Path, workdir: Path, fit_with: Run, check_with: Run) -> dict[str, Any]:
    """Fit BURST copies of `source` at once; check inputs and sample loop lag until they end."""
    clip = make_video(2, 1280, 720, fps=24)
    image = make_image(1024, 1024)
    inputs = [(MediaType.FIRST_CLIP, clip), (MediaType.FIRST_FRAME, image)]
    checks: list[float] = []
    lags: list[float] = []
    done = asyncio.Event()

    async def check_inputs() -> None:
        index = 0
        while not done.is_set():
            media_type, data = inputs[index % len(inputs)]
            started = time.perf_counter()
            await check_with(check_media, media_type, data, SPEC)
            checks.append(time.perf_counter() - started)
            index += 1

    async def sample_lag() -> None:
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(LAG_TICK)
            lags.append(time.perf_counter() - started - LAG_TICK)

    async def fit(index: int) -> None:
        result = await fit_with(fit_video, source, workdir / f"fit-{index}.mp4", LIMIT_BYTES)
        assert result is not None and result.size_bytes <= LIMIT_BYTES

    watchers = [asyncio.create_task(check_inputs()), asyncio.create_task(sample_lag())]
    started = time.perf_counter()
    await asyncio.gather(*(fit(index) for index in range(BURST)))
    wall = time.perf_counter() - started
    done.set()
    await asyncio.gather(*watchers)
    return {
        "wall": wall,
        "check_p50": percentile(checks, 0.5) * 1000,
        "check_p95": percentile(checks, 0.95) * 1000,
        "checks": len(checks),
        "lag_p95": percentile(lags, 0.95) * 1000,
    }


async def quiet_checks(check_with: Run) -> float:
    """The median time of one input check with nothing else running, in ms."""
    clip = make_video(2, 1280, 720, fps=24)
    times = []
    for _ in range(10):
        started = time.perf_counter()
        await check_with(check_media, MediaType.FIRST_CLIP, clip, SPEC)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def bench(source: Path, workdir: Path) -> dict[str, list[dict[str, Any]]]:
    workers = MediaWorkers()
    report("cores", os.cpu_count())
    report("result_threads", workers.result_threads)
    report("input_threads", workers.input_threads)
    report("quiet_input_check_ms", await quiet_checks(asyncio.to_thread))
    rounds: dict[str, list[dict[str, Any]]] = {"unbounded": [], "bounded": []}
    try:
        for _ in range(ROUNDS):
            rounds["unbounded"].append(
                await one_round(source, workdir, asyncio.to_thread, asyncio.to_thread)
            )
            rounds["bounded"].append(
                await one_round(source, workdir, workers.result_work, workers.input_work)
            )
    finally:
        workers.close()
    return rounds


def main() -> int:
    report_header(__file__, "wall clock (time.perf_counter); source generation is not timed")
    with tempfile.TemporaryDirectory(prefix="bench_burst_") as folder:
        workdir = Path(folder)
        source = workdir / "source.mp4"
        make_source(source, SOURCE_SECONDS)
        report("source_mb", source.stat().st_size / MB)
        report("burst", f"{BURST} fits of {SOURCE_SECONDS} s 1080p into {LIMIT_BYTES / MB:.0f} MiB")
        rounds = asyncio.run(bench(source, workdir))
    for setup, results in rounds.items():
        for key, name in (
            ("check_p50", "input_check_p50_ms"),
            ("check_p95", "input_check_p95_ms"),
            ("lag_p95", "loop_lag_p95_ms"),
            ("wall", "burst_wall_s"),
            ("checks", "input_checks_done"),
        ):
            report(f"{name}_{setup}", statistics.median(r[key] for r in results))
    report("load_average_1min", os.getloadavg()[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
