"""When to poll each task, and how many calls a second we may make.

Provider times vary with the model, resolution and duration, and by queue load around that.
`DurationModel` learns the typical time per kind of job from finished tasks (the median as the
exponential of the mean log) and one spread of log-times pooled over all kinds (the noise is the
provider's queue, which every kind shares); before a kind has any, it starts from its model's
other kinds, else the catalogue's typical time, scaled by resolution and duration. `PollPlanner`
polls on the optimal inspection schedule for that log-normal time at a price per poll: sparse
where the task rarely ends, densest where it most likely does, wider again if it runs late. For a
kind never seen, while the query budget has room, it also probes early, at growing intervals, so
a task far faster than the guess is seen within half its own time.

What is learned must be true. `task_seconds` takes a finished task's time from one clock only
(the provider's submit and end times, or the bot's own send and sighting), and only if it fits
inside what the bot itself saw elapse: a stand-in whose clock disagrees teaches nothing.
`DurationModel` drops what no task can take (longer than a task lives at the provider) and,
once a kind has a few samples, what is more than `OUTLIER_FACTOR` from their median (unless
the outliers keep agreeing: then the provider changed, and the kind starts over from them); a
bad row already kept is ignored the same way when loaded.
"""

from __future__ import annotations

import bisect
import functools
import logging
import math
import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.catalog import MODELS

log = logging.getLogger(__name__)

Kind = tuple[str, str, int]  # model, resolution, duration (s)

# The docs say "typically 1–5 minutes": a median of 150 s with a wide spread covers that.
PRIOR_MEDIAN_SECONDS = 150.0
PRIOR_LOG_SPREAD = 0.5
# With this many samples behind it, a kind's median is trusted enough to set outliers aside.
SURE_SAMPLES = 3
# How far a model's time for one resolution and length, scaled to another, may be off (log).
SCALING_LOG_ERROR = 0.2
# With few samples the spread is uncertain: never trust it below this.
MIN_LOG_SPREAD = 0.12
# A task id lives 24 h at the provider: no task can take longer.
LONGEST_TASK_SECONDS = 86_400.0
# Queue load moves a kind's time by a factor of a few (the docs' "1–5 minutes"); a factor of ten
# from the median of what was learned is a unit, zone or clock error, not a slow day.
OUTLIER_FACTOR = 10.0
# Provider times are stamped to the millisecond on another machine: this much over what the bot
# saw elapse is rounding, beyond it the two clocks disagree.
CLOCK_ALLOWANCE_SECONDS = 1.0


class RateWindow:
    """At most `limit` events in any sliding window of `window` seconds.

    An event is an instant (`take`), or a call that may reach the other side at any moment
    between its send and its answer (`begin`, then `end`): it holds its place from the send until
    a window after the answer, so however its arrival falls, no window there holds more than
    `limit`."""

    def __init__(self, limit: float, window: float = 1.0) -> None:
        self.limit = limit
        self.window = window
        self._events: deque[float] = deque()  # instants and answers, in time order
        self._open = 0  # calls sent and not yet answered

    def _trim(self, now: float) -> None:
        while self._events and self._events[0] <= now - self.window:
            self._events.popleft()

    def available(self, now: float) -> int:
        """How many events may happen now."""
        self._trim(now)
        return max(0, int(self.limit) - len(self._events) - self._open)

    def take(self, now: float) -> bool:
        """Record an event now if the window allows it."""
        if self.available(now) <= 0:
            return False
        self._events.append(now)
        return True

    def begin(self, now: float) -> bool:
        """Hold a place for a call sent now, if the window allows it; `end` it when answered."""
        if self.available(now) <= 0:
            return False
        self._open += 1
        return True

    def end(self, now: float) -> None:
        """The call `begin` made room for was answered (or failed) now."""
        self._open = max(0, self._open - 1)
        bisect.insort(self._events, now)

    def next_free(self, now: float) -> float:
        """When the next event will be allowed (now, if it already is): the earliest, if a call
        still open must be answered first."""
        self._trim(now)
        used = len(self._events) + self._open
        if used < int(self.limit):
            return now
        oldest_to_leave = used - int(self.limit)
        if oldest_to_leave >= len(self._events):
            return now + self.window  # open calls fill it: a window after the next answer
        return self._events[oldest_to_leave] + self.window


