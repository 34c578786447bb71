"""wanbot's own errors, the whole domain family in one place: messages written for the person
who caused them (a `Text`, put into the reader's language by whoever shows it), and the rule of
a job's states that only a bug (or a lost race) breaks.

The provider's errors live on the provider's side (bot/dashscope/errors.py), on `WanbotError` too.
"""

from __future__ import annotations

from typing import Literal, Protocol

from bot.i18n import Text


class WanbotError(Exception):
    """Base for errors whose message can be shown to a user as it is.

    `text` is the message not yet in any language (the Discord layer puts it into the reader's);
    `str(error)` is English, for logs and the shell.
    """

    def __init__(self, message: Text | str) -> None:
        super().__init__(str(message))
        self.text = message


class InvalidInput(WanbotError):
    """Bad input from a person: nothing was sent and nothing was charged.

    `field` names the option or file at fault ("duration", "last_frame"), when there is one.
    """

    def __init__(self, message: Text | str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Renewing(Protocol):
    """What a quota refusal needs of the member's allowance: when it renews. The allowance is a
    bot.domain.quota.Allowance, which raises this error and so is not imported here."""

    @property
    def renews_at(self) -> float: ...


class QuotaExceeded(WanbotError):
    """A reservation was refused: the member's message (bot.domain.quota words it), why, the
    numbers and the allowance as it was. The message names the renewal in UTC, for logs and the
    shell; the Discord layer shows its own timestamp there instead (cogs/render/errors.py)."""

    def __init__(
        self,
        message: Text,
        *,
        reason: Literal["user", "budget", "blocked"],
        needed: int,
        remaining: int,
        allowance: Renewing,
    ) -> None:
        super().__init__(message)
        self.text: Text = message
        self.reason = reason
        self.needed = needed
        self.remaining = remaining
        self.renews_at = allowance.renews_at
        self.allowance = allowance


class InvalidTransition(RuntimeError):
    """A job was asked to move where its state does not allow (a bug, or a race lost)."""
