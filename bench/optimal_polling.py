"""The best any poll schedule can do on a known task-time distribution: the bench's yardstick.

For a task whose time T from submission to the provider's end has survival S(t) = P(T > t), a
schedule of polls p1 < p2 < … costs E[lag] + λ·E[polls], where the lag is the first poll at or
after T minus T. Optimal inspection (Barlow–Hunter–Proschan) by dynamic programming on a grid:
with W(t) the expected cost still to come, unconditionally, after a poll at t found the task
running, and G(t) = ∫₀ᵗ S,

    W(t) = λ·S(t) + G(t) − t·S(t) + min over s > t of [ s·S(t) + W(s) − G(s) ],

the minimum over lines in S(t) (slope s, intercept W(s) − G(s)), which a monotone convex-hull
walk finds in O(1) amortised: the whole schedule costs O(grid) per (distribution, λ). Sweeping λ
traces the frontier of (polls per job, mean lag); for a mix of kinds, one λ for all kinds gives
the mix's frontier (the Lagrangian separates). Pure numbers, no engine: the bench compares the
engine's measured polls and lag with this.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

GRID_S = 0.05
TAIL = 1e-9  # the grid ends where this little of the distribution is left


@dataclass(frozen=True)
class LogNormal:
    median: float
    sigma: float  # of log(T)

    def survival(self, t: float) -> float:
        if t <= 0:
            return 1.0
        z = (math.log(t) - math.log(self.median)) / self.sigma
        return 0.5 * math.erfc(z / math.sqrt(2))

    def horizon(self) -> float:
        """A time past which less than TAIL is left (about 6 sigma)."""
        return self.median * math.exp(6.1 * self.sigma)


@dataclass(frozen=True)
class Schedule:
    polls: tuple[float, ...]  # seconds after submission
    mean_polls: float
    mean_lag: float


@functools.cache
def optimal_schedule(dist: LogNormal, lag_price: float, grid: float = GRID_S) -> Schedule:
    """The schedule minimising E[lag] + lag_price·E[polls] for `dist`, on a `grid` of seconds."""
    n = int(dist.horizon() / grid) + 1
    times = [i * grid for i in range(n + 1)]
    survival = [dist.survival(t) for t in times]
    cumulative = [0.0] * (n + 1)  # G(t) = ∫₀ᵗ S, by the trapezoid rule
    for i in range(1, n + 1):
        cumulative[i] = cumulative[i - 1] + grid * (survival[i] + survival[i - 1]) / 2

    cost = [0.0] * (n + 1)  # W; at the horizon a last poll sees everything: nothing to come
    chosen = [n] * (n + 1)  # the next poll after a poll at i found the task running
    # Lines (slope t_j, intercept W_j − G_j), added with falling slopes; queries S_i rise.
    hull: list[int] = [n]
    front = 0

    def value(j: int, x: float) -> float:
        return times[j] * x + cost[j] - cumulative[j]

    def useless(a: int, b: int, c: int) -> bool:
        """Line b never wins between a (steeper, older) and c (newer): drop it."""
        # Intersections: x(a,b) ≥ x(b,c) means b is nowhere the minimum.
        ia, ib, ic = (cost[k] - cumulative[k] for k in (a, b, c))
        return (ib - ia) * (times[b] - times[c]) >= (ic - ib) * (times[a] - times[b])

    for i in range(n - 1, -1, -1):
        x = survival[i]
        front = min(front, len(hull) - 1)
        while front + 1 < len(hull) and value(hull[front + 1], x) <= value(hull[front], x):
            front += 1
        j = hull[front]
        chosen[i] = j
        cost[i] = lag_price * x + cumulative[i] - times[i] * x + value(j, x)
        while len(hull) >= 2 and useless(hull[-2], hull[-1], i):
            hull.pop()
        hull.append(i)

    polls: list[float] = []
    i = 0
    mean_polls = mean_lag = 0.0
    while i < n:
        j = chosen[i]
        mean_polls += survival[i]
        mean_lag += (times[j] - times[i]) * survival[i] - (cumulative[j] - cumulative[i])
        polls.append(times[j])
        i = j
    return Schedule(tuple(polls), mean_polls, mean_lag)


def outcome(schedule: Sequence[float], seconds: float) -> tuple[int, float]:
    """Polls and lag of one task that ended `seconds` after submission, on `schedule`."""
    for count, at in enumerate(schedule, start=1):
        if at >= seconds:
            return count, at - seconds
    return len(schedule), 0.0  # past the horizon: never happens at TAIL


@dataclass(frozen=True)
class FrontierPoint:
    lag_price: float
    polls: float  # per job, weighted over the kinds
    lag: float  # mean seconds


def frontier(
    kinds: Sequence[tuple[LogNormal, float]], prices: Sequence[float]
) -> list[FrontierPoint]:
    """(polls, lag) expected of the weighted mix of kinds (distribution, weight), one price for
    all."""
    total = sum(weight for _dist, weight in kinds)
    points = []
    for price in prices:
        schedules = [(optimal_schedule(dist, price), weight) for dist, weight in kinds]
        points.append(
            FrontierPoint(
                price,
                sum(s.mean_polls * w for s, w in schedules) / total,
                sum(s.mean_lag * w for s, w in schedules) / total,
            )
        )
    return sorted(points, key=lambda p: p.lag)


def frontier_on(
    tasks: Sequence[tuple[LogNormal, float]], prices: Sequence[float]
) -> list[FrontierPoint]:
    """(polls, lag) of the optimal schedules for each task's distribution, replayed on the
    tasks' actual times (distribution, seconds): the same draws an engine was measured on."""
    points = []
    for price in prices:
        outcomes = [outcome(optimal_schedule(dist, price).polls, end) for dist, end in tasks]
        points.append(
            FrontierPoint(
                price,
                sum(polls for polls, _lag in outcomes) / len(outcomes),
                sum(lag for _polls, lag in outcomes) / len(outcomes),
            )
        )
    return sorted(points, key=lambda p: p.lag)


def polls_at_lag(points: Sequence[FrontierPoint], lag: float) -> float:
    """The frontier's polls per job at a mean lag, between its computed points (mixing two
    schedules at random achieves the straight line between them)."""
    return _interpolate([(p.lag, p.polls) for p in points], lag)


def lag_at_polls(points: Sequence[FrontierPoint], polls: float) -> float:
    return _interpolate(sorted((p.polls, p.lag) for p in points), polls)


def _interpolate(pairs: Sequence[tuple[float, float]], x: float) -> float:
    for (x0, y0), (x1, y1) in itertools.pairwise(pairs):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else y0
    return math.nan  # outside the prices swept
