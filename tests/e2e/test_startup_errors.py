"""What an owner sees when `run` or `worker` cannot start: one line that names the setting and
says what to do, never a traceback, never a secret; and what it waits for before giving up.

Each case runs `python -m bot run` (or `worker`) as a subprocess, as an owner starts it: bad
settings, a wrong token (the fake Discord answers 401), Discord or PostgreSQL unreachable (a
closed port), a data folder it cannot write.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.simulator import Simulator, SimulatorConfig
from tests.support import ROOT
from tests.support.fakediscord import FakeDiscord, subprocess_env, write_sitecustomize
from tests.support.pgproxy import PgProxy
from tests.support.postgres import new_postgres_schema

SECRET = "Zq9sEcReT"  # put into every setting that may hold one; it must never be printed
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) ")


@dataclass
class Ended:
    code: int
    stderr: str

    @property
    def said(self) -> list[str]:
        """What the process said besides its log lines; there must be no traceback."""
        assert "Traceback" not in self.stderr, self.stderr
        return [line for line in self.stderr.splitlines() if not LOG_LINE.match(line)]

    @property
    def logged(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if LOG_LINE.match(line)]


def environment(folder: Path, **settings: str) -> dict[str, str]:
    """A clean environment (none of this machine's settings) with a bot's usual ones."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WANBOT_", "DASHSCOPE_", "DISCORD_", "PG", "FAKEDISCORD_"))
    }
    return env | {
        "DISCORD_TOKEN": f"token-{SECRET}",
        "DASHSCOPE_API_KEY": f"sk-{SECRET}",
        "DASHSCOPE_BASE_URL": "http://127.0.0.1:9/api/v1",  # never called at start
        "WANBOT_CREDENTIALS_FILE": str(folder / "no-credentials"),
        "WANBOT_DATABASE_PATH": str(folder / "data" / "wanbot.sqlite3"),
        "WANBOT_SPOOL_DIR": str(folder / "data" / "spool"),
        "WANBOT_HEARTBEAT_PATH": str(folder / "data" / "heartbeat"),
        "WANBOT_STARTUP_RETRY_SECONDS": "3",
        **settings,
    }


