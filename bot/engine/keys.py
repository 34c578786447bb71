"""What the engine keeps per DashScope key: its clients, its slots and submit rate per model, its
query budget, and the key's id at the provider as learned from its own tasks.

The provider's limits are per account, so each key has its own: a job takes a slot of its own
key's model when it is submitted and gives it back when its task ends; polls, cancels and task
lists of a key's jobs share that key's budget alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.dashscope import DashScopeClient
from bot.engine.schedule import RateWindow
from bot.keys import DashScopeKey
from bot.retry import RetryPolicy

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

    @classmethod
    def of(cls, key: DashScopeKey, query_budget_per_second: float) -> KeyState:
        """The engine's state for `key`; `query_budget_per_second` unless the key sets its own."""
        return cls(
            key=key,
            queries=RateWindow(key.query_budget_per_second or query_budget_per_second),
            once=key.client.with_retry(_ONCE),
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
