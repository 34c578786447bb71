"""Which API requests go wrong, and how: scripted outcomes first, then seeded random faults."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections import deque

from aiohttp import web

from bot.simulator.config import Context
from bot.simulator.wire import ApiError, throttled

log = logging.getLogger(__name__)

_SCRIPT_OUTCOME = re.compile(r"^(429|500|503|drop|lost|unreadable|ok|slow:\d+(\.\d+)?)$")


class Faults:
    """Hands each API request its outcome and applies the ones decided before authentication."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._script: deque[str] = deque()
        self._rng = random.Random(f"{context.config.seed}:faults")

    def script(self, *outcomes: str) -> None:
        """Queue outcomes for the next API requests; see `Simulator.script`."""
        for outcome in outcomes:
            if not _SCRIPT_OUTCOME.match(outcome):
                raise ValueError(f"Unknown scripted outcome {outcome!r}.")
        self._script.extend(outcomes)

    def next_scripted(self) -> str | None:
        """Return the next scripted outcome, or None when the script is empty."""
        return self._script.popleft() if self._script else None

    async def apply(self, request: web.Request, outcome: str | None) -> web.StreamResponse | None:
        """Delay, drop or fail the request as `outcome` (or a random fault) says.

        Return the response standing for a dropped connection, raise an error answer, or return
        None when the request goes on to be handled.
        """
        config = self._context.config
        if outcome is None:
            roll = self._rng.random()
            if roll < config.drop_rate:
                outcome = "drop"
            elif roll < config.drop_rate + config.server_error_rate:
                outcome = "500"
        delay = config.slow_seconds
        if outcome and outcome.startswith("slow:"):
            delay += float(outcome.removeprefix("slow:"))
        if outcome not in (None, "ok"):
            log.debug("Fault %s for %s %s", outcome, request.method, request.path)
        if delay > 0:
            await asyncio.sleep(delay)
        if outcome == "drop":
            # The body has been read, so the client sees the connection close without an answer
            # (ServerDisconnectedError) rather than a reset while sending.
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=499)  # never sent; only shows in the access log
        if outcome == "429":
            raise throttled()
        if outcome == "500":
            raise ApiError(
                500, "InternalError", "An internal error has occurred, please try again later."
            )
        if outcome == "503":
            raise ApiError(503, "ModelUnavailable", "Model is unavailable, please try again later.")
        return None
