"""The one retry helper on its own: delays, jitter, what is retried, and a server's own wait."""

from __future__ import annotations

import random

import pytest

from bot.net.retry import RetryPolicy, retry
from tests.support.provider import RecordedSleeps


class Flaky(Exception):
    def __init__(self, wait: float | None = None) -> None:
        super().__init__("flaky")
        self.wait = wait


def test_delays_double_up_to_the_cap_and_full_jitter_stays_under_them() -> None:
    policy = RetryPolicy(base_delay=2.0, max_delay=10.0, jitter=False)
    assert [policy.delay(n) for n in range(5)] == [2.0, 4.0, 8.0, 10.0, 10.0]
    jittered = RetryPolicy(base_delay=2.0, max_delay=10.0)
    rng = random.Random(1)
    assert all(0 <= jittered.delay(n, rng) <= policy.delay(n) for n in range(5) for _ in range(50))


async def test_retryable_errors_are_tried_again_then_the_last_is_raised() -> None:
    sleeps, calls, retried = RecordedSleeps(), [], []

    async def call() -> int:
        calls.append(1)
        raise Flaky(wait=7.0 if len(calls) == 1 else None)

    with pytest.raises(Flaky):
        await retry(
            call,
            RetryPolicy(attempts=3, base_delay=1.0, jitter=False),
            retryable=lambda e: isinstance(e, Flaky),
            retry_after=lambda e: e.wait if isinstance(e, Flaky) else None,
            sleep=sleeps,
            on_retry=lambda e, attempt, delay: retried.append((attempt, delay)),
        )
    assert len(calls) == 3
    assert sleeps.delays == [7.0, 2.0], "the server's wait first, then the policy's"
    assert retried == [(1, 7.0), (2, 2.0)]


async def test_other_errors_are_raised_at_once_and_a_success_is_returned() -> None:
    sleeps = RecordedSleeps()

    async def refused() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError):
        await retry(refused, RetryPolicy(), retryable=lambda e: False, sleep=sleeps)
    answers = iter([Flaky(), 42])

    async def second_time() -> int:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await retry(second_time, RetryPolicy(), retryable=lambda e: True, sleep=sleeps) == 42
    assert len(sleeps.delays) == 1
