"""A burst of 150 jobs on three models in real time: submit delay, tasks in flight, query peak.

Why real time. In virtual time (bench_backlog.py) the clock does not move inside an engine pass,
so a slot freed by a poll and filled by a submit in the same pass shows 0 s by construction. Here
the engine runs its own loop (`Engine.start`) on the wall clock (time.time) against the Simulator
on loopback, also on the wall clock, so database transactions, HTTP round trips, the enqueueing
that competes for the loop, and the wait for the next pass all count.

Set-up. The engine and the simulator allow 20 concurrent tasks and 5 submits/s per model (the
catalogue allows 5 concurrent; raised so that 60 slots can be busy at once) for
wan2.6-i2v-flash, wan2.7-i2v and wan2.2-kf2v-flash; the engine's query budget is its default
18/s, the simulator's limit 20/s. 40 users queue 150 jobs at once (50 per model) while the engine
is running. Each task takes 8 s × log-normal noise (σ 0.2) at the provider, 1 s of it PENDING.
The engine starts with 20 finished tasks per kind in its history (as after a day of running), so
it polls around the real end rather than around its 150 s prior. Results are downloaded for real
(64-px, 1-fps videos), probed and handed to a notifier that keeps nothing.

Figures.
- submit delay: for the n-th task created for a model (times as the simulator saw the POSTs),
  the earliest moment it could have been sent is the latest of: the n-th job of that model was
  queued (its row's created_at); a slot was free by the engine's own count (the (n−20)-th time
  the engine learned a task of that model ended: its `downloading` event); the submit window
  allowed it (the (n−5)-th POST + 1 s). Delay = POST arrival − that moment: the scheduling
  latency of the engine (loop wake-up, passes, transactions, the POST itself). Detection lag is
  not in it (printed separately). `submit_delay_p95_s` is over all 150 submits; the first burst
  and the refills are printed apart. The rate term uses the arrival of the earlier POST, which is
  later than the engine's own take of the window, so it can only make the delay look smaller by
  about one POST's latency; both other terms are exact.
- tasks_in_flight_peak: the most tasks PENDING or RUNNING at the simulator at once (its submit
  and end times). Engine-side (submit to learned end) is printed too.
- peak_queries_per_s_at_provider: `Simulator.peak_queries_per_second()`, the most GET/POST
  /tasks requests one key's account received in any 1 s window, counted on arrival at the
  simulator. Must be ≤ 20 (the account's limit); the engine budgets 18/s, each query holding its
  place from its send until a second after its answer.

It can come out badly: a slow pass, a poll gather that holds up submits, a transaction queue
behind the enqueue burst, or a budget that leaks shows in the delay or the peak. Run 3 times;
medians are the figures. What it found when written: the engine takes its submit and query
windows when it decides, not when the request arrives, so arrival jitter lets the simulator see
6 submits in a second (a 429 and a 2 s back-off: `submits_refused`, the first-burst delay) and
up to 19 queries in a second (over the engine's 18, within the account's 20; 21 in some runs).
Queries are now counted when sent and held until answered (issue 17); submits are not yet.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchlib import engine_rig, percentile, report, report_header, video_request

from bot.domain.jobs import Job, JobState, Requester
from bot.engine.runner import EngineConfig
from bot.simulator import SimulatorConfig
from storage.jobs import JobStore

SEED = 20_261_122
MODELS = (
    ("wan2.6-i2v-flash", "720P"),
    ("wan2.7-i2v", "720P"),
    ("wan2.2-kf2v-flash", "480P"),
)
DURATION = 5
SLOTS = 20  # per model, engine and simulator
SUBMITS_PER_SECOND = 5
JOBS_PER_MODEL = 50
USERS = 40
PROVIDER_SECONDS = 8.0
NOISE_SIGMA = 0.2
PENDING_SECONDS = 1.0
HISTORY_PER_KIND = 20
RUNS = 3
TIMEOUT_S = 240.0


def plan(count: int, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [
        (PENDING_SECONDS, PROVIDER_SECONDS * rng.lognormvariate(0.0, NOISE_SIGMA) - PENDING_SECONDS)
        for _ in range(count)
    ]


def timing_hook(times: Sequence[tuple[float, float]]) -> Callable[..., tuple[float, float]]:
    def timing(model: str, body: dict[str, Any]) -> tuple[float, float]:
        return times[int(body["input"]["prompt"].removeprefix("bench job "))]

    return timing


def peak_overlap(spans: Sequence[tuple[float, float]]) -> int:
    """The most spans [start, end) open at one moment."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    peak = current = 0
    for _, change in edges:
        current += change
        peak = max(peak, current)
    return peak


