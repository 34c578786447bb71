"""A PostgreSQL password with any characters works, given any of the supported ways, and no
error, log or traceback shows it: an operator's view of WANBOT_DATABASE_URL and its friends."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.run.cli import main
from bot.run.settings import Settings
from storage.connect import open_database
from storage.pglink import DatabaseUnreachable, DatabaseUrlError
from tests.support import ROOT
from tests.support.postgres import PASSWORD_ROLE, ROLE_PASSWORD, new_postgres_schema, role_url

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO) ")
# What a password split by an unencoded / # @ would leave in a host, port or path.
PIECES = ("Zq9", "Xk7", "Wm3", "Lp5")


def assert_never_shown(*texts: str) -> None:
    for text in texts:
        assert ROLE_PASSWORD not in text
        for piece in PIECES:
            assert piece not in text, f"a piece of the password shows: {text!r}"


async def who(target: str, password: str | None = None) -> str:
    async with await open_database(target, password=password) as db:
        row = await db.fetch_one("SELECT current_user")
        assert row is not None
        return str(row[0])


async def test_percent_encoded_in_the_url(password_server: str) -> None:
    url = role_url(await new_postgres_schema(password_server), password=ROLE_PASSWORD)
    assert "%2F" in url and "%23" in url and "%40" in url
    assert await who(url) == PASSWORD_ROLE


async def test_beside_a_password_less_url(
    password_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = role_url(await new_postgres_schema(password_server))
    monkeypatch.setenv("WANBOT_DATABASE_URL", url)
    monkeypatch.setenv("WANBOT_DATABASE_PASSWORD", ROLE_PASSWORD)
    settings = Settings()
    assert await who(str(settings.database_target()), settings.database_password_text()) == (
        PASSWORD_ROLE
    )
    assert ROLE_PASSWORD not in repr(settings)

    secret = tmp_path / "db_password"  # as Docker mounts a secret: a file, a final line break
    secret.write_text(ROLE_PASSWORD + "\n")
    monkeypatch.delenv("WANBOT_DATABASE_PASSWORD")
    monkeypatch.setenv("WANBOT_DATABASE_PASSWORD_FILE", str(secret))
    settings = Settings()
    assert await who(str(settings.database_target()), settings.database_password_text()) == (
        PASSWORD_ROLE
    )


async def test_libpqs_own_pgpassword_and_pgpassfile(
    password_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """asyncpg reads them, as libpq does, when neither the URL nor the settings give one."""
    url = role_url(await new_postgres_schema(password_server))
    monkeypatch.setenv("PGPASSWORD", ROLE_PASSWORD)
    assert await who(url) == PASSWORD_ROLE

    monkeypatch.delenv("PGPASSWORD")
    passfile = tmp_path / "pgpass"
    # As it is: asyncpg does not undo libpq's `\:` escapes (MagicStack/asyncpg#1249) and reads
    # everything after the fourth colon as the password; the README says so.
    passfile.write_text(f"*:*:*:{PASSWORD_ROLE}:{ROLE_PASSWORD}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    assert await who(url) == PASSWORD_ROLE


async def test_a_wrong_password_is_one_clear_line_without_it(password_server: str) -> None:
    url = role_url(await new_postgres_schema(password_server))
    wrong = ROLE_PASSWORD[::-1]
    with pytest.raises(DatabaseUnreachable) as refused:
        await who(url, password=wrong)
    message = str(refused.value)
    assert "password authentication failed" in message and PASSWORD_ROLE in message
    assert "\n" not in message and wrong not in message
    assert_never_shown(message)


@pytest.mark.parametrize("wrong_spot", ["/", "#", "@", "?"])
async def test_an_unencoded_special_character_is_refused_before_connecting(
    password_server: str, wrong_spot: str
) -> None:
    schema_url = await new_postgres_schema(password_server)
    url = role_url(schema_url).replace(
        f"{PASSWORD_ROLE}@", f"{PASSWORD_ROLE}:Zq9{wrong_spot}Xk7@", 1
    )
    with pytest.raises(DatabaseUrlError) as refused:
        await who(url)
    assert "percent-encode" in str(refused.value)
    assert_never_shown(str(refused.value))


def run_worker(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot worker` as an operator starts it, with `env` added."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("WANBOT_", "PG", "DASHSCOPE_"))
    }
    environment.update({"DASHSCOPE_API_KEY": "sk-test-not-used", **env})
    return subprocess.run(
        [sys.executable, "-m", "bot", "worker", "--output-dir", str(tmp_path / "out")],
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def error_lines(stderr: str) -> list[str]:
    """What the process said besides its log lines (`<date> <time> INFO …`); no traceback."""
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if not LOG_LINE.match(line)]


@pytest.mark.parametrize("special", ["/", "#"])
async def test_a_worker_started_with_an_unencoded_password_says_so_in_one_line(
    password_server: str, tmp_path: Path, special: str
) -> None:
    """Before: `ValueError: invalid literal for int() ... '<password>'` and a traceback."""
    password = f"Zq9{special}Xk7Wm3"
    url = role_url(await new_postgres_schema(password_server)).replace(
        f"{PASSWORD_ROLE}@", f"{PASSWORD_ROLE}:{password}@", 1
    )
    done = await asyncio.to_thread(run_worker, tmp_path, WANBOT_DATABASE_URL=url)
    assert done.returncode == 2
    lines = error_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: WANBOT_DATABASE_URL cannot be used")
    assert "percent-encode" in lines[0] and "WANBOT_DATABASE_PASSWORD" in lines[0]
    assert_never_shown(done.stdout, done.stderr)


async def test_a_worker_given_a_wrong_password_says_so_in_one_line(
    password_server: str, tmp_path: Path
) -> None:
    url = role_url(await new_postgres_schema(password_server))
    wrong = "Zq9/Xk7#Wm3 wrong"
    done = await asyncio.to_thread(
        run_worker, tmp_path, WANBOT_DATABASE_URL=url, WANBOT_DATABASE_PASSWORD=wrong
    )
    assert done.returncode == 1
    lines = error_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert "password authentication failed" in lines[0] and "WANBOT_DATABASE_URL" in lines[0]
    assert wrong not in done.stderr
    assert_never_shown(done.stdout, done.stderr)


def test_bad_settings_are_one_line_each_and_never_repeat_the_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, a bad setting was a pydantic traceback quoting the value (the URL, password)."""
    monkeypatch.setenv("WANBOT_DATABASE_URL", "mysql://wanbot:Zq9secretXk7@db/wanbot")
    assert main(["health"]) == 2
    err = capsys.readouterr().err
    assert err == "error: WANBOT_DATABASE_URL: must start with postgresql://\n"
    assert_never_shown(err)
    monkeypatch.delenv("WANBOT_DATABASE_URL")
    monkeypatch.setenv("WANBOT_CONCURRENCY", '{"wan2.7-i2v": Zq9')
    assert main(["health"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: WANBOT_CONCURRENCY is not valid JSON") and err.count("\n") == 1
    assert_never_shown(err)


def test_the_lease_must_outlive_two_ticks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WANBOT_LEASE_SECONDS", "15")
    monkeypatch.setenv("WANBOT_TICK_SECONDS", "8")
    assert main(["health"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert "WANBOT_LEASE_SECONDS (15) must be at least twice WANBOT_TICK_SECONDS (8)" in lines[0]
    monkeypatch.setenv("WANBOT_LEASE_SECONDS", "16")
    assert Settings().lease_seconds == 16


def test_one_password_at_a_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WANBOT_DATABASE_URL", "postgresql://wanbot:inline@db/wanbot")
    monkeypatch.setenv("WANBOT_DATABASE_PASSWORD", "beside")
    with pytest.raises(ValueError, match="keep one of them"):
        Settings()
    monkeypatch.setenv("WANBOT_DATABASE_URL", "postgresql://wanbot@db/wanbot")
    monkeypatch.setenv("WANBOT_DATABASE_PASSWORD_FILE", str(tmp_path / "secret"))
    with pytest.raises(ValueError, match="not both"):
        Settings()
    monkeypatch.delenv("WANBOT_DATABASE_PASSWORD")
    with pytest.raises(Exception, match=r"WANBOT_DATABASE_PASSWORD_FILE: cannot read .*secret"):
        Settings().database_password_text()


async def test_copy_database_reads_the_target_from_the_environment(
    password_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "wanbot.sqlite3"
    async with await open_database(source) as db, db.transaction() as tx:
        await tx.execute(
            "INSERT INTO guild_settings (guild_id, allowed_channels, banned_words, updated_at)"
            " VALUES (7, '[]', '[\"x\"]', 0)"
        )
    url = role_url(await new_postgres_schema(password_server))
    monkeypatch.setenv("WANBOT_DATABASE_PATH", str(source))
    monkeypatch.setenv("WANBOT_DATABASE_URL", url)
    monkeypatch.setenv("WANBOT_DATABASE_PASSWORD", ROLE_PASSWORD)
    assert await asyncio.to_thread(main, ["copy-database"]) == 0
    async with await open_database(url, password=ROLE_PASSWORD) as target:
        row = await target.fetch_one("SELECT banned_words FROM guild_settings WHERE guild_id = 7")
        assert row is not None and row[0] == '["x"]'

    monkeypatch.delenv("WANBOT_DATABASE_URL")
    assert await asyncio.to_thread(main, ["copy-database"]) == 2  # no target named anywhere


def test_compose_gives_the_password_beside_the_url() -> None:
    text = (ROOT / "compose.yaml").read_text()
    url = re.search(r"WANBOT_DATABASE_URL: (\S+)", text)
    assert url is not None and "PASSWORD" not in url.group(1)
    assert url.group(1).startswith("postgresql://wanbot@")
    assert "WANBOT_DATABASE_PASSWORD: ${POSTGRES_PASSWORD:?" in text


def test_an_unreadable_password_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "wanbot.sqlite3").write_bytes(b"")
    monkeypatch.setenv("WANBOT_DATABASE_PATH", str(tmp_path / "wanbot.sqlite3"))
    monkeypatch.setenv("WANBOT_DATABASE_URL", "postgresql://wanbot@db/wanbot")
    monkeypatch.setenv("WANBOT_DATABASE_PASSWORD_FILE", str(tmp_path / "missing"))
    assert main(["copy-database"]) == 2
    assert capsys.readouterr().err == (
        f"error: WANBOT_DATABASE_PASSWORD_FILE: cannot read {tmp_path / 'missing'}"
        " (a file holding the password)\n"
    )
