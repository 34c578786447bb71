"""wanbot as a separate process on the fake Discord: `python -m bot run` (or `worker`) started,
stopped by a signal or killed, and restarted; and what its jobs must come to."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.domain.catalog import IMAGE2VIDEO_PATH, VIDEO_GENERATION_PATH
from bot.media import samples
from bot.simulator import Simulator
from tests.support import ROOT
from tests.support.fakediscord import FakeDiscord, subprocess_env, write_sitecustomize
from tests.support.fakediscord.wanbot import result_messages, status_messages, status_text


class BotProcess:
    """`python -m bot run` (or `worker`) against the fake and the simulator; started, killed and
    restarted. `env` adds to (or overrides) the environment, e.g. a PostgreSQL database."""

    def __init__(
        self,
        fake: FakeDiscord,
        simulator_url: str,
        folder: Path,
        *,
        command: str = "run",
        name: str = "bot",
        env: dict[str, str] | None = None,
    ) -> None:
        self.fake = fake
        self.command = command
        self.log = folder / f"{name}.log"
        site = write_sitecustomize(folder / "site")
        self.env = (
            subprocess_env(fake.api_base, fake.gateway_url, site)
            | {
                "DISCORD_TOKEN": fake.token,
                "DASHSCOPE_API_KEY": "sk-restarts",
                "DASHSCOPE_BASE_URL": simulator_url,
                "WANBOT_DATABASE_PATH": str(folder / "wanbot.sqlite3"),
                "WANBOT_SPOOL_DIR": str(folder / "spool"),
                "WANBOT_HEARTBEAT_PATH": str(folder / "heartbeat"),
                "WANBOT_POLL_DENSE_SECONDS": "0.2",
                "WANBOT_POLL_LONGEST_SECONDS": "0.3",
                "WANBOT_PROGRESS_EDIT_SECONDS": "1",
                "WANBOT_MAX_WAITING_PER_USER": "10",
                "WANBOT_QUOTA_DEFAULT_SECONDS": "1000",
                # The simulator answers a submit at once: a submit a kill cut off is reconciled
                # 3 + 15 s after it was sent, not 75 + 15 s.
                "WANBOT_SUBMIT_TIMEOUT_SECONDS": "3",
            }
            | (env or {})
        )
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                self.command,
                cwd=ROOT,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self.starts += 1
        if self.command == "run":  # a worker has no gateway session to wait for
            await self.fake.wait_ready(self.fake.gateway.ready_count + 1, within=20)

    def kill(self) -> None:
        """SIGKILL, synchronously (it may run inside the fake's request handler)."""
        if self.process is not None and self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGKILL)

    async def wait(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    async def stop(self) -> None:
        """Ctrl-C, as a person would; SIGKILL if it does not stop."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.kill()
            await self.process.wait()


def all_done(fake: FakeDiscord, job_ids: list[int]) -> bool:
    return all(
        result_messages(fake, j) and any(status_text(m) == "Done" for m in status_messages(fake, j))
        for j in job_ids
    )


async def queue_videos(fake: FakeDiscord, count: int, *, within: float = 30) -> list[int]:
    """Ask for `count` 2 s videos with `/video animate`; return their job ids once all are queued."""
    interactions = []
    for index in range(count):
        image = fake.upload(
            f"frame{index}.png", samples.make_image(640, 360, hue=index), "image/png"
        )
        # Prompts of their own, as members' are: equal ones are sent one after another, and
        # after a kill mid-submit they would all wait for that submit's deadline.
        interactions.append(
            await fake.slash(
                "video", "animate", image=image, duration=2, prompt=f"a cat, take {index}"
            )
        )
    await fake.wait_for(
        lambda: all(i.texts() for i in interactions), within=within, what="every job queued"
    )
    texts = [i.texts()[0] for i in interactions]
    assert all(t.startswith("Queued as video #") for t in texts), texts
    return [int(t.split("#")[1].split()[0]) for t in texts]


def assert_each_job_once(
    fake: FakeDiscord,
    simulator: Simulator,
    job_ids: list[int],
    rows: dict[int, str],
    task_ids: list[str],
    charges: list[tuple[int, str, int]],
    log: str,
) -> None:
    """Every job delivered; submitted once; one status message, one video replying to it; one
    reservation and one commit. `rows` (id -> state), `task_ids` and `charges` (job, kind,
    count) come from the database."""
    assert sorted(rows) == sorted(job_ids), log
    assert all(state == "delivered" for state in rows.values()), (rows, log)
    posts = [
        r
        for r in simulator.requests
        if r.method == "POST" and r.path.endswith((VIDEO_GENERATION_PATH, IMAGE2VIDEO_PATH))
    ]
    assert len(simulator.tasks) == len(job_ids), "a job was submitted to the provider twice"
    assert sorted(task_ids) == sorted(simulator.tasks)
    assert len(posts) == len(job_ids)
    for job_id in job_ids:
        statuses = status_messages(fake, job_id)
        assert len(statuses) == 1, f"video #{job_id}: {len(statuses)} status messages"
        videos = result_messages(fake, job_id)
        assert len(videos) == 1, f"video #{job_id} was posted {len(videos)} times"
        assert videos[0].reply_to == statuses[0].id
    assert sorted(charges) == sorted(
        [(j, "commit", 1) for j in job_ids] + [(j, "reserve", 1) for j in job_ids]
    )


async def run_until_ready_then(
    fake: FakeDiscord, folder: Path, stop: signal.Signals, *args: str
) -> tuple[int, str]:
    """Start `python -m bot run ARGS` on the fake (its data in `folder`/data), send `stop` once
    its gateway session is up, and return its exit code and log."""
    data = folder / "data"
    site = write_sitecustomize(folder / "site")
    env = subprocess_env(fake.api_base, fake.gateway_url, site) | {
        "DISCORD_TOKEN": fake.token,
        "DASHSCOPE_API_KEY": "sk-test",
        "WANBOT_DATABASE_PATH": str(data / "wanbot.sqlite3"),
        "WANBOT_SPOOL_DIR": str(data / "spool"),
        "WANBOT_HEARTBEAT_PATH": str(data / "heartbeat"),
    }
    log = folder / "run.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", *args,
            cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=output,
        )  # fmt: skip
    try:
        await fake.wait_ready(within=60)
        process.send_signal(stop)
        await asyncio.wait_for(process.wait(), 30)
    except TimeoutError:
        raise AssertionError(f"still running after {stop.name}:\n{log.read_text()}") from None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, log.read_text()
