"""Stopping `python -m bot run` as an operator does: Ctrl-C in a terminal, SIGTERM from `docker
stop` or systemd. Either closes the bot (its engine stops, submits under way finish) and exits 0,
whenever it comes, even during the gateway's handshake."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.bot_process import run_until_ready_then
from tests.support.fakediscord import FakeDiscord


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["docker stop", "Ctrl-C"])
async def test_run_stops_cleanly(fake: FakeDiscord, tmp_path: Path, stop: signal.Signals) -> None:
    """Before: SIGTERM killed it at once (exit -15, the engine never stopped), and a Ctrl-C that
    came during the gateway's handshake could be lost (Python 3.11's wait_for swallows it)."""
    for attempt in range(3):  # the handshake race is a matter of timing: try it a few times
        code, log = await run_until_ready_then(fake, tmp_path / str(attempt), stop)
        assert code == 0, log
        assert "Traceback" not in log
