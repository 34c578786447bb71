"""A fair queue of waiting jobs: the guild, then the user, served least recently goes next.

Each model has its own line (its slots are its own). Someone with 50 jobs waiting gets one turn,
then everyone else who is waiting gets one; a newcomer has never been served, so goes first.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

Owner = tuple[int | None, int]  # guild id, user id
T = TypeVar("T")


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
        job_id = next(self._order(model, ready), None)
        if job_id is None:
            return None
        owner = self._entries[job_id].owner
        turn = next(self._turns)
        self._guild_served[(model, owner[0])] = turn
        self._user_served[(model, owner)] = turn
        self.remove(job_id)
        return job_id

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
        lines = self._lines[entry.model]
        ranked = self._ranked(entry.model)
        guild = next(i for i, (g, _) in enumerate(ranked) if g == entry.owner[0])
        users = ranked[guild][1]
        # Where `_order` yields this job: its place among its guild's turns, then among all.
        in_guild = _round_robin_index(
            [len(lines[owner]) for owner in users],
            users.index(entry.owner),
            list(lines[entry.owner]).index(job_id),
        )
        return _round_robin_index(
            [sum(len(lines[owner]) for owner in owners) for _, owners in ranked], guild, in_guild
        )

    def upcoming(self, model: str, limit: int) -> list[int]:
        """The next `limit` jobs of `model` in the order they will be taken (all assumed ready)."""
        return list(itertools.islice(self._order(model), limit))

    def _order(self, model: str, ready: Callable[[int], bool] = lambda _: True) -> Iterator[int]:
        """The ready jobs of `model` in the order they will be taken, if nobody else arrives: the
        one definition of the order (`pop` takes its first, `upcoming` its head, and `position`
        counts in it). Guilds take turns, and within each guild its users take turns."""
        lines = self._lines.get(model, {})
        return _round_robin(
            _round_robin((j for j in lines[owner] if ready(j)) for owner in owners)
            for _guild, owners in self._ranked(model)
        )

    def _ranked(self, model: str) -> list[tuple[int | None, list[Owner]]]:
        """Who has the next turn: guilds least recently served first (ties: who came first), and
        within each guild its users least recently served first (ties: who came first)."""
        by_guild: dict[int | None, list[Owner]] = {}
        for owner in self._lines.get(model, {}):  # in order of arrival
            by_guild.setdefault(owner[0], []).append(owner)
        guilds = sorted(by_guild.items(), key=lambda g: self._guild_served.get((model, g[0]), 0))
        return [
            (guild, sorted(owners, key=lambda o: self._user_served.get((model, o), 0)))
            for guild, owners in guilds
        ]


def _round_robin(sequences: Iterable[Iterable[T]]) -> Iterator[T]:
    """One item from each sequence in turn, dropping those that run out: a1 b1 c1 a2 c2 c3."""
    turns = deque(iter(sequence) for sequence in sequences)
    while turns:
        sequence = turns.popleft()
        for item in sequence:
            yield item
            turns.append(sequence)
            break


def _round_robin_index(lengths: list[int], which: int, depth: int) -> int:
    """Where `_round_robin` yields item `depth` of sequence `which`, given every sequence's
    length: `depth` full rounds before it (each sequence gives what it has, up to one a round),
    and in its own round the sequences before it."""
    return depth + sum(
        min(length, depth + (1 if index < which else 0))
        for index, length in enumerate(lengths)
        if index != which
    )
