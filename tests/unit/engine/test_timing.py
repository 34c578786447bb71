"""The poll schedule, the duration model, the rate window and the fair queue on their own."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable

import pytest

from bot.domain.catalog import MODELS
from bot.engine.queue import FairQueue, _round_robin, _round_robin_index
from bot.engine.timing import (
    SCALING_LOG_ERROR,
    SURE_SAMPLES,
    DurationModel,
    Estimate,
    PollPlanner,
    RateWindow,
    prior_seconds,
    task_seconds,
)

KIND = ("wan2.7-i2v", "1080P", 5)


def test_rate_window_allows_limit_per_sliding_second() -> None:
    window = RateWindow(3)
    assert [window.take(10.0) for _ in range(4)] == [True, True, True, False]
    assert window.next_free(10.5) == 11.0
    assert window.take(11.0)
    assert window.available(11.0) == 2  # the three at 10.0 have left the window


def test_a_call_holds_its_place_from_its_send_until_a_window_after_its_answer() -> None:
    # The provider counts a call when it arrives, anywhere between its send and its answer.
    window = RateWindow(2)
    assert window.begin(10.0) and window.begin(10.0)
    assert not window.begin(10.9) and window.available(10.9) == 0
    assert window.next_free(10.9) == 11.9  # both still open: not before a window from now
    window.end(11.5)  # answered late: it may have arrived just now
    assert window.available(12.4) == 0
    assert window.next_free(12.4) == 12.5
    window.end(12.4)
    assert window.available(12.5) == 1 and window.next_free(12.5) == 12.5
    assert window.available(13.4) == 2


def test_a_duration_comes_from_one_clock_and_fits_inside_what_the_bot_saw() -> None:
    def at(hms: str) -> float:
        hours, minutes, seconds = map(float, hms.split(":"))
        return 1_800_000_000 + 3600 * hours + 60 * minutes + seconds

    sent, seen = at("0:00:00"), at("0:01:10")
    provider = {"provider_submit": at("0:00:01"), "provider_end": at("0:01:06")}
    assert task_seconds(sent=sent, seen=seen, **provider)[0] == pytest.approx(65)
    # The provider's clock runs 338 days behind: its own span is still the task's.
    behind = {k: v - 338 * 86400 for k, v in provider.items()}
    assert task_seconds(sent=sent, seen=seen, **behind)[0] == pytest.approx(65)
    # A span longer than the bot saw elapse (or none) is not the task's.
    stale = {"provider_submit": provider["provider_submit"] - 338 * 86400}
    assert task_seconds(sent=sent, seen=seen, **provider | stale)[0] is None
    backwards = {"provider_end": provider["provider_submit"] - 1}
    assert task_seconds(sent=sent, seen=seen, **provider | backwards)[0] is None
    # One provider time missing: the bot's own send and sight, never one of each.
    for missing in ("provider_submit", "provider_end"):
        only_one = provider | {missing: None}
        assert task_seconds(sent=sent, seen=seen, **only_one)[0] == pytest.approx(70)
    assert task_seconds(sent=None, seen=seen, **provider)[0] is None


def test_what_no_task_could_take_is_dropped_live_and_from_history() -> None:
    model = DurationModel()
    model.load({KIND: [60, 62, 338 * 86400, 58, 6000, 61, 0.5, -3]})
    assert model.snapshot() == {KIND: [60, 62, 58, 61]}
    kept = [60, 62, 58, 61]
    assert model.estimate(KIND).median == pytest.approx(math.prod(kept) ** (1 / len(kept)))
    assert not model.observe(KIND, 700)
    assert model.observe(KIND, 120)  # a slow one, not an error


def test_a_lasting_change_in_the_providers_speed_is_followed() -> None:
    model = DurationModel()
    model.load({KIND: [3.0] * 10})  # learned against a fast stand-in
    learned = [model.observe(KIND, 100.0) for _ in range(SURE_SAMPLES)]
    assert learned == [False] * (SURE_SAMPLES - 1) + [True]
    assert model.snapshot() == {KIND: [100.0] * SURE_SAMPLES}
    assert model.observe(KIND, 90.0)


def test_a_kind_seen_twice_plans_with_the_spread_pooled_over_every_kind() -> None:
    model = DurationModel()
    rng = random.Random(11)
    busy = ("wan2.7-i2v", "720P", 5)
    model.load({busy: [90 * rng.lognormvariate(0, 0.2) for _ in range(40)]})
    model.observe(KIND, 130.0)
    model.observe(KIND, 130.5)  # two alike: its own spread would be ~0
    estimate = model.estimate(KIND)
    assert estimate.median == pytest.approx(math.sqrt(130 * 130.5))
    # The queue's noise is every kind's: about 0.2, widened for a median known from two.
    assert estimate.spread == pytest.approx(0.2 * math.sqrt(1 + 1 / 2), rel=0.25)
    assert estimate.samples == 2


def test_duration_model_falls_back_from_kind_to_model_to_prior() -> None:
    model = DurationModel()
    assert model.estimate(KIND).samples == 0
    assert model.estimate(KIND).median == MODELS["wan2.7-i2v"].typical_seconds
    for seconds in (100, 110, 120):
        model.observe(("wan2.7-i2v", "1080P", 10), seconds)
    related = model.estimate(KIND)
    assert related.median == pytest.approx(55, rel=0.05)  # half the output seconds
    assert related.spread > SCALING_LOG_ERROR  # another length scales imperfectly: wider
    assert related.samples == 0  # none of its own: probed early
    model.observe(KIND, 60)
    assert model.estimate(KIND).median == pytest.approx(60)


def test_planner_waits_for_the_likely_time_then_polls_densest_where_tasks_end() -> None:
    planner = PollPlanner(lag_price=0.25, longest_interval=60)
    estimate = Estimate(median=180, spread=0.2, samples=20)
    first = planner.next_poll(0, estimate)
    # The first poll where the price of waiting balances the price of a poll (F/f = λ + √(2λS/f)).
    assert 0.6 * 180 < first < 180
    assert planner.next_poll(first / 2, estimate) == pytest.approx(first / 2)
    gaps = {t: planner.next_poll(t, estimate) for t in (first, 150, 180, 240, 300, 400)}
    # Shortest around and after the median (the hazard still rises), wider in the late tail.
    assert gaps[first] > gaps[180] > gaps[300]
    assert gaps[400] > gaps[300] or gaps[400] == pytest.approx(gaps[300], rel=0.2)
    assert all(1 < gap < 15 for gap in gaps.values()), gaps


def test_the_schedule_beats_every_fixed_interval_at_its_own_number_of_polls() -> None:
    planner = PollPlanner(lag_price=0.25)
    estimate = Estimate(median=120, spread=0.2, samples=50)
    rng = random.Random(7)
    ends = [120 * rng.lognormvariate(0, 0.2) for _ in range(2000)]

    def run(next_gap: Callable[[float], float]) -> tuple[float, float]:
        polls, lags = [], []
        for end in ends:
            at, count = 0.0, 0
            while at < end:
                at += next_gap(at)
                count += 1
            polls.append(count)
            lags.append(at - end)
        return statistics.fmean(polls), statistics.fmean(lags)

    polls, lag = run(lambda at: planner.next_poll(at, estimate))
    fixed = len(ends) / sum(1 / (end / polls) for end in ends)  # a gap giving as many polls
    fixed_polls, fixed_lag = run(lambda at: fixed)
    assert fixed_polls == pytest.approx(polls, rel=0.1)
    assert lag < fixed_lag / 2


def test_a_higher_price_or_a_busy_budget_polls_less() -> None:
    estimate = Estimate(median=120, spread=0.2, samples=50)
    cheap, dear = PollPlanner(lag_price=0.1), PollPlanner(lag_price=0.4)
    # Gaps grow with √λ: four times the price, about twice the gap.
    assert dear.next_poll(120, estimate) == pytest.approx(
        2 * cheap.next_poll(120, estimate), rel=0.1
    )
    # Forty tasks share a key's 18 queries a second: each plans on at least its share
    # of half of it.
    busy = dear.next_poll(120, estimate, busy=40 / 18)
    assert 2 * 40 / 18 <= busy < 1.2 * 2 * 40 / 18
    assert dear.next_poll(120, estimate, busy=1 / 18) == dear.next_poll(120, estimate)


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
def test_an_unseen_kind_is_probed_so_a_fast_task_is_seen_within_its_own_time(
    ends_at: float,
) -> None:
    planner = PollPlanner()
    unsure = Estimate(median=150, spread=0.5, samples=0)
    seen = next(t for t in probe_times(planner, unsure, 200) if t >= ends_at)
    assert seen - ends_at <= max(planner.first_probe, ends_at)


def test_probes_stop_where_the_first_planned_poll_is() -> None:
    planner = PollPlanner()
    unsure = Estimate(median=150, spread=0.5, samples=0)
    first = planner.next_poll(0, unsure)  # without probing: the planned first poll
    early = [t for t in probe_times(planner, unsure, first) if t < first]
    assert 5 <= len(early) <= 12, early  # a handful of looks, not a poll every few seconds
    # A kind seen once is planned for what was seen: no probes.
    seen = Estimate(median=150, spread=0.2, samples=1)
    assert planner.next_poll(0, seen, probe=True) == planner.next_poll(0, seen) > 60


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
