"""The input store: the bytes of every input uploaded for a member, kept a few days, so that a
Retry or a Remix can make its video again after the provider's copy is gone.

The provider keeps an uploaded file (`oss://…`) for 48 hours, for the model and the account it was
uploaded for, and it cannot be read back (shared/dashscope-api.md §4). Discord's attachment links
expire too, and a slash command's attachment is in no message to fetch again. So the bytes we
uploaded are the only copy we can count on: staging keeps each one here under its `oss://` URL
(the URL the job's request names), with the time it was uploaded. A later job on the same inputs
reuses the upload while it has a day left (the new job may wait in line), and uploads these bytes
again after that (`bot/intake/admission.py`).

On disk, in one folder: `<name>.<ext>` holds the bytes (the extension of the file uploaded, so a
second upload is named alike) and `<name>.json` says which URL they were uploaded as and when;
`<name>` is a digest of the URL. The JSON is written last, so a file without one is unfinished.
The sweep deletes what was uploaded more than `days` ago (and unfinished files a day old); every
process running the engine calls it on its ticks, at most once an hour. `days` = 0 keeps nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DAY = 86_400.0
HOUR = 3_600.0
# How long the provider keeps an upload (shared/dashscope-api.md §4).
UPLOAD_LIFETIME_SECONDS = 48 * 3_600.0
# An upload is used again while it has this long left: a new job may wait that long in line.
SPARE_SECONDS = DAY
_UNFINISHED_SECONDS = DAY


@dataclass(frozen=True)
class Kept:
    """An input's bytes kept on disk: the file, the URL it was uploaded as, and when."""

    path: Path
    url: str
    uploaded_at: float


class InputStore:
    """Inputs' bytes by the `oss://` URL they were uploaded as, for `days` days.

    `clock` is the wall clock uploads are stamped and judged by (a test may replace it)."""

    def __init__(
        self,
        folder: Path,
        *,
        days: int,
        clock: Callable[[], float] = time.time,
        every_seconds: float = HOUR,
    ) -> None:
        if days < 0:
            raise ValueError(f"input days cannot be negative ({days})")
        self.folder = folder
        self.days = days
        self.clock = clock
        self._every = every_seconds
        self._due_at: float | None = None  # None: at the next call

    @property
    def keep_seconds(self) -> float:
        return self.days * DAY

    async def keep(self, url: str, filename: str, data: bytes) -> None:
        """Keep `data`, just uploaded as `url` (named `filename`). Never raises: an input that
        cannot be kept only means a Retry after two days cannot make it again."""
        if self.days == 0:
            return
        try:
            await asyncio.to_thread(self._write, url, filename, data, self.clock())
        except OSError as error:
            log.warning("Could not keep the input %s for later: %s", url, error)

    def find(self, url: str) -> Kept | None:
        """The bytes uploaded as `url`, if still kept (a small read: fine before Discord's answer)."""
        if self.days == 0:
            return None
        try:
            meta = json.loads(self._meta(url).read_text())
            path = self.folder / str(meta["file"])
            uploaded_at = float(meta["uploaded_at"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if meta.get("url") != url or not path.is_file():
            return None
        if self.clock() - uploaded_at > self.keep_seconds:
            return None  # past keeping: the sweep has not come by yet
        return Kept(path, url, uploaded_at)

    async def sweep_if_due(self) -> list[Path]:
        """Delete what is past keeping, if an hour has passed since the last sweep; return the
        files deleted. Never raises."""
        now = self.clock()
        if self._due_at is not None and now < self._due_at:
            return []
        self._due_at = now + self._every
        try:
            return await asyncio.to_thread(self.sweep)
        except Exception:
            log.exception("The input store's sweep failed; trying again in %.0f s", self._every)
            return []

    def sweep(self) -> list[Path]:
        """Delete inputs uploaded more than `days` ago, and unfinished files a day old."""
        now = self.clock()
        try:
            entries = sorted(self.folder.iterdir())
        except FileNotFoundError:
            return []
        described: set[str] = set()
        swept: list[Path] = []
        for meta in (path for path in entries if path.suffix == ".json"):
            try:
                record = json.loads(meta.read_text())
                data = self.folder / str(record["file"])
                uploaded_at = float(record["uploaded_at"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # half written, or not ours: judged by its age below
            described.add(data.name)
            described.add(meta.name)
            if now - uploaded_at > self.keep_seconds:
                swept += [path for path in (meta, data) if _unlink(path)]
        for path in entries:
            if path.name in described or not path.is_file() or not _ours(path):
                continue
            with contextlib.suppress(FileNotFoundError):
                age = now - path.stat().st_mtime
                if age > max(self.keep_seconds, _UNFINISHED_SECONDS) and _unlink(path):
                    swept.append(path)
        if swept:
            log.info("Deleted %d kept inputs past %d days", len(swept), self.days)
        return swept

    def _name(self, url: str) -> str:
        return "input-" + hashlib.sha256(url.encode()).hexdigest()[:40]

    def _meta(self, url: str) -> Path:
        return self.folder / f"{self._name(url)}.json"

    def _write(self, url: str, filename: str, data: bytes, now: float) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        extension = Path(filename).suffix.lower()
        if not extension[1:].isalnum() or len(extension) > 8:
            extension = ".bin"
        name = self._name(url)
        path = self.folder / f"{name}{extension}"
        _write_atomically(path, data)
        record = {"url": url, "file": path.name, "uploaded_at": now}
        _write_atomically(self._meta(url), json.dumps(record).encode())


def _ours(path: Path) -> bool:
    return path.name.startswith("input-")


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False  # another process sweeping the same folder was first
    except OSError as error:
        log.warning("Could not delete the kept input %s: %s", path, error)
        return False
    return True


def _write_atomically(path: Path, data: bytes) -> None:
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    os.replace(part, path)
