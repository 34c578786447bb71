"""wanbot's own errors: a small hierarchy whose messages are written for the person who caused them."""

from __future__ import annotations


class WanbotError(Exception):
    """Base for errors whose message can be shown to a user as it is."""


class InvalidInput(WanbotError):
    """Bad input from a person: nothing was sent and nothing was charged.

    `field` names the option or file at fault ("duration", "last_frame"), when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
