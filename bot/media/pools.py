"""Where PyAV and Pillow run: two small thread pools sized to the machine's cores.

Fitting a result under the upload limit takes seconds of CPU per video; checking a member's input
takes milliseconds. In one unbounded pool a burst of deliveries would take every core and make a
member wait seconds for the check of a small image. So results get at most all cores but one, and
inputs have their own threads: a burst of deliveries slows itself, not the people asking.

Each fit's outcome and time (waiting for a free thread included: it is what delays a post) go to
`on_fit`, if given: the entry hands it its metrics' `fit`; this floor knows nothing of metrics.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, ParamSpec, TypeVar

from bot.media.edit import fit_video

P = ParamSpec("P")
T = TypeVar("T")

# How fitting a video under an upload limit ended: fitted, or it cannot be made that small.
FitOutcome = Literal["fitted", "too_big"]
FitTimer = Callable[[FitOutcome, float], None]  # told each fit's outcome and seconds (real time)


class MediaWorkers:
    """Run media work off the event loop: results (probe, fit) and inputs (check, cut) apart."""

    def __init__(self, cores: int | None = None, *, on_fit: FitTimer | None = None) -> None:
        cores = max(1, cores or os.cpu_count() or 1)
        self._on_fit = on_fit
        self.result_threads = max(1, cores - 1)
        self.input_threads = cores
        self._results = ThreadPoolExecutor(self.result_threads, "wanbot-results")
        self._inputs = ThreadPoolExecutor(self.input_threads, "wanbot-inputs")

    async def result_work(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `work` on a result thread (probing and fitting finished videos)."""
        return await self._run(self._results, work, *args, **kwargs)

    async def input_work(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `work` on an input thread (checking and cutting what members send)."""
        return await self._run(self._inputs, work, *args, **kwargs)

    async def fit(self, source: Path, target: Path, limit_bytes: int) -> Path | None:
        """`source` re-encoded at `target` within `limit_bytes`, on a result thread; None when it
        cannot be watched that small."""
        started = time.perf_counter()
        fitted = await self.result_work(fit_video, source, target, limit_bytes)
        if self._on_fit is not None:
            self._on_fit("too_big" if fitted is None else "fitted", time.perf_counter() - started)
        return None if fitted is None else fitted.path

    def close(self) -> None:
        """Stop taking work; work already running finishes on its thread."""
        self._results.shutdown(wait=False, cancel_futures=True)
        self._inputs.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    async def _run(
        pool: ThreadPoolExecutor, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, functools.partial(work, *args, **kwargs))
