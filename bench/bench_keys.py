"""Two DashScope keys against one: jobs finished per minute on the same backlog.

What is measured. 40 jobs for wan2.6-i2v-flash (720P, 5 s) from 8 members are queued at once,
first on an engine with one key, then on a fresh engine (new database, new simulator) with two
keys, each key an account of its own at the simulator with the catalogue's limits (5 concurrent
tasks, 5 submits a second per account). Every job takes the same provider time in both runs
(about 60 s: log-normal noise with sigma 0.2, 3 s of it PENDING, pre-drawn per job and given to
the simulator through its timing hook). The real Engine runs against the Simulator in virtual
time; results are downloaded for real over loopback (64-px, 1-fps videos).

- Throughput = jobs ÷ (last job delivered − first job queued), in jobs per virtual minute.
- keys_throughput_ratio = throughput with two keys ÷ with one. Two accounts double the slots, so
  the ideal is 2 (less a little: the last wave and detection lag are the same in both runs). If
  the engine ignored its keys and sent everything on one, the simulator would refuse the extra
  submits (429) and the ratio would come out near 1.0; if it spread jobs badly over the keys, in
  between. The submits refused are printed too.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchlib import VIRTUAL_CLOCK, Rig, drive_until_idle, engine_rig, report, report_header
from benchlib import video_request as bench_request

from bot.domain.jobs import JobState, Requester
from bot.engine.runner import EngineConfig
from bot.simulator import SimulatorConfig

SEED = 20_260_519
MODEL = "wan2.6-i2v-flash"
JOBS = 40
USERS = 8
PROVIDER_SECONDS = 60.0
NOISE_SIGMA = 0.2
PENDING_SECONDS = 3.0


def plan_times(count: int, seed: int) -> list[tuple[float, float]]:
    """(pending, running) seconds for each job, by index: the same in every run."""
    rng = random.Random(seed)
    times = []
    for _ in range(count):
        total = PROVIDER_SECONDS * rng.lognormvariate(0.0, NOISE_SIGMA)
        times.append((PENDING_SECONDS, total - PENDING_SECONDS))
    return times


def timing_hook(times: Sequence[tuple[float, float]]) -> Callable[..., tuple[float, float]]:
    def timing(model: str, body: dict[str, Any]) -> tuple[float, float]:
        return times[int(body["input"]["prompt"].removeprefix("bench job "))]

    return timing


async def run(keys: int, times: Sequence[tuple[float, float]]) -> tuple[float, Counter[str], int]:
    """Jobs per minute with `keys` keys; also the jobs per key and the submits refused."""
    simulator_config = SimulatorConfig(
        timing=timing_hook(times), video_max_side=64, video_fps=1, seed=SEED
    )

    def engine_config(spool: Path) -> EngineConfig:
        return EngineConfig(spool_dir=spool, max_waiting_per_user=JOBS)

    with tempfile.TemporaryDirectory(prefix="wanbot-bench-keys-") as workdir:
        async with engine_rig(
            Path(workdir), simulator_config, engine_config=engine_config, keys=keys
        ) as rig:
            job_ids: list[int] = []
            started = rig.clock()

            async def enqueue_all() -> None:
                for index in range(JOBS):
                    requester = Requester(user_id=1 + index % USERS, guild_id=1, channel_id=1)
                    request = bench_request(MODEL, "720P", 5, f"bench job {index}")
                    job_ids.append((await rig.engine.enqueue(request, requester)).id)

            await drive_until_idle(rig, [(started, enqueue_all)])
            return await _measure(rig, job_ids, started)


async def _measure(
    rig: Rig, job_ids: Sequence[int], started: float
) -> tuple[float, Counter[str], int]:
    per_key: Counter[str] = Counter()
    finished = []
    for job_id in job_ids:
        job = await rig.jobs.get(job_id)
        assert job is not None
        if job.state is not JobState.DELIVERED or job.finished_at is None:
            raise RuntimeError(f"job {job_id} ended {job.state.value}, not delivered")
        per_key[job.dashscope_key or "?"] += 1
        finished.append(job.finished_at)
    submits = [r for r in rig.simulator.requests if r.method == "POST" and "synthesis" in r.path]
    refused = len(submits) - len(rig.simulator.tasks)
    minutes = (max(finished) - started) / 60
    return len(job_ids) / minutes, per_key, refused


async def main() -> None:
    report_header(__file__, VIRTUAL_CLOCK)
    times = plan_times(JOBS, SEED)
    one, one_keys, one_refused = await run(1, times)
    two, two_keys, two_refused = await run(2, times)
    report("jobs", JOBS)
    report("jobs_per_min_one_key", one)
    report("jobs_per_min_two_keys", two)
    report("jobs_per_key_two_keys", ", ".join(f"{k} {n}" for k, n in sorted(two_keys.items())))
    report("submits_refused_one_key", one_refused)
    report("submits_refused_two_keys", two_refused)
    report("keys_throughput_ratio", two / one)
    assert sum(one_keys.values()) == sum(two_keys.values()) == JOBS


if __name__ == "__main__":
    asyncio.run(main())
