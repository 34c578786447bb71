"""The heartbeat a running process keeps, and `python -m bot health`, which reads it (Docker's
HEALTHCHECK).

`run` and `worker` each start one (`Heartbeat.start`, stopped with the process) that beats every
30 s, and a beat touches the heartbeat file only when the process can do its work: the database
answered a `SELECT 1` within 5 s, the engine's loop runs, and (for `run`) the Discord gateway is
connected. A beat that finds something wrong leaves the file alone, logs why (once, until it
changes) and writes why beside it (`heartbeat.why`, removed once all is well), so that `health`,
run apart from the process (Docker's HEALTHCHECK), can say it. `health` calls a heartbeat fresh
while it is under 90 s old (three beats), so one slow beat is forgiven and a process stuck for a
minute and a half is not; every answer is one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.net.tasks import Loops
from storage.database import Database

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 3 * HEARTBEAT_SECONDS
PING_SECONDS = 5.0
STARTING = "not started"


@dataclass
class Heartbeat:
    """Touches `path` each `interval` while the process's database, engine and (when given)
    gateway connection are well."""

    path: Path
    db: Database
    engine_alive: Callable[[], bool]
    connected: Callable[[], bool] | None = None  # the gateway; None: a process without one
    interval: float = HEARTBEAT_SECONDS
    ping_within: float = PING_SECONDS
    _last: str | None = field(default=STARTING, init=False)  # the last beat's trouble
    _beating: Loops = field(default_factory=Loops, init=False, repr=False)

    def start(self) -> None:
        """Beat in the background until `stop`."""
        self._beating.start(self.run(), "wanbot heartbeat")

    async def stop(self) -> None:
        """Stop beating (the file stays as the last beat left it)."""
        await self._beating.stop()

    async def run(self) -> None:
        """Beat until cancelled."""
        while True:
            await self.beat()
            await asyncio.sleep(self.interval)

    async def beat(self) -> str | None:
        """Touch the heartbeat if all is well; else leave it, and return what is wrong."""
        try:
            trouble = await self.trouble()
        except Exception as error:  # a check that broke says so, and the beat goes on
            trouble = f"the health check failed: {type(error).__name__}: {error}"
        if trouble is None:
            try:
                await asyncio.to_thread(touch, self.path)
            except OSError as error:
                trouble = f"could not write the heartbeat file: {error}"
        with contextlib.suppress(OSError):  # a folder it cannot write: the log still says why
            await asyncio.to_thread(_tell, self.path, trouble)
        if trouble is None:
            if self._last is not None:
                log.info("Heartbeat: all well (%s)", self._checked())
        elif trouble != self._last:
            # Not connected yet at start is the usual; anything after that is news.
            level = logging.INFO if self._last == STARTING else logging.WARNING
            log.log(level, "Heartbeat held back: %s", trouble)
        self._last = trouble
        return trouble

    async def trouble(self) -> str | None:
        """What keeps this process from working, or None."""
        if self.connected is not None and not self.connected():
            return "not connected to Discord"
        if not self.engine_alive():
            return "the engine's loop is not running"
        if not await self.db.ping(self.ping_within):
            return f"the database did not answer SELECT 1 within {self.ping_within:g} s"
        return None

    def _checked(self) -> str:
        return "database, engine" + (" and Discord gateway" if self.connected else "")


def touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{time.time():.0f}\n")


def why_path(path: Path) -> Path:
    """Where a process says why it held its heartbeat back."""
    return path.with_name(f"{path.name}.why")


def _tell(path: Path, trouble: str | None) -> None:
    """Write what is wrong beside the heartbeat (replacing it whole), or remove it: all is well."""
    why = why_path(path)
    if trouble is None:
        why.unlink(missing_ok=True)
        return
    why.parent.mkdir(parents=True, exist_ok=True)
    partial = why.with_name(f"{why.name}.new")
    partial.write_text(f"{trouble}\n")
    partial.replace(why)


def check(path: Path, *, now: float | None = None) -> tuple[bool, str]:
    """Whether the heartbeat at `path` is fresh, and one line saying so (or why not)."""
    now = time.time() if now is None else now
    try:
        beat = _age(path, now)
        why = _age(why_path(path), now)
        trouble = why_path(path).read_text(errors="replace").strip() if why is not None else ""
    except OSError as error:
        return False, (
            f"unhealthy: cannot read the heartbeat at {path} ({error.strerror});"
            " WANBOT_HEARTBEAT_PATH must be the process's, readable here"
        )
    if beat is not None and beat < STALE_SECONDS:
        return True, f"healthy: last heartbeat {beat:.0f} s ago"
    last = "no heartbeat yet" if beat is None else f"last heartbeat {beat:.0f} s ago"
    if why is not None and why < STALE_SECONDS and trouble:  # running, and it says what is wrong
        return False, f"unhealthy: {' '.join(trouble.split())} ({last}, checked {why:.0f} s ago)"
    if beat is None:
        return False, (
            f"unhealthy: no heartbeat yet at {path}: the bot or worker is not running, is still"
            " starting, or beats elsewhere (WANBOT_HEARTBEAT_PATH)"
        )
    return False, (
        f"unhealthy: {last} (stale after {STALE_SECONDS:.0f} s) and no check since:"
        " the process has stopped or is stuck; its log says more"
    )


def _age(path: Path, now: float) -> float | None:
    """How long ago `path` was written (never negative), or None if there is none."""
    try:
        return max(0.0, now - path.stat().st_mtime)
    except FileNotFoundError:
        return None
