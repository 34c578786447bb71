"""The poll schedule, the duration model, the rate window and the fair queue on their own."""

from __future__ import annotations

import random

import pytest

from bot.catalog import MODELS
from bot.engine.queue import FairQueue, _round_robin, _round_robin_index
from bot.engine.schedule import DurationModel, Estimate, PollPlanner, RateWindow, prior_seconds

KIND = ("wan2.7-i2v", "1080P", 5)


def test_rate_window_allows_limit_per_sliding_second() -> None:
    window = RateWindow(3)
    assert [window.take(10.0) for _ in range(4)] == [True, True, True, False]
    assert window.next_free(10.5) == 11.0
    assert window.take(11.0)
    assert window.available(11.0) == 2  # the three at 10.0 have left the window


def test_duration_model_falls_back_from_kind_to_model_to_prior() -> None:
    model = DurationModel()
    assert model.estimate(KIND).samples == 0
    assert model.estimate(KIND).median == MODELS["wan2.7-i2v"].typical_seconds
    for seconds in (100, 110, 120):
        model.observe(("wan2.7-i2v", "1080P", 10), seconds)
    related = model.estimate(KIND)
    assert related.median == pytest.approx(55, rel=0.05)  # half the output seconds
    assert related.spread >= 0.3
    model.observe(KIND, 60)
    assert model.estimate(KIND).median == pytest.approx(60)


def test_planner_waits_for_the_window_then_polls_densely_then_backs_off() -> None:
    planner = PollPlanner(dense_interval=4, longest_interval=60, window_width=2)
    estimate = Estimate(median=180, spread=0.2, samples=20)  # window ≈ 121–269 s
    assert planner.next_poll(0, estimate) == 60
    assert planner.next_poll(100, estimate) == pytest.approx(20.7, abs=0.1)
    assert planner.next_poll(150, estimate) == 4
    assert planner.next_poll(268, estimate) == 4
    assert 4 < planner.next_poll(400, estimate) <= 60


def test_the_prior_comes_from_the_catalogue_scaled_by_length_and_resolution() -> None:
    typical = MODELS["wan2.7-i2v"].typical_seconds  # 1080P, 5 s
    assert prior_seconds(("wan2.7-i2v", "1080P", 10)) == pytest.approx(2 * typical)
    assert prior_seconds(("wan2.7-i2v", "720P", 5)) == pytest.approx(typical * 720 / 1080)
    flash = prior_seconds(("wan2.2-kf2v-flash", "720P", 5))
    assert flash < prior_seconds(("wanx2.1-kf2v-plus", "720P", 5))


def probe_times(planner: PollPlanner, estimate: Estimate, until: float) -> list[float]:
    """When a task is polled, from its submission until `until` seconds."""
    times, elapsed = [], 0.0
    while elapsed < until:
        elapsed += planner.next_poll(elapsed, estimate, probe=True)
        times.append(elapsed)
    return times


@pytest.mark.parametrize("ends_at", [1.0, 2.5, 4.0, 7.3, 15.0, 33.0])
def test_an_unsure_estimate_is_probed_so_a_fast_task_is_seen_within_half_its_time(
    ends_at: float,
) -> None:
    planner = PollPlanner()
    unsure = Estimate(median=150, spread=0.5, samples=0)
    seen = next(t for t in probe_times(planner, unsure, 200) if t >= ends_at)
    assert seen - ends_at <= max(planner.first_probe, 0.5 * ends_at)


def test_probes_stop_where_the_likely_window_begins() -> None:
    planner = PollPlanner()
    unsure = Estimate(median=150, spread=0.5, samples=0)
    start, _ = unsure.window(planner.window_width)
    early = [t for t in probe_times(planner, unsure, start) if t < start]
    assert 5 <= len(early) <= 12, early  # a handful of looks, not a poll every few seconds
    assert planner.next_poll(0, unsure) == pytest.approx(start)  # without probing: the window


def test_fair_queue_takes_turns_and_newcomers_go_first() -> None:
    queue = FairQueue()
    for job in range(1, 6):
        queue.push(job, "m", (1, 100))  # alice: 5 jobs
    assert queue.pop("m") == 1
    queue.push(10, "m", (1, 200))  # bob arrives
    queue.push(20, "m", (2, 300))  # carol, another guild
    assert queue.position(10) in (0, 1) and queue.position(20) in (0, 1)
    assert [queue.pop("m") for _ in range(3)] == [20, 10, 2]
    assert queue.waiting((1, 100)) == 3
    assert queue.pop("other") is None


def test_fair_queue_skips_jobs_that_are_not_ready_and_can_put_one_back_in_front() -> None:
    queue = FairQueue()
    queue.push(1, "m", (1, 1))
    queue.push(2, "m", (1, 1))
    assert queue.pop("m", ready=lambda j: j != 1) == 2
    queue.push(3, "m", (1, 1), front=True)
    assert queue.jobs("m") == [3, 1]
    assert queue.remove(1) and not queue.remove(1)
    assert len(queue) == 1 and 3 in queue


def test_position_matches_the_order_jobs_are_taken() -> None:
    queue = FairQueue()
    for job in range(40):
        queue.push(job, "m", (job % 3, job % 7))  # several guilds and users
    queue.pop("m")
    queue.pop("m")
    positions = {job: queue.position(job) for job in queue.jobs("m")}
    upcoming = queue.upcoming("m", 10)
    taken = [queue.pop("m") for _ in range(len(queue))]
    assert [positions[job] for job in taken] == list(range(len(taken)))
    assert upcoming == taken[:10]


def test_position_counts_where_the_round_robin_yields_each_item() -> None:
    rng = random.Random(5)
    for _ in range(200):
        lengths = [rng.randint(0, 6) for _ in range(rng.randint(1, 6))]
        order = list(_round_robin([(i, d) for d in range(n)] for i, n in enumerate(lengths)))
        for index, (which, depth) in enumerate(order):
            assert _round_robin_index(lengths, which, depth) == index
