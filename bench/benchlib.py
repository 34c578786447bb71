"""What the benchmarks share: the report lines, the tests' engine rig on the simulator
(tests/support/engine_rig.py), small statistics.

Every benchmark prints plain `name: value` lines; `run_all.py` collects them into the summary.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import shlex
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `tests.support` (and this tree's `bot`) for every bench

from bot.domain.catalog import MediaType  # noqa: E402
from bot.domain.requests import GenerationRequest, MediaItem  # noqa: E402
from bot.engine.runner import EngineConfig  # noqa: E402
from bot.engine.virtual import VirtualClock  # noqa: E402
from bot.simulator import Simulator, SimulatorConfig  # noqa: E402
from tests.support.engine_rig import NullNotifier, Rig  # noqa: E402
from tests.support.engine_rig import engine_rig as shared_engine_rig  # noqa: E402

API_KEY = "sk-bench"
VIRTUAL_CLOCK = (
    "virtual clock: minutes of provider time pass instantly; the simulator and the engine share it"
)


def report(name: str, value: object) -> None:
    """Print one `name: value` line (floats to 3 significant decimals)."""
    if isinstance(value, float):
        value = f"{value:.3f}" if abs(value) < 1000 else f"{value:.1f}"
    print(f"{name}: {value}", flush=True)


def report_header(script: str, clock: str, args: Sequence[str] = ()) -> None:
    """The machine, the clock and how to run the script again."""
    report("machine", f"{os.cpu_count()} cores, Python {platform.python_version()}")
    report("clock", clock)
    command = [".venv/bin/python", f"bench/{Path(script).name}", *args]
    report("reproduce", shlex.join(command))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile by linear interpolation (0.5: the median)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


MB = 1024 * 1024


def video_request(
    model: str, resolution: str, duration: int, prompt: str = "a cat"
) -> GenerationRequest:
    """A request with http inputs (the simulator accepts them without fetching)."""
    first = MediaItem(type=MediaType.FIRST_FRAME, url="https://example.com/a.png")
    if "kf2v" in model:
        last = MediaItem(type=MediaType.LAST_FRAME, url="https://example.com/b.png")
        return GenerationRequest.build(
            model=model, media=(first, last), resolution=resolution, prompt=prompt
        )
    return GenerationRequest.build(
        model=model, media=(first,), resolution=resolution, duration=duration, prompt=prompt
    )


@contextlib.asynccontextmanager
async def engine_rig(
    workdir: Path,
    simulator_config: SimulatorConfig,
    *,
    engine_config: Callable[[Path], EngineConfig],
    quota_seconds: int = 10**7,
    clock: Callable[[], float] | None = None,
    keys: int = 1,
) -> AsyncIterator[Rig[NullNotifier]]:
    """The tests' engine rig (tests/support/engine_rig.py) on a SQLite file in `workdir`, with a
    notifier that keeps nothing: a new VirtualClock unless `clock` is given (e.g. `time.time` for
    wall-clock benches). With `keys` above 1, the engine has that many DashScope keys, each an
    account of its own at the simulator (which then accepts any key)."""
    async with shared_engine_rig(
        str(workdir / "wanbot.sqlite3"),
        simulator_config,
        engine_config(workdir / "spool"),
        NullNotifier(),
        quota_seconds=quota_seconds,
        clock=clock,
        keys=keys,
        api_key=API_KEY,
    ) as rig:
        yield rig


def task_polls(simulator: Simulator) -> dict[str, list[float]]:
    """Task id -> times of the GET /tasks/{id} requests the simulator recorded for it."""
    polls: dict[str, list[float]] = {}
    for request in simulator.requests:
        if request.method == "GET" and request.path.startswith("/api/v1/tasks/"):
            polls.setdefault(request.path.rsplit("/", 1)[1], []).append(request.time)
    return polls


Arrival = tuple[float, Callable[[], Awaitable[object]]]  # (virtual time, what happens then)


@dataclass
class DriveStats:
    """Where the wall time of a virtual-time run went."""

    steps: int = 0
    nudges: int = 0  # passes where the engine said "due now" and the clock was moved 10 ms
    step_seconds: float = 0.0  # in engine.step(): reconciling, polling, submitting
    settle_seconds: float = 0.0  # in engine.settle(): downloads, probes, deliveries
    arrival_seconds: float = 0.0  # in the arrivals (enqueueing)


async def drive_until_idle(
    rig: Rig, arrivals: Sequence[Arrival] = (), *, nudge: float = 0.01
) -> DriveStats:
    """Run the engine in virtual time, firing each arrival when the clock reaches it.

    Like `bot.engine.virtual.drive`, but the clock jumps to the earlier of the engine's next due
    time and the next arrival; it stops when no arrival is left and the engine has nothing
    scheduled (every job has ended and every download and delivery has settled).
    """
    stats = DriveStats()
    waiting = deque(sorted(arrivals, key=lambda arrival: arrival[0]))
    clock, engine = rig.clock, rig.engine
    assert isinstance(clock, VirtualClock), "drive_until_idle moves a virtual clock"
    while True:
        started = time.perf_counter()
        while waiting and waiting[0][0] <= clock.now:
            await waiting.popleft()[1]()
        stepped = time.perf_counter()
        due = await engine.step()
        settling = time.perf_counter()
        await engine.settle()
        finished = time.perf_counter()
        stats.steps += 1
        stats.arrival_seconds += stepped - started
        stats.step_seconds += settling - stepped
        stats.settle_seconds += finished - settling
        candidates = [t for t in (due, waiting[0][0] if waiting else None) if t is not None]
        if not candidates:
            return stats
        target = min(candidates)
        if target <= clock.now:
            stats.nudges += 1
            target = clock.now + nudge
        clock.advance_to(target)
