"""Generations from the shell, through the same intake and engine the bot uses.

`generate` admits and stages the inputs through the intake's `Admission`, as /video does (with no
server's rules, and exempt from quotas), then runs the request.

A `HeadlessRunner` owns an engine on an in-memory job database for the life of one command (a
one-shot command has nothing to resume, and must never pick up the bot's jobs). Its notifier
prints progress to stderr, copies each finished video to the file asked for, and writes the
evidence (request, task id, every provider response, final URL) as JSON beside it. What the
engine learned of task durations is kept between runs, apart for each API base URL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from bot.dashscope import DashScopeClient
from bot.domain.catalog import RETIRED
from bot.domain.errors import InvalidInput, WanbotError
from bot.domain.guild import GuildSettings
from bot.domain.jobs import Job, JobState, Requester
from bot.domain.requests import GenerationRequest
from bot.engine.key_ring import KeyRing
from bot.engine.notifier import Progress
from bot.engine.runner import Engine, EngineConfig
from bot.engine.timing import Kind, PollPlanner
from bot.i18n import Text
from bot.intake.admission import Admission
from bot.intake.ask import Ask
from bot.intake.draft import draft
from bot.media.pools import MediaWorkers
from storage.connect import open_database
from storage.jobs import JobStore
from storage.quotas import QuotaStore

log = logging.getLogger(__name__)

# Headless runs are the operator's own: recorded, never limited by member quotas.
_OPERATOR = Requester(user_id=0)


class TaskFailed(WanbotError):
    """The job ended without a video; `code` and `message` are the provider's when it gave them."""

    def __init__(self, job_id: int, code: str, message: str) -> None:
        self.job_id = job_id
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class Result:
    job_id: int
    task_id: str
    output: Path
    evidence_path: Path
    size_bytes: int
    seconds: float


def evidence_path_for(output: Path) -> Path:
    return output.with_suffix(".json")


@dataclass
class GenerateOptions:
    """What `generate` was asked for, before any file is read: the ask (each input a path or a
    URL) and the file the video goes to. A continuation's length is the model's default unless
    given, as --duration says (not a member's rule: the clip plus that default)."""

    ask: Ask
    output: Path

    def __post_init__(self) -> None:
        self.ask = replace(self.ask, length_from_clip=False)

    def draft(self) -> GenerationRequest:
        """The request with inputs still pointing at what was given; checked against the catalogue."""
        return draft(self.ask, GuildSettings(0), channel_id=None)


async def generate(
    session: aiohttp.ClientSession,
    client: DashScopeClient,
    runner: HeadlessRunner,
    options: GenerateOptions,
    *,
    label: str | None = None,
    warn: Callable[[str], None] = log.warning,
) -> Result:
    """Check everything, then upload local inputs and run the job through the engine to options.output;
    `warn` hears of a URL passed on unchecked."""
    if options.output.suffix.lower() != ".mp4":
        raise InvalidInput(f"The output {str(options.output)!r} must end in .mp4.", field="output")
    admission = Admission(
        session, KeyRing.single(client), workers=runner.workers, engine=runner.engine, warn=warn
    )
    admitted = await admission.admit(options.ask, _OPERATOR, exempt=True)
    staged = await admission.stage(admitted)
    return await runner.run(staged.request, options.output, label=label)


