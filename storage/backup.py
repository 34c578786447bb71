"""A copy of the SQLite database taken while the bot runs, with SQLite's online backup API.

The copy is made in one step, inside one read transaction on a connection of its own: in WAL mode
the bot's writes go on beside it, and the copy is the database as it was at one instant, every
transaction in it whole or absent. It is written under a temporary name, switched to a plain
rollback journal (one self-contained file), checked with `PRAGMA integrity_check`, and only then
given its name. The work is blocking and runs in a thread, so an event loop that calls it keeps
serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

BUSY_SECONDS = 30.0  # how long the copy waits for a lock the bot holds (a checkpoint, a migration)


class BackupError(Exception):
    """The copy could not be made, or is not sound; the text says which and why."""


class BackupRefused(BackupError):
    """Nothing was copied: the source is missing, or the target exists or has no folder."""


@dataclass(frozen=True)
class BackupInfo:
    """What a finished copy holds."""

    path: Path
    size_bytes: int
    schema_version: int
    jobs: int
    ledger_rows: int


async def backup_sqlite(source: Path, target: Path, *, replace: bool = False) -> BackupInfo:
    """Copy the database at `source` to `target` (in a thread); an existing `target` is refused
    unless `replace`."""
    return await asyncio.to_thread(copy_sqlite, source, target, replace=replace)


def copy_sqlite(source: Path, target: Path, *, replace: bool = False) -> BackupInfo:
    """The blocking copy behind `backup_sqlite`; raise BackupError with one line of reason."""
    if not source.is_file():
        raise BackupRefused(f"there is no SQLite database at {source}")
    if target.exists() and not replace:
        raise BackupRefused(f"{target} exists: give --force to replace it, or another name")
    if not target.parent.is_dir():
        raise BackupRefused(f"there is no folder {target.parent} for {target}")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)  # a copy an earlier run left half made
    try:
        info = _copy(source, partial)
        partial.replace(target)
    except (sqlite3.Error, OSError) as error:
        raise BackupError(f"the copy of {source} failed: {error}") from None
    finally:
        partial.unlink(missing_ok=True)
    return BackupInfo(target, target.stat().st_size, *info)


def _copy(source: Path, target: Path) -> tuple[int, int, int]:
    """Copy and check; return the copy's schema version, jobs and ledger rows."""
    with (
        contextlib.closing(sqlite3.connect(source, timeout=BUSY_SECONDS)) as reading,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        reading.backup(copy)  # all pages in one step: one read transaction, one instant
        copy.execute("PRAGMA journal_mode = DELETE")
        problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError(f"integrity_check: {'; '.join(problems[:3])}")
        version = copy.execute("PRAGMA user_version").fetchone()[0]
        if not version:
            raise sqlite3.DatabaseError("it is not a wanbot database (no schema version)")
        jobs = copy.execute("SELECT count(*) FROM jobs").fetchone()[0]
        ledger = copy.execute("SELECT count(*) FROM quota_ledger").fetchone()[0]
    return int(version), int(jobs), int(ledger)
