"""How long to wait before trying again, and the one loop that tries again.

A `RetryPolicy` says how many attempts a call gets and how long to wait before attempt N+1:
exponential from `base_delay`, capped at `max_delay`, with full jitter (anywhere from zero to
that) unless turned off. `retry` runs a call under a policy: the caller says which errors are
worth another attempt and, optionally, how long the other side asked us to wait. The DashScope
client, the Discord notifier and the engine's resubmits after a 429 all take their delays here.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: bool = True  # full jitter: a uniform draw between zero and the delay

    def ceiling(self, attempt: int) -> float:
        """The longest wait after the given 0-based attempt: base × 2^attempt, capped."""
        return min(self.max_delay, self.base_delay * 2.0**attempt)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait after the given 0-based attempt (jittered when the policy says so)."""
        ceiling = self.ceiling(attempt)
        if not self.jitter:
            return ceiling
        if rng is None:
            return random.uniform(0, ceiling)
        return rng.uniform(0, ceiling)


async def retry(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    retryable: Callable[[Exception], bool],
    retry_after: Callable[[Exception], float | None] = lambda _error: None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rng: random.Random | None = None,
    on_retry: Callable[[Exception, int, float], None] | None = None,
) -> T:
    """Await `call()` up to `policy.attempts` times while it raises a `retryable` error, waiting
    what the error asks (`retry_after`) or else the policy's delay; `on_retry(error, attempt,
    delay)` hears of each retry (attempt counts from 1). The last error, or any error that is not
    retryable, is raised as it is."""
    for attempt in range(policy.attempts):
        try:
            return await call()
        except Exception as error:
            if not retryable(error) or attempt + 1 >= policy.attempts:
                raise
            asked = retry_after(error)
            delay = asked if asked is not None else policy.delay(attempt, rng)
            if on_retry is not None:
                on_retry(error, attempt + 1, delay)
        await sleep(delay)
    raise ValueError(f"a retry policy needs at least one attempt, not {policy.attempts}")
