"""When to poll each task, and how many calls a second we may make.

Provider times vary with the model, resolution and duration, and by queue load around that.
`DurationModel` learns the typical time (median) and its spread (log-space deviation) per kind of
job from finished tasks; before it has any, it starts from the catalogue's typical time for the
model, scaled by resolution and duration. `PollPlanner` polls sparsely until the task could
plausibly be done, densely while it probably finishes, and backs off again if it runs late. While
an estimate is unsure (few samples) and the query budget has room, it also probes early, at
growing intervals, so a task far faster than the guess is seen within half its own time.

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
# With this many samples behind it, an estimate is followed without early probes.
SURE_SAMPLES = 3
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
    samples: int

    def window(self, width: float) -> tuple[float, float]:
        """The span where the task most likely ends: median × e^(±width·spread)."""
        return (
            self.median * math.exp(-width * self.spread),
            self.median * math.exp(width * self.spread),
        )


class DurationModel:
    """Learns how long tasks take, per kind of job, from the most recent finished ones."""

    def __init__(self, *, keep: int = 50) -> None:
        self._keep = keep
        self._by_kind: dict[Kind, deque[float]] = {}
        self._cache: dict[Kind, Estimate] = {}  # cleared whenever a sample arrives
        self._aside: dict[Kind, deque[float]] = {}  # the latest outliers in a row, per kind

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
            self._cache[kind] = self._compute(kind)
        return self._cache[kind]

    def _compute(self, kind: Kind) -> Estimate:
        own = self._by_kind.get(kind)
        if own:
            return _estimate(own)
        model, _resolution, duration = kind
        # Same model: scale each sample by output seconds, which dominate the provider's time.
        related = [
            seconds * duration / other[2]
            for other, values in self._by_kind.items()
            if other[0] == model
            for seconds in values
        ]
        if related:
            found = _estimate(related)
            # Other resolutions and lengths scale imperfectly: widen the spread.
            return Estimate(found.median, max(found.spread, 0.3), found.samples)
        return Estimate(prior_seconds(kind), PRIOR_LOG_SPREAD, 0)

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


def _estimate(values: Iterable[float]) -> Estimate:
    logs = [math.log(v) for v in values]
    median = math.exp(statistics.median(logs))
    if len(logs) < 2:
        return Estimate(median, max(PRIOR_LOG_SPREAD / 2, MIN_LOG_SPREAD), len(logs))
    spread = statistics.stdev(logs)
    # Fewer samples: less sure of the spread, so widen it a little.
    spread = max(spread * (1 + 1 / len(logs)), MIN_LOG_SPREAD)
    return Estimate(median, spread, len(logs))


@dataclass(frozen=True)
class PollPlanner:
    """Decides the next poll of a task from how long it has run and what is expected."""

    dense_interval: float = 4.0  # inside the likely window
    longest_interval: float = 60.0  # never wait longer than this between polls
    window_width: float = 2.0  # ± this many spreads around the median
    first_probe: float = 2.0  # early probes: the first after this many seconds,
    probe_growth: float = 1.5  # then each at this multiple of the time run so far

    def next_poll(self, elapsed: float, estimate: Estimate, *, probe: bool = False) -> float:
        """Seconds from now until the next poll of a task that has run `elapsed` seconds;
        `probe`: the estimate is unsure and polls are cheap now, so look early too."""
        start, end = estimate.window(self.window_width)
        if elapsed < start - self.dense_interval:
            # Early: wait for the window to open, checking in at most every longest_interval.
            wait = min(start - elapsed, self.longest_interval)
            if probe:
                # Growing by half the time run so far: a task that ends at any moment is seen
                # within half its own time, at a cost of a few polls before the window.
                wait = min(wait, max(self.first_probe, elapsed * (self.probe_growth - 1)))
            return wait
        if elapsed <= end:
            return self.dense_interval
        # Late: the longer past the window, the less likely each poll is the one; back off.
        overdue = (elapsed - end) / max(estimate.median, 1.0)
        return min(self.dense_interval * (1 + 2 * overdue), self.longest_interval)