class _ConsoleNotifier:
    """The CLI's Notifier: progress lines, a copy of the video, and a future per job."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream  # None: whatever sys.stderr is when printing
        self._outputs: dict[int, Path] = {}
        self._labels: dict[int, str] = {}
        self._done: dict[int, asyncio.Future[Job]] = {}

    def expect(self, job: Job, output: Path, label: str | None) -> asyncio.Future[Job]:
        self._outputs[job.id] = output
        self._labels[job.id] = label or f"job {job.id}"
        self._done[job.id] = asyncio.get_running_loop().create_future()
        return self._done[job.id]

    async def progress(self, job: Job, update: Progress) -> None:
        note = f" — {update.note}" if update.note else ""
        label = self._labels.get(job.id, f"job {job.id}")
        print(
            f"[{update.elapsed:7.1f}s] {label} {update.state.value}{note}",
            file=self._stream or sys.stderr,
            flush=True,
        )
        if update.state is JobState.DELIVERED:
            self._resolve(job)

    async def deliver(self, job: Job, video: Path) -> int | None:
        output = self._outputs[job.id]
        output.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.copyfile, video, output)
        return None

    async def fail(self, job: Job, reason: Text) -> None:
        self._resolve(job)

    async def delivered_message(self, job: Job) -> int | None:
        return None

    def _resolve(self, job: Job) -> None:
        future = self._done.get(job.id)
        if future is not None and not future.done():
            future.set_result(job)


class HeadlessRunner:
    """Run requests to files through an engine that lives as long as this object."""

    def __init__(
        self,
        client: DashScopeClient,
        *,
        planner: PollPlanner,
        stream: TextIO | None = None,
        give_up_seconds: float = EngineConfig.unreadable_give_up_seconds,
        durations_file: Path | None = None,
        retired: frozenset[str] = RETIRED,
    ) -> None:
        self._client = client
        self._retired = retired  # refused at admission, and ended refunded if queued
        self._planner = planner
        self._give_up_seconds = give_up_seconds
        self._durations_file = durations_file  # what was learned, kept between runs per URL
        self._base_url = client.base_url
        self._notifier = _ConsoleNotifier(stream)
        self.workers = MediaWorkers()  # checks inputs and probes results for every run

    async def __aenter__(self) -> HeadlessRunner:
        self._spool = tempfile.TemporaryDirectory(prefix="wanbot-spool-")
        self._db = await open_database(":memory:")
        self._jobs = JobStore(self._db)
        self._engine = Engine(
            db=self._db,
            jobs=self._jobs,
            quotas=QuotaStore(self._db),
            client=self._client,
            notifier=self._notifier,
            config=EngineConfig(
                spool_dir=Path(self._spool.name),
                planner=self._planner,
                unreadable_give_up_seconds=self._give_up_seconds,
                retired_models=self._retired,
            ),
            workers=self.workers,
        )
        await self._engine.start()
        if self._durations_file is not None:
            self._engine.durations.load(
                await asyncio.to_thread(read_durations, self._durations_file, self._base_url)
            )
        return self

    @property
    def engine(self) -> Engine:
        """The engine of this runner's life (admission asks it before anything is read)."""
        return self._engine

    async def __aexit__(self, *exc_info: object) -> None:
        await self._engine.stop()
        if self._durations_file is not None:
            learned = self._engine.durations.snapshot()
            await asyncio.to_thread(write_durations, self._durations_file, self._base_url, learned)
        await self._db.close()
        self._spool.cleanup()
        self.workers.close()

    async def run(
        self, request: GenerationRequest, output: Path, *, label: str | None = None
    ) -> Result:
        """Generate `request` into `output`; raise TaskFailed (evidence still saved) if it fails."""
        job = await self._engine.enqueue(request, _OPERATOR, exempt=True)
        waiting = self._notifier.expect(job, output, label)
        try:
            job = await waiting
        finally:
            job = await self._jobs.get(job.id) or job
            evidence = await self._evidence(job, request, output)
            await asyncio.to_thread(_write_json, evidence_path_for(output), evidence)
        if job.state is not JobState.DELIVERED or job.task_id is None:
            raise TaskFailed(job.id, job.error_code or job.state.value, job.error_message or "")
        return Result(
            job_id=job.id,
            task_id=job.task_id,
            output=output,
            evidence_path=evidence_path_for(output),
            size_bytes=output.stat().st_size,
            seconds=(job.finished_at or job.updated_at) - job.created_at,
        )

    async def _evidence(self, job: Job, request: GenerationRequest, output: Path) -> dict[str, Any]:
        return {
            "request": request.body(),
            "job_id": job.id,
            "task_id": job.task_id,
            "responses": await self._jobs.responses(job.id),
            "video_url": job.result_url,
            "output": str(output) if job.state is JobState.DELIVERED else None,
            "outcome": job.state.value.upper()
            if job.state is JobState.DELIVERED
            else f"{job.state.value.upper()}: {job.error_code}",
        }


def _write_json(path: Path, value: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


# The durations file: what `generate` learned, per API base URL (a simulator or another region
# never teaches what a service takes). A file of the earlier shape (one list for every service)
# belongs to no URL: it is not read, and the next write replaces it.
_DURATIONS_SHAPE = 2


def read_durations(path: Path, base_url: str) -> dict[Kind, list[float]]:
    """Provider times learned by earlier runs against `base_url` (nothing if the file is
    missing, unreadable, of the earlier shape, or has nothing for that URL)."""
    try:
        rows = _read_services(path).get(_service(base_url), [])
        return {
            (r["model"], r["resolution"], int(r["duration"])): [float(v) for v in r["seconds"]]
            for r in rows
        }
    except (ValueError, KeyError, TypeError):
        return {}


def write_durations(path: Path, base_url: str, learned: dict[Kind, list[float]]) -> None:
    """Keep what this run learned against `base_url` for the next, beside what other URLs'
    runs learned (the file written whole, then moved into place)."""
    rows = [
        {"model": m, "resolution": r, "duration": d, "seconds": [round(s, 3) for s in seconds]}
        for (m, r, d), seconds in sorted(learned.items())
    ]
    try:
        services = _read_services(path)
    except ValueError:
        services = {}  # unreadable: start afresh
    services[_service(base_url)] = rows
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_text(json.dumps({"shape": _DURATIONS_SHAPE, "services": services}, indent=1))
        partial.replace(path)
    except OSError as error:
        log.warning("Could not keep learned task durations in %s (%s)", path, error)


def _read_services(path: Path) -> dict[str, Any]:
    """The file's rows per base URL; {} if it is missing or of the earlier shape."""
    try:
        found = json.loads(path.read_text())
    except OSError:
        return {}
    if not isinstance(found, dict) or found.get("shape") != _DURATIONS_SHAPE:
        return {}  # the earlier shape: whose service it came from is unknown
    services = found.get("services")
    return services if isinstance(services, dict) else {}


def _service(base_url: str) -> str:
    return base_url.rstrip("/")
