"""The DashScope keys the bot may use, and which one a new job goes to.

Each key is an account of its own at the provider (or a key of one): its own concurrent tasks
and submits per model, its own 20 queries a second, its own temporary uploads and task ids. A
job keeps the name of its key (never the key) from the moment its inputs are staged, because an
uploaded `oss://` file and a task id belong to the account that made them.

A new job goes to the key with the lowest load for its model: jobs waiting or at the provider
on that key ÷ that key's concurrency for the model, ties to the key listed first. The load is
read from the database, because several processes may share it; jobs whose inputs are being
uploaded in this process count too, so that a burst of requests does not all pick one key.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bot.dashscope import DashScopeClient
from bot.domain.catalog import MODELS, Region
from storage.database import Transaction
from storage.jobs import JobStore

DEFAULT_KEY_NAME = "default"  # the one key of DASHSCOPE_API_KEY or the credentials file


class KeyConfig(BaseModel):
    """One entry of WANBOT_DASHSCOPE_KEYS; what is not given is the bot's own setting."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=64)
    api_key: SecretStr
    region: Region | None = None
    base_url: str | None = None
    concurrency: dict[str, int] = Field(default_factory=dict)  # per model
    submit_per_second: dict[str, int] = Field(default_factory=dict)  # per model
    query_budget_per_second: float | None = Field(default=None, gt=0, le=20)


@dataclass(frozen=True)
class DashScopeKey:
    """A configured key: its name, the client that carries it, and its own limits per model
    (a model it does not name: the bot's setting, else the catalogue's)."""

    name: str
    client: DashScopeClient
    concurrency: Mapping[str, int] = field(default_factory=dict)
    submit_per_second: Mapping[str, int] = field(default_factory=dict)
    query_budget_per_second: float | None = None  # None: the bot's

    def slots(self, model: str, fallback: Mapping[str, int] | None = None) -> int:
        """How many tasks of `model` may be at the provider at once on this key."""
        if model in self.concurrency:
            return self.concurrency[model]
        return (fallback or {}).get(model, MODELS[model].concurrency)

    def submits(self, model: str, fallback: Mapping[str, int] | None = None) -> int:
        """How many tasks of `model` may be submitted per second on this key."""
        if model in self.submit_per_second:
            return self.submit_per_second[model]
        return (fallback or {}).get(model, MODELS[model].submit_per_second)


class KeyRing:
    """The configured keys, in order, and the choice of a key for a new job."""

    def __init__(self, keys: Sequence[DashScopeKey], *, jobs: JobStore | None = None) -> None:
        if not keys:
            raise ValueError("at least one DashScope key is needed")
        names = [key.name for key in keys]
        if len(set(names)) != len(names):
            raise ValueError("each DashScope key needs a name of its own")
        if len(keys) > 1 and jobs is None:
            raise ValueError("choosing among several keys needs the job store")
        self._keys = {key.name: key for key in keys}
        self._jobs = jobs
        self._staging: Counter[tuple[str, str]] = Counter()  # (key, model) -> uploads under way

    @classmethod
    def single(cls, client: DashScopeClient) -> KeyRing:
        """One key, named `default`, with the bot's limits: how the bot ran before it had keys."""
        return cls([DashScopeKey(DEFAULT_KEY_NAME, client)])

    def __iter__(self) -> Iterator[DashScopeKey]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def first(self) -> DashScopeKey:
        """The key listed first: jobs made before keys had names belong to it."""
        return next(iter(self._keys.values()))

    @property
    def names(self) -> list[str]:
        return list(self._keys)

    def named(self, name: str | None) -> DashScopeKey | None:
        """The key a job's row names (None: the first key); None if it is no longer configured."""
        return self.first if name is None else self._keys.get(name)

    async def choose(self, model: str, *, tx: Transaction | None = None) -> DashScopeKey:
        """The key with the lowest load for `model` (waiting and at the provider, per slot),
        ties to the first listed. Read inside `tx` when given."""
        if len(self._keys) == 1:
            return self.first
        assert self._jobs is not None
        slots = {key.name: max(key.slots(model), 1) for key in self._keys.values()}
        counts = await self._jobs.waiting_per_key(model, tx=tx)
        first = self.first.name
        load: Counter[str] = Counter()
        for name, count in counts.items():
            load[name if name is not None else first] += count
        for (name, staged_model), count in self._staging.items():
            if staged_model == model:
                load[name] += count
        return min(
            self._keys.values(),
            key=lambda key: load[key.name] / slots[key.name],
        )  # min keeps the first of equals: ties go to the key listed first

    @contextlib.asynccontextmanager
    async def staging(self, model: str) -> AsyncIterator[DashScopeKey]:
        """Choose a key for a job whose inputs are about to be uploaded with it; until the block
        ends (and the job is queued right after), it counts toward that key's load."""
        key = await self.choose(model)
        self._staging[(key.name, model)] += 1
        try:
            yield key
        finally:
            self._staging[(key.name, model)] -= 1
            if not self._staging[(key.name, model)]:
                del self._staging[(key.name, model)]