async def learned_at(jobs: JobStore, job_id: int) -> float:
    events = await jobs.events(job_id)
    return next(e.at for e in events if e.to_state is JobState.DOWNLOADING)


async def one_run(run: int) -> dict[str, Any]:
    count = JOBS_PER_MODEL * len(MODELS)
    times = plan(count, SEED + run)
    names = [name for name, _ in MODELS]
    simulator_config = SimulatorConfig(
        timing=timing_hook(times),
        concurrency=dict.fromkeys(names, SLOTS),
        submit_per_second=dict.fromkeys(names, SUBMITS_PER_SECOND),
        video_max_side=64,
        video_fps=1,
        seed=SEED,
    )
    history = random.Random(SEED - run)

    def engine_config(spool: Path) -> EngineConfig:
        return EngineConfig(
            spool_dir=spool,
            concurrency=dict.fromkeys(names, SLOTS),
            submit_per_second=dict.fromkeys(names, SUBMITS_PER_SECOND),
            max_waiting_per_user=count,
        )

    with tempfile.TemporaryDirectory(prefix="wanbot-bench-") as workdir:
        async with engine_rig(
            Path(workdir), simulator_config, engine_config=engine_config, clock=time.time
        ) as rig:
            simulator, jobs, engine = rig.simulator, rig.jobs, rig.engine
            for name, resolution in MODELS:
                for _ in range(HISTORY_PER_KIND):
                    seconds = PROVIDER_SECONDS * history.lognormvariate(0.0, NOISE_SIGMA)
                    engine.durations.observe((name, resolution, DURATION), seconds)
            await engine.start()
            started = time.time()
            queued: list[Job] = []
            for index in range(count):
                name, resolution = MODELS[index % len(MODELS)]
                request = video_request(name, resolution, DURATION, f"bench job {index}")
                requester = Requester(user_id=1 + index % USERS, guild_id=1, channel_id=1)
                queued.append(await engine.enqueue(request, requester))
            enqueued = time.time()
            while await jobs.unfinished():
                if time.time() - started > TIMEOUT_S:
                    raise TimeoutError(f"jobs unfinished after {TIMEOUT_S:.0f} s")
                await asyncio.sleep(0.5)
            finished = time.time()
            await engine.stop()
            ended = {job.id: await jobs.get(job.id) for job in queued}
            bad = [j for j in ended.values() if j is None or j.state is not JobState.DELIVERED]
            if bad:
                raise RuntimeError(f"{len(bad)} jobs did not end delivered")
            learned = {job.id: await learned_at(jobs, job.id) for job in queued}

    by_prompt = {job.request.prompt: job for job in queued}
    delays: list[float] = []
    burst: list[float] = []
    refill: list[float] = []
    engine_spans: list[tuple[float, float]] = []
    for name in names:
        tasks = sorted(
            (t for t in simulator.tasks.values() if t.model == name), key=lambda t: t.submit_time
        )
        model_jobs = [by_prompt[t.prompt] for t in tasks]
        sent = [t.submit_time for t in tasks]
        waiting_since = sorted(job.created_at for job in model_jobs)
        freed = sorted(learned[job.id] for job in model_jobs)
        engine_spans += [
            (t.submit_time, learned[j.id]) for t, j in zip(tasks, model_jobs, strict=True)
        ]
        for n, at in enumerate(sent):
            could = waiting_since[n]
            if n >= SLOTS:
                could = max(could, freed[n - SLOTS])
            if n >= SUBMITS_PER_SECOND:
                could = max(could, sent[n - SUBMITS_PER_SECOND] + 1.0)
            delay = at - could
            delays.append(delay)
            (burst if n < SLOTS else refill).append(delay)
    tasks = list(simulator.tasks.values())
    posts = sum(
        1
        for r in simulator.requests
        if r.method == "POST" and not r.path.startswith("/api/v1/tasks")
    )
    lags = [learned[by_prompt[t.prompt].id] - t.ended_at for t in tasks]
    polls = sum(
        1 for r in simulator.requests if r.method == "GET" and r.path.startswith("/api/v1/tasks/")
    )
    return {
        "jobs": len(tasks),
        "submits_refused": posts - len(tasks),
        "enqueue_s": enqueued - started,
        "wall_s": finished - started,
        "delay_p50": percentile(delays, 0.5),
        "delay_p95": percentile(delays, 0.95),
        "delay_max": max(delays),
        "delay_negative": sum(1 for d in delays if d < 0),
        "burst_p95": percentile(burst, 0.95),
        "refill_p50": percentile(refill, 0.5),
        "refill_p95": percentile(refill, 0.95),
        "detection_lag_mean": statistics.mean(lags),
        "in_flight_peak": peak_overlap([(t.submit_time, t.ended_at) for t in tasks]),
        "engine_in_flight_peak": peak_overlap(engine_spans),
        "peak_queries": simulator.peak_queries_per_second(),
        "polls_per_job": polls / len(tasks),
    }


