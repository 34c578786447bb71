"""What `run` and `worker` make sure of before they start: folders they can write, and a
database and a Discord that answer. Each failure ends the process with one line that names the
setting and says what to do (`StartupFailed`).

An unreachable PostgreSQL or Discord is waited for: tried again after 1, 2, 4 … (at most 60) s,
one log line per attempt, until WANBOT_STARTUP_RETRY_SECONDS (300) have passed since the first
try. That covers a server started beside the bot (compose, a reboot) and a network that comes up
a little late; one that stays away ends the process, and its supervisor (Docker, systemd)
decides when to try again. What waiting cannot mend (a wrong password or token, a database
that does not exist) is not retried.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import logging
import os
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import aiohttp
import discord

from bot.run.settings import Settings
from storage.connect import open_database
from storage.database import Database
from storage.pglink import DatabaseUnreachable

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_SETTING = "WANBOT_STARTUP_RETRY_SECONDS"
FIRST_WAIT, LONGEST_WAIT = 1.0, 60.0
PROBE_SECONDS = 10.0  # one try at Discord's REST API


class StartupFailed(Exception):
    """The process cannot start; the text is one line saying why and what to do."""


class NotWritable(StartupFailed):
    """A folder the process must write in is not writable (a configuration error: exit 2)."""


async def keep_trying(
    attempt: Callable[[], Awaitable[T]],
    *,
    what: str,
    transient: Callable[[BaseException], bool],
    give_up_after: float,
    advice: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """`attempt()` until it succeeds; a `transient` failure is logged in one line and tried
    again with backoff while `give_up_after` seconds have not passed, then StartupFailed (its
    last error, and `advice`). Any other failure is raised as it is."""
    started, wait = clock(), FIRST_WAIT
    for number in itertools.count(1):
        try:
            return await attempt()
        except Exception as error:
            if not transient(error):
                raise
            spent = clock() - started
            if spent >= give_up_after:
                raise StartupFailed(
                    f"{_reason(error)}; gave up after {number} attempt{'s' * (number > 1)} in"
                    f" {spent:.0f} s"
                    f" ({RETRY_SETTING}={give_up_after:g}): {advice}"
                ) from None
            wait = min(wait, give_up_after - spent)
            log.warning(
                "%s not reachable yet (attempt %d): %s; trying again in %.0f s (for up to %g s"
                " in all: %s)",
                what, number, _reason(error), wait, give_up_after, RETRY_SETTING,
            )  # fmt: skip
            await sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT)
    raise AssertionError("unreachable")


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__  # a bare TimeoutError says nothing


async def open_database_patiently(settings: Settings) -> Database:
    """Open the database, waiting for a PostgreSQL server that does not answer yet; a SQLite
    file that cannot be opened (not a database, damaged) is one line."""
    target = settings.database_target()
    if isinstance(target, Path):
        try:
            return await open_database(target)
        except sqlite3.Error as error:
            raise StartupFailed(
                f"cannot open the SQLite database {target.absolute()} (WANBOT_DATABASE_PATH):"
                f" {error}; restore it from a backup (docs/operations.md) or move it aside"
            ) from None
    password = settings.database_password_text()
    return await keep_trying(
        lambda: open_database(target, password=password),
        what="PostgreSQL",
        transient=lambda error: isinstance(error, DatabaseUnreachable) and error.transient,
        give_up_after=settings.startup_retry_seconds,
        advice="check WANBOT_DATABASE_URL and that the server is running and reachable",
    )


class _DiscordDown(Exception):
    """Discord answered, but with a server error: it may be back in a while."""


async def wait_for_discord(session: aiohttp.ClientSession, give_up_after: float) -> None:
    """Return once Discord's REST API answers (its public `GET /gateway`), waiting for it."""
    url = f"{discord.http.Route.BASE}/gateway"

    async def attempt() -> None:
        timeout = aiohttp.ClientTimeout(total=PROBE_SECONDS)
        try:
            async with session.get(url, timeout=timeout) as response:
                if response.status >= 500:
                    raise _DiscordDown(f"it answered HTTP {response.status}")
        except TimeoutError:
            raise _DiscordDown(f"no answer in {PROBE_SECONDS:g} s") from None
        except aiohttp.ClientError as error:
            raise _DiscordDown(_reason(error)) from None

    try:
        await keep_trying(
            attempt,
            what="Discord",
            transient=lambda error: isinstance(error, _DiscordDown),
            give_up_after=give_up_after,
            advice="check this machine's network, DNS and firewall (HTTPS to discord.com)",
        )
    except StartupFailed as failed:
        raise StartupFailed(f"cannot reach Discord at {url}: {failed}") from None


def check_folders(settings: Settings) -> None:
    """Raise NotWritable (one line) unless this process can write where its settings say."""
    places: list[tuple[str, Path]] = [
        ("WANBOT_SPOOL_DIR", settings.spool_dir),
        ("WANBOT_INPUTS_DIR", settings.input_folder),
        ("WANBOT_HEARTBEAT_PATH", settings.heartbeat_path.parent),
    ]
    if isinstance(settings.database_target(), Path):
        places.insert(0, ("WANBOT_DATABASE_PATH", settings.database_path.parent))
    for variable, folder in places:
        problem = folder_problem(folder, variable)
        if problem is not None:
            raise NotWritable(problem)
    database = settings.database_path.absolute()
    if isinstance(settings.database_target(), Path) and database.exists():
        try:
            database.open("r+b").close()
        except OSError as error:
            raise NotWritable(
                f"cannot write {database} (WANBOT_DATABASE_PATH): {error.strerror}; "
                + _ownership_advice(database, os.geteuid(), "WANBOT_DATABASE_PATH")
            ) from None


def folder_problem(folder: Path, variable: str, *, uid: int | None = None) -> str | None:
    """Why this process (running as `uid`) cannot create files in `folder`, or None. The folder
    is made if it is missing, as the process would."""
    uid = os.geteuid() if uid is None else uid
    folder = folder.absolute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        file = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
        return (
            f"cannot make the folder {folder} ({variable}): {file} is a file, not a folder;"
            f" set {variable} to a path in a folder"
        )
    except OSError as error:
        parent = next((p for p in folder.parents if p.exists()), folder)
        return f"cannot make the folder {folder} ({variable}): {error.strerror}; " + (
            _ownership_advice(parent, uid, variable)
        )
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        reason = error.strerror or errno.errorcode.get(error.errno or 0, "refused")
        return f"cannot write in {folder} ({variable}): {reason}; " + _ownership_advice(
            folder, uid, variable
        )
    return None


def _ownership_advice(path: Path, uid: int, variable: str) -> str:
    """Who must own `path` for a process running as `uid`, as a command to run."""
    owner = path.stat().st_uid
    if owner != uid:
        return (
            f"it belongs to uid {owner} and this process runs as uid {uid}: give it to that user"
            f" (chown -R {uid} {path}) or set {variable} to a place uid {uid} can write"
        )
    return (
        f"make it writable for uid {uid} (chmod u+w {path}; a read-only mount or an immutable"
        f" folder refuses even its owner) or set {variable} elsewhere"
    )