@dataclass(frozen=True)
class Estimate:
    median: float  # seconds from submission to the provider's end
    spread: float  # standard deviation of log(seconds)
    samples: int  # of this kind itself (0: borrowed from its model, or the prior)


class DurationModel:
    """Learns how long tasks take, per kind of job, from the most recent finished ones."""

    def __init__(self, *, keep: int = 50) -> None:
        self._keep = keep
        self._by_kind: dict[Kind, deque[float]] = {}
        self._cache: dict[Kind, Estimate] = {}  # cleared whenever a sample arrives
        self._aside: dict[Kind, deque[float]] = {}  # the latest outliers in a row, per kind
        self._pooled: float | None = None  # the pooled spread, as of the cache's samples

    def load(self, history: dict[Kind, list[float]]) -> None:
        """Learn from what was kept (oldest first), dropping what no task could have taken."""
        for kind, seconds in history.items():
            for value in seconds:
                self.observe(kind, value)

    def observe(self, kind: Kind, seconds: float) -> bool:
        """Learn that a task of `kind` took `seconds`, unless that is implausible; return whether
        it was learned. Outliers set aside that keep agreeing with one another (SURE_SAMPLES in
        a row) are a lasting change, not errors: the kind starts over from them."""
        if not 0 < seconds <= LONGEST_TASK_SECONDS:
            self._drop(kind, seconds, "longer than a task lives" if seconds > 0 else "not a time")
            return False
        own = self._by_kind.setdefault(kind, deque(maxlen=self._keep))
        if len(own) >= SURE_SAMPLES and not _near(seconds, _median(own)):
            aside = self._aside.setdefault(kind, deque(maxlen=SURE_SAMPLES))
            aside.append(seconds)
            if len(aside) < SURE_SAMPLES or not all(_near(v, _median(aside)) for v in aside):
                self._drop(kind, seconds, f"far from the {_median(own):.1f} s learned so far")
                return False
            log.info("Tasks of %s now take about %.1f s; starting over", _name(kind), seconds)
            own.clear()
            own.extend(aside)
        else:
            own.append(seconds)
        self._aside.pop(kind, None)
        self._cache.clear()
        return True

    @staticmethod
    def _drop(kind: Kind, seconds: float, why: str) -> None:
        log.info("Not learning %.1f s for %s: %s", seconds, _name(kind), why)

    def estimate(self, kind: Kind) -> Estimate:
        """The best guess for `kind`: its own history, else its model's scaled by duration, else the prior."""
        if kind not in self._cache:
            if not self._cache:  # emptied by a new sample: the pooled spread moved with it
                self._pooled = self._pooled_spread()
            self._cache[kind] = self._compute(kind)
        return self._cache[kind]

    def _compute(self, kind: Kind) -> Estimate:
        own = self._by_kind.get(kind)
        if own:
            return _estimate(own, self._pooled)
        # Same model: scale each sample as the prior scales (output seconds, picture height).
        related = [
            seconds * prior_seconds(kind) / prior_seconds(other)
            for other, values in self._by_kind.items()
            if other[0] == kind[0]
            for seconds in values
        ]
        if related:
            found = _estimate(related, self._pooled)
            # Other resolutions and lengths scale imperfectly: widen the spread by that error.
            return Estimate(found.median, math.hypot(found.spread, SCALING_LOG_ERROR), 0)
        return Estimate(prior_seconds(kind), PRIOR_LOG_SPREAD, 0)

    def _pooled_spread(self) -> float | None:
        """The spread of log(seconds) about each kind's own mean, pooled over every kind (the
        noise is the provider's queue, shared by kinds); None until some kind has two samples."""
        squares, freedom = 0.0, 0
        for values in self._by_kind.values():
            logs = [math.log(v) for v in values]
            if len(logs) >= 2:
                centre = statistics.fmean(logs)
                squares += sum((x - centre) ** 2 for x in logs)
                freedom += len(logs) - 1
        return math.sqrt(squares / freedom) if freedom else None

    def snapshot(self) -> dict[Kind, list[float]]:
        """What was learned, per kind (oldest first), to keep between runs."""
        return {kind: list(values) for kind, values in self._by_kind.items()}


