"""Media work: results never take more threads than allowed, and inputs are checked meanwhile."""

from __future__ import annotations

import asyncio
import threading

from bot.media.pools import MediaWorkers


async def test_a_burst_of_results_leaves_input_checks_a_thread() -> None:
    workers = MediaWorkers(cores=2)
    assert (workers.result_threads, workers.input_threads) == (1, 2)
    release = threading.Event()
    lock = threading.Lock()
    running = peak = 0

    def fit() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(timeout=30)
        with lock:
            running -= 1

    try:
        burst = [asyncio.ensure_future(workers.result_work(fit)) for _ in range(4)]
        # Every result thread is busy (or the burst waits for one): an input is still checked.
        assert await workers.input_work(lambda size: size * 2, 21) == 42
        assert not any(task.done() for task in burst)
        release.set()
        await asyncio.gather(*burst)
        assert peak == workers.result_threads
    finally:
        release.set()
        workers.close()


def test_one_core_still_gets_a_thread_for_each() -> None:
    workers = MediaWorkers(cores=1)
    assert (workers.result_threads, workers.input_threads) == (1, 1)
    workers.close()