async def main() -> None:
    # The engine logs each refused submit; they are counted in submits_refused instead.
    logging.basicConfig(level=logging.ERROR)
    report_header(__file__, "wall clock (time.time) in the engine, the simulator and the figures")
    report(
        "setup",
        f"{len(MODELS)} models x {JOBS_PER_MODEL} jobs queued at once by {USERS} users; "
        f"{SLOTS} slots and {SUBMITS_PER_SECOND} submits/s per model; "
        f"provider time {PROVIDER_SECONDS:.0f} s x lognormal(0, {NOISE_SIGMA}); {RUNS} runs",
    )
    runs = [await one_run(run) for run in range(RUNS)]
    for index, result in enumerate(runs, start=1):
        report(
            f"run_{index}",
            " ".join(
                f"{key}={value:.3f}" if isinstance(value, float) else f"{key}={value}"
                for key, value in result.items()
            ),
        )

    def median(key: str) -> float:
        return statistics.median(result[key] for result in runs)

    report("jobs", median("jobs"))
    report("submits_refused", median("submits_refused"))
    report("enqueue_burst_s", median("enqueue_s"))
    report("wall_s", median("wall_s"))
    report("submit_delay_p50_s", median("delay_p50"))
    report("submit_delay_first_burst_p95_s", median("burst_p95"))
    report("submit_delay_refill_p50_s", median("refill_p50"))
    report("submit_delay_refill_p95_s", median("refill_p95"))
    report("submit_delay_max_s", max(result["delay_max"] for result in runs))
    report("submit_delay_below_zero", sum(result["delay_negative"] for result in runs))
    report("detection_lag_mean_s", median("detection_lag_mean"))
    report("polls_per_job", median("polls_per_job"))
    report("engine_in_flight_peak", median("engine_in_flight_peak"))
    report("tasks_in_flight_peak", int(median("in_flight_peak")))
    report("peak_queries_per_s_at_provider", int(median("peak_queries")))
    report("peak_queries_per_s_max_of_runs", max(result["peak_queries"] for result in runs))
    report("submit_delay_p95_s", median("delay_p95"))
    print(
        "# figures are medians of the runs. peak_queries_per_s_at_provider is also a guarantee:"
        " every poll, list and cancel holds a place in one 18/s window from its send until a"
        " second after its answer (tests/unit/engine/test_query_budget.py); here it is the simulator's own"
        " count, per account, on arrival.",
        flush=True,
    )
    target = median("delay_p95") <= 0.5 and median("in_flight_peak") >= 40
    report("target", "met" if target and median("peak_queries") <= 20 else "missed")
    assert not math.isnan(median("delay_p95"))


if __name__ == "__main__":
    asyncio.run(main())
