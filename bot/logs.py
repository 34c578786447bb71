"""How `run` and `worker` log: one line per record, with the time, and discord.py's lines that
would mislead an owner quieted.

discord.py warns at start that PyNaCl and davey are not installed and voice will not work: wanbot
never joins a voice channel, but the line reads like a missing dependency, so it is dropped.
While its gateway connection is retried it logs a whole traceback per attempt: the attempt is
kept, in one line with the error's name and text.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_VOICE = "voice will NOT be supported"
_RECONNECT = "Attempting a reconnect"  # its other tracebacks (an event handler's bug) stay


class DiscordNoise(logging.Filter):
    """For the `discord.client` logger: no voice warnings, and no traceback on a reconnect."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _VOICE in message:
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
    client = logging.getLogger("discord.client")
    if not any(isinstance(f, DiscordNoise) for f in client.filters):
        client.addFilter(DiscordNoise())
