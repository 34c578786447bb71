"""A fair queue of waiting jobs: the guild, then the user, served least recently goes next.

Each model has its own line (its slots are its own). Someone with 50 jobs waiting gets one turn,
then everyone else who is waiting gets one; a newcomer has never been served, so goes first.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Owner = tuple[int | None, int]  # guild id, user id


@dataclass(frozen=True)
class _Entry:
    model: str
    owner: Owner


class FairQueue:
    def __init__(self) -> None:
        self._lines: dict[str, dict[Owner, deque[int]]] = {}  # model -> owner -> job ids
        self._entries: dict[int, _Entry] = {}
        self._per_owner: dict[Owner, int] = {}
        # When each guild and each user (per model) last had a turn; a counter, not a time.
        self._turns = itertools.count(1)
        self._guild_served: dict[tuple[str, int | None], int] = {}
        self._user_served: dict[tuple[str, Owner], int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, job_id: int) -> bool:
        return job_id in self._entries

    def push(self, job_id: int, model: str, owner: Owner, *, front: bool = False) -> None:
        """Add a job at the back of its owner's line (`front`: put back a job that lost its turn)."""
        line = self._lines.setdefault(model, {}).setdefault(owner, deque())
        if front:
            line.appendleft(job_id)
        else:
            line.append(job_id)
        self._entries[job_id] = _Entry(model, owner)
        self._per_owner[owner] = self._per_owner.get(owner, 0) + 1

    def remove(self, job_id: int) -> bool:
        entry = self._entries.pop(job_id, None)
        if entry is None:
            return False
        lines = self._lines[entry.model]
        lines[entry.owner].remove(job_id)
        if not lines[entry.owner]:
            del lines[entry.owner]
        if not lines:
            del self._lines[entry.model]
        self._per_owner[entry.owner] -= 1
        if not self._per_owner[entry.owner]:
            del self._per_owner[entry.owner]
        return True

    def pop(self, model: str, ready: Callable[[int], bool] = lambda _: True) -> int | None:
        """Take the next ready job for `model`: least recently served guild, then user; or None."""
        for owner in self._turn_order(model):
            job_id = next((j for j in self._lines[model][owner] if ready(j)), None)
            if job_id is None:
                continue
            turn = next(self._turns)
            self._guild_served[(model, owner[0])] = turn
            self._user_served[(model, owner)] = turn
            self.remove(job_id)
            return job_id
        return None

    def waiting(self, owner: Owner) -> int:
        """How many jobs `owner` has waiting (for the per-user cap)."""
        return self._per_owner.get(owner, 0)

    def models(self) -> list[str]:
        return list(self._lines)

    def jobs(self, model: str) -> list[int]:
        """Every waiting job of `model`."""
        return [j for line in self._lines.get(model, {}).values() for j in line]

    def position(self, job_id: int) -> int | None:
        """How many jobs of the same model will be taken before this one (0: next), if all are ready."""
        entry = self._entries.get(job_id)
        if entry is None:
            return None
        model, (guild, _user) = entry.model, entry.owner
        lines = self._lines[model]
        order = self._turn_order(model)
        rank = {owner: index for index, owner in enumerate(order)}
        # Turns this job's guild takes before the job: round robin over the guild's users.
        depth = list(lines[entry.owner]).index(job_id)
        mine = rank[entry.owner]
        guild_turns = depth + sum(
            min(len(lines[other]), depth + (1 if rank[other] < mine else 0))
            for other in lines
            if other[0] == guild and other != entry.owner
        )
        # Every other guild gets that many turns too (one more if it comes first), or runs out.
        sizes: dict[int | None, int] = {}
        first_at: dict[int | None, int] = {}
        for index, owner in enumerate(order):
            sizes[owner[0]] = sizes.get(owner[0], 0) + len(lines[owner])
            first_at.setdefault(owner[0], index)
        return guild_turns + sum(
            min(size, guild_turns + (1 if first_at[other] < first_at[guild] else 0))
            for other, size in sizes.items()
            if other != guild
        )

    def upcoming(self, model: str, limit: int) -> list[int]:
        """The next `limit` jobs of `model` in the order they will be taken (all assumed ready)."""
        lines = {owner: deque(line) for owner, line in self._lines.get(model, {}).items()}
        guild_served = {g: t for (m, g), t in self._guild_served.items() if m == model}
        user_served = {o: t for (m, o), t in self._user_served.items() if m == model}
        guild_arrival: dict[int | None, int] = {}
        for index, owner in enumerate(lines):
            guild_arrival.setdefault(owner[0], index)
        latest = max([0, *guild_served.values(), *user_served.values()])
        order: list[int] = []
        while lines and len(order) < limit:
            owner = min(  # the same rule as pop(); min() keeps arrival order among ties
                lines,
                key=lambda o: (
                    guild_served.get(o[0], 0),
                    guild_arrival[o[0]],
                    user_served.get(o, 0),
                ),
            )
            order.append(lines[owner].popleft())
            latest += 1
            guild_served[owner[0]] = user_served[owner] = latest
            if not lines[owner]:
                del lines[owner]
        return order

    def _turn_order(self, model: str) -> list[Owner]:
        """Owners in the order they get turns: guild least recently served (ties: who came first),
        then within it the user least recently served (ties: who came first)."""
        owners = list(self._lines.get(model, {}))
        guild_arrival: dict[int | None, int] = {}
        for index, owner in enumerate(owners):
            guild_arrival.setdefault(owner[0], index)
        return sorted(
            owners,
            key=lambda o: (
                self._guild_served.get((model, o[0]), 0),
                guild_arrival[o[0]],
                self._user_served.get((model, o), 0),
            ),
        )
