"""What the engine tells an operator's metrics as it works: the `Metrics` protocol, and `NoMetrics`.

The engine (and, through the entry, the media workers that fit videos) reports what happened (a
provider call and how long it took, a task's time at the provider, a delivery's outcome, seconds
charged or refunded, a fit) to the `Metrics` it is handed; what becomes of it is the caller's
business (bot/run/prometheus.py keeps Prometheus counters; by default nothing is kept). Labels
are names the operator or the catalogue chose: a key's name, a model, a call kind, a state, an
outcome; never a member, a server or a prompt, which would make a series per person.

The media workers, on a floor below, know nothing of it: they time each fit and tell the callback
they were handed, which the entry makes `Metrics.fit`.
"""

from __future__ import annotations

from typing import Literal, Protocol

from bot.media.pools import FitOutcome

# What a call to the provider was: a submit, a task query (a poll), a task list, a cancel.
Call = Literal["submit", "query", "list", "cancel"]
# How it ended: answered; refused with 429 (throttled); refused otherwise; no clear answer
# (timeout, dropped connection, 5xx, an answer that could not be read).
CallOutcome = Literal["ok", "throttled", "refused", "no_answer"]
# How a delivery the engine carried ended.
DeliveryOutcome = Literal[
    "delivered", "post_failed", "result_expired", "download_failed", "unplayable"
]


class Metrics(Protocol):
    """Told as things happen; every method returns at once and never fails the caller's work."""

    def provider_call(self, key: str, call: Call, outcome: CallOutcome, seconds: float) -> None:
        """A call to the provider with the key named `key` ended after `seconds` (real time)."""

    def task_seconds(self, model: str, seconds: float) -> None:
        """A task of `model` took `seconds` at the provider (as learned for polling)."""

    def delivery(self, outcome: DeliveryOutcome) -> None:
        """A delivery carried by this process ended."""

    def job_ended(self, model: str, state: str) -> None:
        """A job of `model` reached the final `state` (delivered, failed, canceled, expired)."""

    def quota_charged(self, seconds: int) -> None:
        """Seconds of video charged to quotas (the provider's billed seconds, at delivery)."""

    def quota_refunded(self, seconds: int) -> None:
        """Seconds of video held for a job and given back (it ended without a video)."""

    def fit(self, outcome: FitOutcome, seconds: float) -> None:
        """A video was re-encoded to fit an upload limit in `seconds` (real time)."""


class NoMetrics:
    """Keeps nothing: what the engine reports when metrics are off."""

    def provider_call(self, key: str, call: Call, outcome: CallOutcome, seconds: float) -> None:
        pass

    def task_seconds(self, model: str, seconds: float) -> None:
        pass

    def delivery(self, outcome: DeliveryOutcome) -> None:
        pass

    def job_ended(self, model: str, state: str) -> None:
        pass

    def quota_charged(self, seconds: int) -> None:
        pass

    def quota_refunded(self, seconds: int) -> None:
        pass

    def fit(self, outcome: FitOutcome, seconds: float) -> None:
        pass
