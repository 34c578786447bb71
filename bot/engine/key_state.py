"""What the engine keeps per DashScope key: its clients, its slots and submit rate per model, its
query budget, and the key's id at the provider as learned from its own tasks.

The provider's limits are per account, so each key has its own: a job takes a slot of its own
key's model when it is submitted and gives it back when its task ends; polls, cancels and task
lists of a key's jobs share that key's budget alone.

The provider counts a query when it arrives, so the budget is spent where queries are sent:
`get_task`, `cancel` and `list_tasks` here each hold a place in the key's window from the moment
they are sent until a second after their answer (however the network delays it, no second at the
provider holds more than the budget), waiting their turn when it is full. Passes plan with
`query_room`, which leaves room for queries already waiting, so a pass never plans more than the
budget and a member's cancel is never starved by polls.

Every call sent here is timed (the network's time, not the wait for room in the budget) and told
to the engine's `Metrics` with its outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from bot.dashscope import DashScopeClient, DashScopeError, TaskResponse
from bot.dashscope.models import TaskList
from bot.domain.requests import GenerationRequest
from bot.engine.key_ring import DashScopeKey
from bot.engine.metrics import Call, CallOutcome, Metrics, NoMetrics
from bot.engine.timing import RateWindow
from bot.net.retry import RetryPolicy

_ONCE = RetryPolicy(attempts=1)


@dataclass(eq=False)
class KeyState:
    """One key as the engine runs it."""

    key: DashScopeKey
    queries: RateWindow  # polls + cancels + lists of this key's jobs
    once: DashScopeClient  # one attempt: submits and polls, where the engine decides what next
    busy: dict[str, int] = field(default_factory=dict)  # model -> tasks at the provider (or maybe)
    submits: dict[str, RateWindow] = field(default_factory=dict)  # model -> submits per second
    ids: set[str] = field(default_factory=set)  # the key's api_key_id, learned from task lists
    clock: Callable[[], float] = time.time  # the engine's: the query budget's time
    metrics: Metrics = field(default_factory=NoMetrics)  # told of every call sent
    _waiting: int = field(default=0, init=False, repr=False)  # queries waiting for room

    @classmethod
    def of(
        cls,
        key: DashScopeKey,
        query_budget_per_second: float,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> KeyState:
        """The engine's state for `key`; `query_budget_per_second` unless the key sets its own."""
        return cls(
            key=key,
            queries=RateWindow(key.query_budget_per_second or query_budget_per_second),
            once=key.client.with_retry(_ONCE),
            clock=clock,
            metrics=metrics or NoMetrics(),
        )

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def client(self) -> DashScopeClient:
        """Retries transient failures itself: downloads, cancels, lists."""
        return self.key.client

    def __repr__(self) -> str:
        return f"KeyState({self.name!r}, busy={self.busy})"

    async def submit(self, request: GenerationRequest) -> TaskResponse:
        """Create the task of `request` with this key (one attempt)."""
        async with self._timed("submit"):
            return await self.once.submit(request)

    # -- queries: sent once each, within the budget ---------------------------------------------

    def query_room(self) -> int:
        """How many queries a pass may plan now: the budget's room, less the queries waiting."""
        return max(0, self.queries.available(self.clock()) - self._waiting)

    async def get_task(self, task_id: str) -> TaskResponse:
        """Ask the provider how a task of this key stands (one attempt)."""
        async with self._query(), self._timed("query"):
            return await self.once.get_task(task_id)

    async def cancel(self, task_id: str) -> None:
        """Cancel a PENDING task of this key (one attempt)."""
        async with self._query(), self._timed("cancel"):
            await self.once.cancel(task_id)

    async def list_tasks(
        self, *, start: datetime, end: datetime, model: str, page_no: int, page_size: int
    ) -> TaskList:
        """One page of the tasks of `model` this key's account created in the window (one
        attempt)."""
        async with self._query(), self._timed("list"):
            return await self.once.list_tasks(
                start=start, end=end, model=model, page_no=page_no, page_size=page_size
            )

    @asynccontextmanager
    async def _query(self) -> AsyncIterator[None]:
        """Hold a place in the budget from the send until the answer (or failure), waiting for
        room first if the window is full."""
        if not self.queries.begin(self.clock()):
            self._waiting += 1
            try:
                while not self.queries.begin(now := self.clock()):
                    await self._sleep(max(self.queries.next_free(now) - now, 0.001))
            finally:
                self._waiting -= 1
        try:
            yield
        finally:
            self.queries.end(self.clock())

    @asynccontextmanager
    async def _timed(self, call: Call) -> AsyncIterator[None]:
        """Tell the metrics how long the call took and how it ended (real time: the engine's
        clock may be virtual)."""
        started = time.perf_counter()
        try:
            yield
        except DashScopeError as error:
            self.metrics.provider_call(
                self.name, call, call_outcome(error), time.perf_counter() - started
            )
            raise
        self.metrics.provider_call(self.name, call, "ok", time.perf_counter() - started)

    async def _sleep(self, seconds: float) -> None:
        # A virtual clock (tests, benchmarks) moves only when told: the one waiting moves it.
        sleep: Callable[[float], Awaitable[None]] = getattr(self.clock, "sleep", asyncio.sleep)
        await sleep(seconds)

    # -- slots -----------------------------------------------------------------------------------

    def has_room(self, model: str, concurrency: Mapping[str, int]) -> bool:
        """Whether a task of `model` may be submitted on this key now (slots only)."""
        return self.busy.get(model, 0) < self.key.slots(model, concurrency)

    def hold(self, model: str) -> None:
        """Take a slot of `model` for a task that is, or may be, at the provider."""
        self.busy[model] = self.busy.get(model, 0) + 1

    def release(self, model: str) -> None:
        """Give back a slot of `model`."""
        self.busy[model] = max(0, self.busy.get(model, 0) - 1)

    def submit_window(self, model: str, submit_per_second: Mapping[str, int]) -> RateWindow:
        """The sliding window of this key's submits of `model`."""
        if model not in self.submits:
            self.submits[model] = RateWindow(self.key.submits(model, submit_per_second))
        return self.submits[model]


def call_outcome(error: DashScopeError) -> CallOutcome:
    """How a call that raised `error` ended, for the metrics."""
    if error.status == 429:
        return "throttled"
    return "no_answer" if error.unclear else "refused"
