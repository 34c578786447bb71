"""When to poll each task, and how many calls a second we may make.

Provider times vary with the model, resolution and duration, and by queue load around that.
`DurationModel` learns the typical time (median) and its spread (log-space deviation) per kind of
job from finished tasks; before it has any, it starts from the catalogue's typical time for the
model, scaled by resolution and duration. `PollPlanner` polls sparsely until the task could
plausibly be done, densely while it probably finishes, and backs off again if it runs late. While
an estimate is unsure (few samples) and the query budget has room, it also probes early, at
growing intervals, so a task far faster than the guess is seen within half its own time.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from bot.catalog import MODELS

Kind = tuple[str, str, int]  # model, resolution, duration (s)

# The docs say "typically 1–5 minutes": a median of 150 s with a wide spread covers that.
PRIOR_MEDIAN_SECONDS = 150.0
PRIOR_LOG_SPREAD = 0.5
# With this many samples behind it, an estimate is followed without early probes.
SURE_SAMPLES = 3
# With few samples the spread is uncertain: never trust it below this.
MIN_LOG_SPREAD = 0.12


class RateWindow:
    """At most `limit` events in any sliding window of `window` seconds."""

    def __init__(self, limit: float, window: float = 1.0) -> None:
        self.limit = limit
        self.window = window
        self._events: deque[float] = deque()

    def _trim(self, now: float) -> None:
        while self._events and self._events[0] <= now - self.window:
            self._events.popleft()

    def available(self, now: float) -> int:
        """How many events may happen now."""
        self._trim(now)
        return max(0, int(self.limit) - len(self._events))

    def take(self, now: float) -> bool:
        """Record an event now if the window allows it."""
        if self.available(now) <= 0:
            return False
        self._events.append(now)
        return True

    def next_free(self, now: float) -> float:
        """When the next event will be allowed (now, if it already is)."""
        self._trim(now)
        if len(self._events) < int(self.limit):
            return now
        return self._events[len(self._events) - int(self.limit)] + self.window


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

    def load(self, history: dict[Kind, list[float]]) -> None:
        for kind, seconds in history.items():
            for value in seconds:
                self.observe(kind, value)

    def observe(self, kind: Kind, seconds: float) -> None:
        if seconds > 0:
            self._by_kind.setdefault(kind, deque(maxlen=self._keep)).append(seconds)
            self._cache.clear()

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
