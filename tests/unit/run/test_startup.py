"""The start-up waiting (backoff, giving up, what is not worth waiting for) on a virtual clock,
and the log lines an owner reads while it waits."""

from __future__ import annotations

import logging
import sys

import pytest

from bot.run.logs import DiscordNoise
from bot.run.startup import StartupFailed, keep_trying
from storage.pglink import DatabaseUnreachable


class Clock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(times: int, error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "open"

    return calls, attempt


def transient(error: BaseException) -> bool:
    return isinstance(error, DatabaseUnreachable) and error.transient


async def test_a_server_that_comes_back_is_waited_for_with_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    calls, attempt = failing(4, DatabaseUnreachable("refused", transient=True))
    with caplog.at_level(logging.WARNING, logger="bot.run.startup"):
        got = await keep_trying(
            attempt,  # type: ignore[arg-type]
            what="PostgreSQL", transient=transient, give_up_after=300, advice="check it",
            sleep=clock.sleep, clock=clock,
        )  # fmt: skip
    assert got == "open" and len(calls) == 5
    assert clock.sleeps == [1, 2, 4, 8]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4 and all("\n" not in line for line in lines)
    assert lines[0].startswith(
        "PostgreSQL not reachable yet (attempt 1): refused; trying again in 1 s"
    )


async def test_waiting_ends_at_the_bound_with_one_line() -> None:
    clock = Clock()
    calls, attempt = failing(1000, DatabaseUnreachable("refused", transient=True))
    with pytest.raises(StartupFailed) as failed:
        await keep_trying(
            attempt,  # type: ignore[arg-type]
            what="PostgreSQL", transient=transient, give_up_after=300, advice="check it",
            sleep=clock.sleep, clock=clock,
        )  # fmt: skip
    assert clock.now == 300  # the last wait is cut to the bound, not slept past it
    assert max(clock.sleeps) == 60  # the backoff stops growing at a minute
    assert str(failed.value) == (
        f"refused; gave up after {len(calls)} attempts in 300 s"
        " (WANBOT_STARTUP_RETRY_SECONDS=300): check it"
    )


async def test_what_waiting_cannot_mend_is_not_retried() -> None:
    clock = Clock()
    calls, attempt = failing(1, DatabaseUnreachable("password authentication failed"))
    with pytest.raises(DatabaseUnreachable):
        await keep_trying(
            attempt,  # type: ignore[arg-type]
            what="PostgreSQL", transient=transient, give_up_after=300, advice="check it",
            sleep=clock.sleep, clock=clock,
        )  # fmt: skip
    assert len(calls) == 1 and clock.sleeps == []


def record(message: str, *, error: Exception | None = None) -> logging.LogRecord:
    exc_info = None
    if error is not None:
        try:
            raise error
        except Exception:
            exc_info = sys.exc_info()
    return logging.LogRecord("discord.client", logging.WARNING, "x", 1, message, (), exc_info)


def test_voice_and_intent_warnings_are_dropped() -> None:
    noise = DiscordNoise()
    assert not noise.filter(record("PyNaCl is not installed, voice will NOT be supported"))
    assert not noise.filter(record("davey is not installed, voice will NOT be supported"))
    assert not noise.filter(record("Guilds intent seems to be disabled. This may cause state…"))
    assert noise.filter(record("logging in using static token"))


def test_a_gateway_reconnect_is_one_line_with_its_reason() -> None:
    entry = record("Attempting a reconnect in 1.23s", error=OSError("Connect call failed"))
    assert DiscordNoise().filter(entry)
    line = logging.Formatter("%(message)s").format(entry)
    assert line == "Attempting a reconnect in 1.23s (OSError: Connect call failed)"
    other = record("Ignoring exception in on_ready", error=ValueError("a bug"))
    assert DiscordNoise().filter(other)
    assert "Traceback" in logging.Formatter("%(message)s").format(other)  # a bug keeps its trace
