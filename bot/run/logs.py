"""How `run` and `worker` log: one line per record, with the time, and discord.py's lines that
would mislead an owner quieted.

discord.py warns at start that PyNaCl and davey are not installed and voice will not work: wanbot
never joins a voice channel, but the line reads like a missing dependency, so it is dropped; so
is its warning that the guilds intent is off, which only the worker's REST-only client (no
gateway, no intents) sets off.
While its gateway connection is retried it logs a whole traceback per attempt: the attempt is
kept, in one line with the error's name and text.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_DROPPED = ("voice will NOT be supported", "Guilds intent seems to be disabled")
_RECONNECT = "Attempting a reconnect"  # its other tracebacks (an event handler's bug) stay


class DiscordNoise(logging.Filter):
    """For discord.py's `client` and `state` loggers: no voice or intent warnings, and no
    traceback on a gateway reconnect."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(text in message for text in _DROPPED):
            return False
        if message.startswith(_RECONNECT) and record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            reason = " ".join(str(error).split()) or "no detail"
            record.msg, record.args = f"{message} ({type(error).__name__}: {reason})", ()
            record.exc_info, record.exc_text = None, None
        return True


def setup_logging(level: int = logging.INFO) -> None:
    """Log to stderr, one line per record; quiet discord.py as above."""
    logging.basicConfig(level=level, format=FORMAT)
    for name in ("discord.client", "discord.state"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, DiscordNoise) for f in logger.filters):
            logger.addFilter(DiscordNoise())
