"""wanbot's own errors: a small hierarchy whose messages are written for the person who caused them."""

from __future__ import annotations

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