def task_seconds(
    *,
    sent: float | None,
    seen: float,
    provider_submit: float | None,
    provider_end: float | None,
) -> tuple[float | None, str]:
    """How long a finished task took, from one clock only, and where that came from (or why
    nothing can be said): the provider's submit-to-end when it gives both, else the bot's own
    send-to-sight; either only if it fits inside what the bot saw elapse from `sent` to `seen`
    (its own clock), less than a second of rounding aside."""
    if sent is None:
        return None, "the bot's own send time is unknown"
    elapsed = seen - sent
    if provider_submit is None or provider_end is None:
        # Mixing one provider time with the bot's clock measures the clocks' offset, not the
        # task. The bot's own span is the task plus the wait before it was seen: an upper bound.
        if elapsed <= 0:
            return None, "no time passed on the bot's clock"
        return elapsed, "the bot's own clock"
    seconds = provider_end - provider_submit
    if not 0 < seconds <= elapsed + CLOCK_ALLOWANCE_SECONDS:
        return None, (
            f"the provider's times span {seconds:.1f} s, but {elapsed:.1f} s passed on the "
            "bot's clock from its send to its sight of the result"
        )
    return seconds, "the provider's clock"


def prior_seconds(kind: Kind) -> float:
    """The catalogue's typical time for the model, scaled by output seconds and by the picture's
    height (both roughly proportional to the work), for a kind never seen before."""
    model, resolution, duration = kind
    spec = MODELS.get(model)
    if spec is None:
        return PRIOR_MEDIAN_SECONDS
    scale = duration / spec.default_duration if spec.duration_settable else 1.0
    height, default_height = _height(resolution), _height(spec.default_resolution)
    if height and default_height:
        scale *= height / default_height
    return spec.typical_seconds * scale


def _median(values: Iterable[float]) -> float:
    return math.exp(statistics.median(math.log(v) for v in values))


def _near(seconds: float, median: float) -> bool:
    return median / OUTLIER_FACTOR <= seconds <= median * OUTLIER_FACTOR


def _name(kind: Kind) -> str:
    model, resolution, duration = kind
    return f"{model} {resolution} {duration} s"


def _height(resolution: str) -> int | None:
    digits = resolution.upper().removesuffix("P")
    return int(digits) if digits.isdigit() else None


def _estimate(values: Iterable[float], pooled: float | None) -> Estimate:
    """The median as exp(mean of the logs); the spread as the pooled one for predicting one more
    task, σ̂·√(1 + 1/n), so a kind with few samples plans wider; before anything is pooled, its
    own samples' (or half the prior's, for one)."""
    logs = [math.log(v) for v in values]
    median = math.exp(statistics.fmean(logs))
    if pooled is not None:
        spread = pooled
    elif len(logs) >= 2:
        spread = statistics.stdev(logs)
    else:
        spread = PRIOR_LOG_SPREAD / 2
    spread *= math.sqrt(1 + 1 / len(logs))
    return Estimate(median, max(spread, MIN_LOG_SPREAD), len(logs))