async def start(
    command: str, env: dict[str, str], *args: str, within: float = 60
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", command, *args,
        cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def ended(command: str, env: dict[str, str], *args: str, within: float = 60) -> Ended:
    """Run the command to its end (the timeout bounds the test, not the process's waiting)."""
    process = await start(command, env, *args)
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Ended(process.returncode, stderr.decode())


def assert_one_line_naming(done: Ended, variable: str, *, code: int) -> str:
    assert done.code == code, done.stderr
    [line] = done.said
    assert line.startswith("error: ") and variable in line, line
    assert SECRET not in done.stderr
    assert "PyNaCl" not in done.stderr and "davey" not in done.stderr  # not our concern
    return line


def closed_port() -> int:
    """A loopback port nobody listens on (just freed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


BAD_SETTINGS = [
    ({"WANBOT_QUOTA_PERIOD": "fortnight"}, "WANBOT_QUOTA_PERIOD", "'day', 'week' or 'month'"),
    ({"WANBOT_CONCURRENCY": '{"wan2.7-i2v": ' + SECRET}, "WANBOT_CONCURRENCY", "JSON"),
    ({"WANBOT_CONCURRENCY": '{"wan2.7-i2v": "x"}'}, "WANBOT_CONCURRENCY", "integer"),
    ({"WANBOT_DASHSCOPE_KEYS": f'[{{"name": "a", "api_key": "{SECRET}"'}, "WANBOT_DASHSCOPE_KEYS", "JSON"),
    ({"WANBOT_DATABASE_URL": f"mysql://u:{SECRET}@db/wanbot"}, "WANBOT_DATABASE_URL", "postgresql://"),
    ({"WANBOT_REGION": "mars"}, "WANBOT_REGION", "'beijing'"),
    ({"WANBOT_LEASE_SECONDS": "soon"}, "WANBOT_LEASE_SECONDS", "number"),
    ({"WANBOT_STARTUP_RETRY_SECONDS": "-1"}, "WANBOT_STARTUP_RETRY_SECONDS", "0"),
    ({"DISCORD_TOKEN": ""}, "DISCORD_TOKEN", "set DISCORD_TOKEN"),
    ({"DASHSCOPE_API_KEY": ""}, "DASHSCOPE_API_KEY", "set DASHSCOPE_API_KEY"),
]  # fmt: skip


@pytest.mark.parametrize(("settings", "variable", "hint"), BAD_SETTINGS)
async def test_a_bad_setting_is_one_line_naming_its_variable(
    tmp_path: Path, settings: dict[str, str], variable: str, hint: str
) -> None:
    done = await ended("run", environment(tmp_path, **settings))
    line = assert_one_line_naming(done, variable, code=2)
    assert hint in line


@pytest.mark.parametrize(("settings", "variable", "hint"), BAD_SETTINGS[:2])
async def test_a_worker_says_the_same(
    tmp_path: Path, settings: dict[str, str], variable: str, hint: str
) -> None:
    done = await ended("worker", environment(tmp_path, **settings))
    assert hint in assert_one_line_naming(done, variable, code=2)


def with_fake(fake: FakeDiscord, folder: Path, **settings: str) -> dict[str, str]:
    site = write_sitecustomize(folder / "site")
    return faked(subprocess_env(fake.api_base, fake.gateway_url, site), folder, **settings)


def faked(fake_env: dict[str, str], folder: Path, **settings: str) -> dict[str, str]:
    """A clean environment on the fake's: its PYTHONPATH (the fake's sitecustomize first) is
    kept over the one this process was started with."""
    return fake_env | environment(folder, **settings) | {"PYTHONPATH": fake_env["PYTHONPATH"]}


@pytest.mark.parametrize("command", ["run", "worker", "sync"])
async def test_a_wrong_token_is_one_line_saying_what_to_do(
    fake: FakeDiscord, tmp_path: Path, command: str
) -> None:
    """Before: `discord.errors.LoginFailure: Improper token has been passed.` and a traceback."""
    done = await ended(command, with_fake(fake, tmp_path))
    line = assert_one_line_naming(done, "DISCORD_TOKEN", code=2)
    assert "refused" in line and "Reset Token" in line
    assert any(call.path == "/users/@me" and call.status == 401 for call in fake.calls)


async def test_discord_unreachable_is_retried_then_given_up_in_one_line(tmp_path: Path) -> None:
    """Before: an 81-line traceback at once. Now one line per attempt while it waits (3 s here,
    5 minutes by default), then one line and exit 1."""
    port = closed_port()
    site = write_sitecustomize(tmp_path / "site")
    env = subprocess_env(f"http://127.0.0.1:{port}/api/v10", f"ws://127.0.0.1:{port}", site)
    done = await ended("run", faked(env, tmp_path))
    line = assert_one_line_naming(done, "WANBOT_STARTUP_RETRY_SECONDS", code=1)
    assert "cannot reach Discord" in line and "gave up after" in line
    retries = [entry for entry in done.logged if "Discord not reachable" in entry]
    assert len(retries) >= 2, done.stderr
    assert "attempt 1" in retries[0] and "trying again in 1 s" in retries[0]


async def test_postgres_unreachable_is_retried_then_given_up_in_one_line(tmp_path: Path) -> None:
    url = f"postgresql://wanbot:{SECRET}@127.0.0.1:{closed_port()}/wanbot"
    done = await ended("worker", environment(tmp_path, WANBOT_DATABASE_URL=url))
    line = assert_one_line_naming(done, "WANBOT_DATABASE_URL", code=1)
    assert "cannot connect to PostgreSQL" in line and "gave up after" in line
    retries = [entry for entry in done.logged if "PostgreSQL not reachable" in entry]
    assert len(retries) >= 2, done.stderr


async def test_a_worker_waits_for_postgres_that_comes_up_late(
    postgres_server: str, tmp_path: Path
) -> None:
    """PostgreSQL starting beside the bot (compose, a reboot): the worker waits and then runs."""
    proxy = PgProxy(await new_postgres_schema(postgres_server))
    proxy.port = closed_port()
    async with Simulator(SimulatorConfig()) as simulator:
        assert simulator.base_url is not None
        env = environment(
            tmp_path,
            WANBOT_DATABASE_URL=proxy.url,
            DASHSCOPE_BASE_URL=simulator.base_url,
            WANBOT_STARTUP_RETRY_SECONDS="60",
        )
        process = await start("worker", env, "--output-dir", str(tmp_path / "out"))
        assert process.stderr is not None
        seen: list[str] = []

        async def until(text: str) -> None:
            while not any(text in line for line in seen):
                line = await process.stderr.readline()  # type: ignore[union-attr]
                assert line, "\n".join(seen)
                seen.append(line.decode())

        try:
            async with asyncio.timeout(60):
                await until("PostgreSQL not reachable yet (attempt 1)")
                await proxy.start(port=proxy.port)
                await until("Worker running")
        finally:
            process.terminate()
            await process.wait()
            await proxy.close()
    assert "Traceback" not in "".join(seen)


async def test_a_data_path_under_a_file_is_one_line(tmp_path: Path) -> None:
    """Fails for root too. Before: `FileExistsError: [Errno 17] File exists` and a traceback."""
    (tmp_path / "data").write_text("not a folder")
    done = await ended("run", environment(tmp_path))
    line = assert_one_line_naming(done, "WANBOT_DATABASE_PATH", code=2)
    assert f"{tmp_path / 'data'} is a file" in line


async def test_a_file_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "wanbot.sqlite3").write_bytes(b"a holiday photo, not a database" * 100)
    done = await ended("run", environment(tmp_path))
    line = assert_one_line_naming(done, "WANBOT_DATABASE_PATH", code=1)
    assert "file is not a database" in line and "backup" in line


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A folder this process cannot write in: mode 0555, or for root (who may write anywhere)
    an immutable one, where the machine allows it."""
    folder = tmp_path / "data"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip("running as root, and chattr +i is refused here: root may write anywhere")
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], check=True)


async def test_an_unwritable_data_folder_is_one_line(unwritable: Path, tmp_path: Path) -> None:
    """Before: `sqlite3.OperationalError: unable to open database file` and a traceback."""
    done = await ended("run", environment(tmp_path))
    line = assert_one_line_naming(done, "WANBOT_DATABASE_PATH", code=2)
    assert f"cannot write in {unwritable}" in line


def test_a_folder_of_another_user_says_who_must_own_it(unwritable: Path) -> None:
    """The container's case: /data made by root, the bot running as uid 10001."""
    from bot.run.startup import folder_problem

    owner = unwritable.stat().st_uid
    problem = folder_problem(unwritable, "WANBOT_DATABASE_PATH", uid=owner + 10001)
    assert problem is not None
    assert f"belongs to uid {owner}" in problem and f"runs as uid {owner + 10001}" in problem
    assert f"chown -R {owner + 10001} {unwritable}" in problem
