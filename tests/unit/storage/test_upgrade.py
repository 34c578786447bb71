"""A database from before this version's migrations: what the older code wrote still works.

The SQLite file is built as the older code left it (its migrations applied, its rows written with
its columns and its request JSON); opening it applies the newer migrations."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bot.domain.catalog import MediaType
from bot.intake.follow_up import again
from storage.connect import open_database
from storage.database import MIGRATIONS, pending_migrations
from storage.guild_settings import GuildSettingsStore
from storage.jobs import JobStore

BEFORE = 10  # the last migration of the version before personal defaults and reference slots
# A request as the older code stored it: no reference slots, no billed input seconds.
OLD_REQUEST = {
    "model": "wan2.7-i2v",
    "prompt": "a cat waves",
    "negative_prompt": None,
    "media": [{"type": "first_frame", "url": "oss://dashscope-instant/old/cat.png"}],
    "template": None,
    "resolution": "720P",
    "duration": 5,
    "ratio": None,
    "shot_type": None,
    "seed": 7,
    "prompt_extend": True,
    "watermark": False,
}


def older_database(path: Path) -> int:
    """A database at migration BEFORE with a server's settings and one delivered job; its id."""
    with sqlite3.connect(path) as db:
        for number, _name, script in pending_migrations(MIGRATIONS / "sqlite", 0):
            if number <= BEFORE:
                db.executescript(script)
        db.execute(f"PRAGMA user_version = {BEFORE}")
        db.execute("INSERT INTO guild_settings (guild_id) VALUES (10)")
        cursor = db.execute(
            "INSERT INTO jobs (state, guild_id, channel_id, user_id, model, resolution, duration,"
            " request_json, reserved_seconds, created_at, updated_at)"
            " VALUES ('delivered', 10, 20, 1, 'wan2.7-i2v', '720P', 5, ?, 5, 1.0, 2.0)",
            (json.dumps(OLD_REQUEST),),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid


async def test_an_older_databases_job_and_settings_work_after_the_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "wanbot.sqlite3"
    job_id = older_database(path)

    async with await open_database(path) as db:
        assert await db.version() > BEFORE
        job = await JobStore(db).get(job_id)
        settings = await GuildSettingsStore(db).get(10)

    assert job is not None and not job.by_dm, "an older job is posted where it always was"
    assert not settings.private_mode, "private mode is off until a moderator allows it"
    assert job.request.url_for(MediaType.FIRST_FRAME) == "oss://dashscope-instant/old/cat.png"
    retry = again(job, seed=8)  # its Retry finds its input in its slot
    assert retry.uploaded is not None
    assert retry.uploaded.media == {MediaType.FIRST_FRAME: "oss://dashscope-instant/old/cat.png"}