@dataclass(frozen=True)
class PollPlanner:
    """Decides the next poll of a task from how long it has run and what is expected.

    The schedule is the optimal inspection one for a log-normal task time with the estimate's
    median and spread, at a price of `lag_price` seconds of detection lag per poll: it minimises
    E[lag] + lag_price · E[polls] (Barlow, Hunter and Proschan). The first poll comes at t1 where
    F(t1)/f(t1) = λ + √(2λ·S(t1)/f(t1)); after a poll at t that found the task running, the next
    comes g later where g = √(2λ / h(t + g/2)), h = f/S the hazard rate. So polls are sparse
    where the task rarely ends, densest where it most likely does, and spread out again as it
    runs late. It depends only on (elapsed, estimate): a poll that comes late re-plans from where
    it is. `busy` raises the price while a key's query budget is shared by many tasks."""

    lag_price: float = 0.21  # λ: seconds of mean detection lag one poll is worth
    longest_interval: float = 60.0  # the longest gap, once running or while nothing is known
    dense_interval: float = 4.0  # after a poll that failed, before asking again
    first_probe: float = 2.0  # early probes: the first after this many seconds,
    probe_growth: float = 2.0  # then each at this multiple of the time run so far
    budget_share: float = 0.5  # of a key's query budget, what polls of its tasks may plan on

    def next_poll(
        self, elapsed: float, estimate: Estimate, *, probe: bool = False, busy: float = 0.0
    ) -> float:
        """Seconds from now until the next poll of a task that has run `elapsed` seconds.
        `probe`: nothing of this kind was seen yet and polls are cheap now, so look early too.
        `busy`: seconds per query each task gets if the key's budget is shared evenly (tasks
        on the key ÷ its queries per second); the price rises until the plan fits its share."""
        median, spread, price = estimate.median, estimate.spread, self.lag_price
        first = first_poll(median, spread, price)
        # A poll that came just before the first planned one (the estimate moved a little since
        # it was planned) counts as the first: the rest of the wait would be a wasted poll.
        if elapsed < first and elapsed < first - poll_gap(first, median, spread, price) / 2:
            gap = first - elapsed
            if estimate.samples == 0:  # knowing nothing of this kind, do not wait long on a guess
                gap = min(gap, self.longest_interval)
            if probe and estimate.samples == 0:
                # Growing with the time run so far: a task that ends at any moment is seen
                # within its own time again at worst (half of it on average), at a cost of a
                # few polls before the likely time.
                gap = min(gap, max(self.first_probe, elapsed * (self.probe_growth - 1)))
            return gap
        gap = poll_gap(elapsed, median, spread, price)
        fair = busy / self.budget_share
        if gap < fair:
            # The budget's shadow price: gaps grow with √λ, so this λ makes them fit.
            gap = poll_gap(elapsed, median, spread, price * (fair / gap) ** 2)
        return min(gap, self.longest_interval)


# -- the log-normal task time, and its optimal inspection schedule ------------------------------


def _z(t: float, median: float, spread: float) -> float:
    return (math.log(t) - math.log(median)) / spread


def _density(t: float, median: float, spread: float) -> float:
    z = _z(t, median, spread)
    return math.exp(-z * z / 2) / (spread * t * math.sqrt(2 * math.pi))


def _survival(t: float, median: float, spread: float) -> float:
    return 0.5 * math.erfc(_z(t, median, spread) / math.sqrt(2))


def _hazard(t: float, median: float, spread: float) -> float:
    survival = _survival(t, median, spread)
    if survival < 1e-300:  # far in the tail: the Mills ratio's limit
        return _z(t, median, spread) / (spread * t)
    return _density(t, median, spread) / survival


@functools.lru_cache(maxsize=4096)
def first_poll(median: float, spread: float, price: float) -> float:
    """Seconds after submission of the optimal first poll: F/f = λ + √(2λ·S/f), by bisection
    (F/f rises through it, from 0 long before the median)."""
    low, high = math.log(median) - 10 * spread, math.log(median) + 10 * spread
    for _ in range(60):
        middle = (low + high) / 2
        t = math.exp(middle)
        density = _density(t, median, spread)
        survival = _survival(t, median, spread)
        if density <= 0:  # so far out that the density underflows: F/f is 0 before, ∞ after
            low, high = (middle, high) if survival > 0.5 else (low, middle)
            continue
        if (1 - survival) / density < price + math.sqrt(2 * price * survival / density):
            low = middle
        else:
            high = middle
    return math.exp(low)


def poll_gap(t: float, median: float, spread: float, price: float) -> float:
    """The optimal gap after a poll at `t` that found the task running: g = √(2λ / h(t + g/2))."""
    gap = math.sqrt(2 * price / max(_hazard(t, median, spread), 1e-300))
    for _ in range(6):  # a fixed point that settles in a few steps
        gap = math.sqrt(2 * price / max(_hazard(t + gap / 2, median, spread), 1e-300))
    return gap
