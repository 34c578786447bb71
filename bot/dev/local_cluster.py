"""A cluster on this machine: a throwaway PostgreSQL server, `python -m bot worker` children whose
logs are read as they come, and a way to put jobs in line for them.

What `demo-scale`, the cluster benches and their tests share. Each child delivers into a folder
(`--output-dir`, no Discord token needed), keeps a spool folder of its own and talks to the
DashScope endpoint it is given. Only the settings named here reach it: no WANBOT_, DASHSCOPE_ or
DISCORD_ variable of the caller's could point it at a real account or another database. Callers
wait for what a child says (a line of its log), under a deadline, rather than sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from bot.dashscope import DashScopeClient
from bot.domain.jobs import Job, Requester
from bot.domain.requests import GenerationRequest
from bot.engine.notifier import Progress
from bot.engine.runner import Engine, EngineConfig
from bot.i18n import Text
from bot.net.tasks import spawn
from storage.connect import open_database
from storage.coordination import Coordination
from storage.jobs import JobStore
from storage.quotas import QuotaStore

# The folder holding the bot/, cogs/ and storage/ packages, which the children import.
CODE = Path(__file__).resolve().parents[2]
# What a worker says, word for word (bot/run/worker.py, bot/engine/cluster.py, bot/dev/folder_delivery.py).
RUNNING = "Worker running"
SCHEDULER_NOW = "This process is the scheduler now"
DELIVERED = " delivered to "

_OWN_PREFIXES = ("WANBOT_", "DASHSCOPE_", "DISCORD_")


class WorkerExited(RuntimeError):
    """A worker ended before saying what it was waited for."""


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Start a PostgreSQL server (the `pgserver` package) in a new temporary folder; yield its
    URL; stop it and delete the folder afterwards."""
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime folder at import; without XDG_RUNTIME_DIR
        # that warns and falls back to /tmp, which is fine for a throwaway server.
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    folder = Path(tempfile.mkdtemp(prefix="wanbot-pg-"))
    # Run as root, pgserver starts the server as a user of its own, who must reach the folder.
    folder.chmod(0o755)
    server = get_server(folder, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


class Worker:
    """One `python -m bot worker --output-dir DIR` child process, its log read line by line.

    `lines` holds what the current run said; `log_path` keeps every run's lines. It may be
    started again after it ended (killed or stopped), as the same worker.
    """

    def __init__(
        self,
        name: str,
        *,
        database_url: str,
        api_base_url: str,
        api_key: str,
        output_dir: Path,
        folder: Path,
        settings: Mapping[str, str] | None = None,
        on_line: Callable[[Worker, str], None] | None = None,
    ) -> None:
        self.name = name
        self.output_dir = output_dir
        self.log_path = folder / f"{name}.log"
        self.lines: list[str] = []
        self.pid: int | None = None
        self._folder = folder
        self._on_line = on_line
        self._environment = {
            "WANBOT_DATABASE_URL": database_url,
            "DASHSCOPE_API_KEY": api_key,
            "DASHSCOPE_BASE_URL": api_base_url,
            "WANBOT_SPOOL_DIR": str(folder / f"{name}-spool"),
            **(settings or {}),
        }
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._said = asyncio.Condition()

    @property
    def running(self) -> bool:
        """Started and not yet seen to end."""
        return self._reader is not None and not self._reader.done()

    async def start(self) -> None:
        """Start the process (again, if it ended); its lines start afresh."""
        if self.running:
            raise RuntimeError(f"worker {self.name} is already running")
        self._folder.mkdir(parents=True, exist_ok=True)
        self.lines = []
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "worker",
            "--output-dir",
            str(self.output_dir.resolve()),  # the child runs in a folder of its own
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self.environment(),
            cwd=self._folder,
        )
        self.pid = self._process.pid
        self._reader = spawn(self._read(self._process), f"{self.name}'s log")

    def environment(self) -> dict[str, str]:
        """The child's environment: this one's, less any setting of wanbot's own, plus its own."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
        # The children import this very copy of the code, wherever they run.
        code = str(CODE)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [code, env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self._environment)
        return env

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        with self.log_path.open("a", encoding="utf-8") as log:
            async for raw in process.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                log.write(line + "\n")
                log.flush()
                self.lines.append(line)
                if self._on_line is not None:
                    self._on_line(self, line)
                async with self._said:
                    self._said.notify_all()
        await process.wait()
        async with self._said:
            self._said.notify_all()

    async def wait_for(self, text: str, *, since: int = 0) -> str:
        """The first line of this run (from index `since`) that contains `text`, once it is said
        (callers set the deadline); WorkerExited if the process ends first."""
        async with self._said:
            while True:
                for line in self.lines[since:]:
                    if text in line:
                        return line
                if not self.running:
                    raise WorkerExited(f"worker {self.name} ended without saying {text!r}")
                await self._said.wait()

    async def kill(self) -> None:
        """SIGKILL: the process dies at once, mid-work, as in a crash; wait until it has."""
        if self._process is not None and self.running:
            self._process.send_signal(signal.SIGKILL)
        await self._ended()

    async def stop(self, grace: float = 15.0) -> None:
        """SIGTERM (a clean stop: leases given back); SIGKILL if it has not ended in `grace` s."""
        if self._process is not None and self.running:
            self._process.terminate()
            try:
                await asyncio.wait_for(asyncio.shield(self._ended()), grace)
            except TimeoutError:
                self._process.kill()
        await self._ended()

    async def _ended(self) -> None:
        if self._reader is not None:
            await self._reader


class Enqueuer:
    """Puts jobs in line from this process, through an engine that is never started: the
    cluster's scheduler adopts the rows on its next tick, or at once when `announce` tells it."""

    def __init__(
        self, engine: Engine, coordination: Coordination, jobs: JobStore, *, announce: bool
    ) -> None:
        self._engine = engine
        self._coordination = coordination
        self._announce = announce
        self.jobs = jobs

    async def enqueue(self, request: GenerationRequest, requester: Requester) -> Job:
        """Reserve the quota and queue the job (and tell every process, if announcing)."""
        job = await self._engine.enqueue(request, requester)
        if self._announce:
            await self._coordination.announce("queued", str(job.id))
        return job


@contextlib.asynccontextmanager
async def enqueuer(
    database_url: str, folder: Path, *, announce: bool = True
) -> AsyncIterator[Enqueuer]:
    """An Enqueuer on `database_url` (quota without limit, no cap on jobs waiting)."""
    async with aiohttp.ClientSession() as session, await open_database(database_url) as db:
        jobs = JobStore(db)
        engine = Engine(
            db=db,
            jobs=jobs,
            quotas=QuotaStore(db, default_seconds=10**9),
            # Never called: an engine that is not started sends nothing.
            client=DashScopeClient(
                session, api_key=SecretStr("unused"), base_url="http://127.0.0.1:9/api/v1"
            ),
            notifier=_Silent(),
            config=EngineConfig(spool_dir=folder / "enqueuer-spool", max_waiting_per_user=10**9),
        )
        try:
            yield Enqueuer(engine, Coordination(db), jobs, announce=announce)
        finally:
            await engine.stop()


class _Silent:
    """The notifier of an engine that only enqueues: nothing to tell anyone here."""

    async def progress(self, job: Job, update: Progress) -> None:
        return None

    async def deliver(self, job: Job, video: Path) -> int | None:
        raise AssertionError("an engine that only enqueues never delivers")

    async def fail(self, job: Job, reason: Text) -> None:
        return None

    async def delivered_message(self, job: Job) -> int | None:
        return None
