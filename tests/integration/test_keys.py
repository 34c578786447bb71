"""Several DashScope keys: settings, the choice of a key per job, each key's own slots, budget,
uploads and tasks, a key taken away, and usage per key for moderators.

The simulator makes each key an account of its own (as two Model Studio accounts are): its own
concurrent tasks, its own uploads, and task ids no other account can ask about. So a job polled,
canceled or submitted with the wrong key fails visibly here, as it would at the provider.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bot.dashscope import DashScopeClient, DashScopeError, RetryPolicy
from bot.domain.catalog import MediaType, Region
from bot.domain.errors import InvalidInput
from bot.domain.jobs import Job, JobState
from bot.engine import failures
from bot.engine.key_ring import DashScopeKey, KeyRing
from bot.engine.runner import Engine, EngineConfig
from bot.engine.virtual import VirtualClock, drive
from bot.intake.admission import Admission
from bot.intake.ask import Ask
from bot.media.pools import MediaWorkers
from bot.media.samples import make_image
from bot.run.app import WanBot
from bot.run.services import Services, configured_keys
from bot.run.settings import Settings
from bot.simulator import Simulator, SimulatorConfig
from cogs.admin import AdminCog
from cogs.video.commands import VideoCog
from cogs.views import RetryButton
from storage.connect import open_database
from storage.database import Database
from storage.jobs import JobStore
from storage.quotas import QuotaStore
from tests.support.admin import run
from tests.support.discord_fakes import member
from tests.support.engine_rig import ALICE, BOB, RecordingNotifier, video_request
from tests.support.video_rig import IMAGE, make_rig
from tests.support.video_rig import Rig as VideoRig

KEY_A, KEY_B = "sk-keys-a-0123456789", "sk-keys-b-9876543210"
KF2V = "wan2.2-kf2v-flash"  # 2 slots per account in the catalogue


# -- settings -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_HTTP_BASE_URL", "DASHSCOPE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("WANBOT_DASHSCOPE_KEYS", "WANBOT_REGION", "WANBOT_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANBOT_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


KEYS_JSON = json.dumps(
    [
        {"name": "main", "api_key": KEY_A, "concurrency": {"wan2.7-i2v": 3}},
        {
            "name": "spare",
            "api_key": KEY_B,
            "region": "singapore",
            "submit_per_second": {"wan2.7-i2v": 2},
            "query_budget_per_second": 10,
        },
    ]
)


def test_keys_come_from_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANBOT_DASHSCOPE_KEYS", KEYS_JSON)
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-the-single-key")  # the list replaces it
    main, spare = Settings().api_keys()
    assert (main.name, main.api_key.get_secret_value(), main.region) == ("main", KEY_A, None)
    assert main.concurrency == {"wan2.7-i2v": 3} and main.query_budget_per_second is None
    assert (spare.name, spare.region, spare.query_budget_per_second) == (
        "spare",
        Region.SINGAPORE,
        10,
    )


def test_keys_come_from_a_json_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(KEYS_JSON)
    monkeypatch.setenv("WANBOT_DASHSCOPE_KEYS", str(path))
    assert [key.name for key in Settings().api_keys()] == ["main", "spare"]


def test_the_single_key_is_one_key_named_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().api_keys() == []
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-the-single-key")
    (key,) = Settings().api_keys()
    assert key.name == "default" and key.api_key.get_secret_value() == "sk-the-single-key"
    assert key.concurrency == {} and key.region is None and key.base_url is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('[{"name": "main", "api_key": "sk-secret-1"', "is not valid JSON"),
        ("[]", "at least one key"),
        ('{"name": "main", "api_key": "sk-secret-1"}', "must be a JSON list"),
        ("sk-secret-1", "nor the path of a readable file"),
        ('[{"api_key": "sk-secret-1"}]', "key 1: name: Field required"),
        ('[{"name": "main", "api_key": "  "}]', "key 1 (“main”): api_key is empty"),
        (
            '[{"name": "a", "api_key": "sk-secret-1"}, {"name": "a", "api_key": "sk-secret-2"}]',
            "two keys are named “a”",
        ),
        ('[{"name": "a", "api_key": "sk-secret-1", "colour": "red"}]', "colour: Extra inputs"),
        ('[{"name": "a", "api_key": "sk-secret-1", "region": "mars"}]', "region: Input should"),
        (
            '[{"name": "a", "api_key": "sk-secret-1", "concurrency": {"wan9": 1}}]',
            "unknown model “wan9”",
        ),
        (
            '[{"name": "a", "api_key": "sk-secret-1", "query_budget_per_second": 25}]',
            "query_budget_per_second: Input should be less than or equal to 20",
        ),
        (
            '[{"name": "a", "api_key": "sk-secret-1", "base_url": "http://example.com/api/v1"}]',
            "plain http",
        ),
    ],
)
def test_a_bad_list_is_refused_plainly_without_showing_a_key(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("WANBOT_DASHSCOPE_KEYS", value)
    settings = Settings()  # built, never shown: the list is read when the keys are needed
    with pytest.raises(InvalidInput) as refused:
        settings.api_keys()
    assert problem in str(refused.value)
    assert "WANBOT_DASHSCOPE_KEYS" in str(refused.value)
    assert "sk-secret" not in str(refused.value) and "sk-secret" not in repr(refused.value)


def test_keys_never_show_in_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANBOT_DASHSCOPE_KEYS", KEYS_JSON)
    settings = Settings()
    shown = repr(settings) + str(settings) + str(settings.model_dump())
    shown += repr(settings.api_keys()) + str(settings.api_keys())
    assert KEY_A not in shown and KEY_B not in shown


async def test_each_configured_key_gets_its_own_client_and_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WANBOT_DASHSCOPE_KEYS", KEYS_JSON)
    monkeypatch.setenv("WANBOT_CONCURRENCY", '{"wan2.7-i2v": 4, "wan2.6-i2v": 1}')
    async with aiohttp.ClientSession() as session:
        main, spare = configured_keys(Settings(), session)
    assert main.client.base_url == "https://dashscope.aliyuncs.com/api/v1"
    assert spare.client.base_url == "https://dashscope-intl.aliyuncs.com/api/v1"
    assert main.slots("wan2.7-i2v") == 3  # its own
    assert spare.slots("wan2.7-i2v") == 4 and main.slots("wan2.6-i2v") == 1  # the bot's
    assert main.slots(KF2V) == 2  # the catalogue's
    assert spare.submits("wan2.7-i2v") == 2 and main.submits("wan2.7-i2v") == 5
    assert KEY_A not in repr(main) and KEY_B not in repr(spare)


# -- the engine on two accounts -------------------------------------------------------------------


@dataclass
class Two:
    """An engine with keys A and B, each an account of its own at the simulator."""

    clock: VirtualClock
    simulator: Simulator
    db: Database
    jobs: JobStore
    quotas: QuotaStore
    notifier: RecordingNotifier
    session: aiohttp.ClientSession
    config: EngineConfig
    engine: Engine

    def client(self, secret: str) -> DashScopeClient:
        assert self.simulator.base_url
        return DashScopeClient(
            self.session,
            api_key=SecretStr(secret),
            base_url=self.simulator.base_url,
            retry=RetryPolicy(attempts=3, base_delay=0.0),
        )

    def ring(
        self,
        *names: str,
        concurrency: Mapping[str, int] | None = None,
        query_budget_per_second: float | None = None,
    ) -> KeyRing:
        """Keys by name ("A", "B"), each with the same limits of its own, if given."""
        secrets = {"A": KEY_A, "B": KEY_B}
        keys = [
            DashScopeKey(
                name,
                self.client(secrets[name]),
                concurrency=concurrency or {},
                query_budget_per_second=query_budget_per_second,
            )
            for name in names
        ]
        return KeyRing(keys, jobs=self.jobs)

    def new_engine(self, ring: KeyRing) -> Engine:
        """A fresh engine on the same database, as after a restart."""
        return Engine(
            db=self.db,
            jobs=self.jobs,
            quotas=self.quotas,
            keys=ring,
            notifier=self.notifier,
            config=self.config,
            clock=self.clock,
        )

    async def job(self, job_id: int) -> Job:
        job = await self.jobs.get(job_id)
        assert job is not None
        return job

    def account(self, job: Job) -> str:
        """The simulator's account of the key that made the job's task."""
        assert job.task_id is not None
        return self.simulator.tasks[job.task_id].account

    async def finish(self, *job_ids: int) -> None:
        async def done() -> bool:
            return all([(await self.job(j)).state.is_final for j in job_ids])

        await drive(self.engine, self.clock, until=done)


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[Two]:
    clock = VirtualClock()
    simulator = Simulator(
        SimulatorConfig(pending_seconds=5, running_seconds=60, api_keys=frozenset({KEY_A, KEY_B})),
        clock=clock,
    )
    await simulator.start()
    db = await open_database(tmp_path / "wanbot.sqlite3")
    jobs = JobStore(db, clock=clock)
    quotas = QuotaStore(db, default_seconds=600, clock=clock)
    config = EngineConfig(spool_dir=tmp_path / "spool", max_waiting_per_user=100)
    async with aiohttp.ClientSession() as session:
        rig = Two(clock, simulator, db, jobs, quotas, RecordingNotifier(), session, config, None)  # type: ignore[arg-type]
        rig.engine = rig.new_engine(rig.ring("A", "B"))
        try:
            yield rig
        finally:
            await rig.engine.stop()
            await db.close()
            await simulator.close()


async def test_new_jobs_go_to_the_key_with_the_lowest_load_per_slot(two: Two) -> None:
    two.engine = two.new_engine(
        KeyRing(
            [
                DashScopeKey("A", two.client(KEY_A), concurrency={KF2V: 2}),
                DashScopeKey("B", two.client(KEY_B), concurrency={KF2V: 1}),
            ],
            jobs=two.jobs,
        )
    )
    users = [ALICE, BOB] * 3
    jobs = [await two.engine.enqueue(video_request(KF2V), user) for user in users]
    # Load ÷ slots: A 0/2 = B 0/1 (ties: A), then B 0/1, A 1/2, A 1/2 = B 1/1 …: 2 to 1.
    assert [job.dashscope_key for job in jobs] == ["A", "B", "A", "A", "B", "A"]
    other = await two.engine.enqueue(video_request("wan2.7-i2v"), ALICE)
    assert other.dashscope_key == "A", "each model's load is its own"


async def test_two_keys_give_two_sets_of_slots_each_within_its_own(two: Two) -> None:
    jobs = [await two.engine.enqueue(video_request(KF2V), user) for user in [ALICE, BOB] * 4]
    peak_total, peak_per_account = 0, 0

    async def done() -> bool:
        nonlocal peak_total, peak_per_account
        now = two.clock()
        running = [
            t.account
            for t in two.simulator.tasks.values()
            if t.status(now) in ("PENDING", "RUNNING")
        ]
        peak_total = max(peak_total, len(running))
        peak_per_account = max([peak_per_account, *(running.count(a) for a in set(running))])
        return all([(await two.job(j.id)).state.is_final for j in jobs])

    await drive(two.engine, two.clock, until=done)
    assert all([(await two.job(j.id)).state is JobState.DELIVERED for j in jobs])
    assert peak_total == 4, "two accounts of 2 slots each"
    assert peak_per_account == 2
    submits = [
        r for r in two.simulator.requests if r.method == "POST" and "video-synthesis" in r.path
    ]
    assert len(submits) == len(jobs), "no submit was refused for a full account"
    done_jobs = [await two.job(j.id) for j in jobs]
    for job in done_jobs:  # each task was made by the key the job names
        same = [other for other in done_jobs if other.dashscope_key == job.dashscope_key]
        assert {two.account(other) for other in same} == {two.account(job)}
    assert len({two.account(job) for job in done_jobs}) == 2


async def test_a_job_on_a_full_key_waits_while_another_keys_job_goes(two: Two) -> None:
    two.engine = two.new_engine(two.ring("A", "B", concurrency={"wan2.7-i2v": 1}))
    first_on_a = [await two.engine.enqueue(video_request(), ALICE, key="A") for _ in range(3)]
    on_b = await two.engine.enqueue(video_request(), ALICE, key="B")  # last in Alice's line
    await two.engine.step()
    states = [(await two.job(j.id)).state for j in first_on_a]
    assert states == [JobState.PENDING, JobState.QUEUED, JobState.QUEUED]
    assert (await two.job(on_b.id)).state is JobState.PENDING
    await two.finish(*(j.id for j in [*first_on_a, on_b]))
    assert all([(await two.job(j.id)).state is JobState.DELIVERED for j in [*first_on_a, on_b]])


async def test_each_key_polls_within_its_own_query_budget(two: Two) -> None:
    two.engine = two.new_engine(two.ring("A", "B", query_budget_per_second=1))
    for n, user in enumerate([ALICE, BOB] * 2):
        await two.engine.enqueue(video_request(KF2V, prompt=f"video {n}"), user)
    due = await two.engine.step()  # four tasks, two per account, due for a first poll at once
    assert due is not None
    two.clock.advance_to(due)
    for _ in range(2):
        asked_before = len(two.simulator.requests)
        await two.engine.step()
        polled = [r.path.rsplit("/", 1)[1] for r in two.simulator.requests[asked_before:]]
        accounts = [two.simulator.tasks[task_id].account for task_id in polled]
        assert len(accounts) == 2 and len(set(accounts)) == 2, "one poll per key per second"
        two.clock.advance(1.0)


async def test_jobs_are_polled_and_canceled_with_their_own_key(two: Two) -> None:
    jobs = [await two.engine.enqueue(video_request(KF2V), user) for user in [ALICE, BOB, ALICE]]
    assert [j.dashscope_key for j in jobs] == ["A", "B", "A"]
    await two.engine.step()
    outcome = await two.engine.cancel(jobs[1].id)  # B's pending task
    assert outcome.canceled, outcome.message
    canceled = await two.job(jobs[1].id)
    assert canceled.task_id and two.simulator.tasks[canceled.task_id].canceled_at is not None
    await two.finish(jobs[0].id, jobs[2].id)
    # Asked with the other account's key, a task answers UNKNOWN: these would have expired.
    assert [(await two.job(j.id)).state for j in jobs] == [
        JobState.DELIVERED,
        JobState.CANCELED,
        JobState.DELIVERED,
    ]


async def test_a_task_is_another_accounts_secret(two: Two) -> None:
    mine, theirs = two.client(KEY_A), two.client(KEY_B)
    task = await mine.submit(video_request(KF2V))
    assert (await theirs.get_task(task.task_id)).status.value == "UNKNOWN"
    with pytest.raises(DashScopeError) as refused:
        await theirs.cancel(task.task_id)
    assert refused.value.code == "UnsupportedOperation"
    assert (await mine.get_task(task.task_id)).status.value == "PENDING"
    two.simulator.config.keys_share_account = True  # keys of one account see each other's
    assert (await theirs.get_task(task.task_id)).status.value == "PENDING"


async def test_inputs_are_uploaded_with_the_key_the_job_is_sent_with(two: Two) -> None:
    loaded = await two.engine.enqueue(video_request(), ALICE)  # A has a job: B is chosen next
    assert loaded.dashscope_key == "A"
    ring = two.ring("A", "B")
    async with ring.staging("wan2.7-i2v") as busy, ring.staging("wan2.7-i2v") as other:
        assert {busy.name, other.name} == {"A", "B"}, "uploads under way count as load"
    ask = Ask("wan2.7-i2v", {}, given={MediaType.FIRST_FRAME: make_image(320, 240)})
    workers = MediaWorkers()
    try:
        admission = Admission(two.session, ring, workers=workers, engine=two.engine)
        staged = await admission.stage(await admission.admit(ask, BOB))
    finally:
        workers.close()
    assert staged.key == "B"
    (media,) = staged.request.media
    assert media.url.startswith("oss://")
    with pytest.raises(DashScopeError) as refused:  # another account cannot read the upload
        await two.client(KEY_A).submit(staged.request)
    assert refused.value.code == "InvalidParameter.DataInspection"

    job = await two.engine.enqueue(staged.request, BOB, key=staged.key)
    await two.finish(loaded.id, job.id)
    done = await two.job(job.id)
    assert done.state is JobState.DELIVERED and done.dashscope_key == "B"
    assert two.simulator.uploads[media.url].account == two.account(done)


async def test_a_key_that_is_gone_is_refused_at_the_door(two: Two) -> None:
    with pytest.raises(InvalidInput) as refused:
        await two.engine.enqueue(video_request(), ALICE, key="C")
    assert str(refused.value) == (
        "This video's inputs were uploaded with a DashScope key the bot no longer has; "
        "please make it again from the start."
    )


async def test_a_job_whose_key_is_gone_after_a_restart_ends_refunded(two: Two) -> None:
    on_b = await two.engine.enqueue(video_request(KF2V), ALICE, key="B")
    on_a = await two.engine.enqueue(video_request(KF2V), ALICE, key="A")
    await two.engine.step()  # both at the provider
    waiting_on_b = await two.engine.enqueue(video_request(KF2V), BOB, key="B")
    await two.engine.stop()

    two.engine = two.new_engine(two.ring("A"))  # B was taken out of the settings
    await two.engine.recover()
    await two.finish(on_a.id, on_b.id, waiting_on_b.id)
    for gone in (on_b, waiting_on_b):
        job = await two.job(gone.id)
        assert job.state is JobState.FAILED and job.error_code == "KeyGone"
        assert two.notifier.failed[gone.id] == str(failures.KEY_GONE)
        kinds = [e.kind for e in await two.quotas.ledger(10, limit=100) if e.job_id == gone.id]
        assert sorted(kinds) == ["refund", "reserve"]
    assert (await two.job(on_a.id)).state is JobState.DELIVERED


async def test_jobs_from_before_keys_had_names_belong_to_the_first_key(two: Two) -> None:
    job = await two.engine.enqueue(video_request(), ALICE, key="B")
    await two.jobs.save(job.id, dashscope_key=None)  # as a row made before keys had names
    two.engine = two.new_engine(two.ring("A", "B"))
    await two.engine.recover()
    await two.finish(job.id)
    done = await two.job(job.id)
    assert done.state is JobState.DELIVERED
    first = await two.engine.enqueue(video_request(), BOB, key="A")
    await two.finish(first.id)
    assert two.account(done) == two.account(await two.job(first.id))


async def test_one_key_behaves_as_before(two: Two) -> None:
    two.engine = two.new_engine(KeyRing.single(two.client(KEY_A)))
    jobs = [
        await two.engine.enqueue(video_request(KF2V, prompt=f"video {n}"), user)
        for n, user in enumerate([ALICE, BOB] * 2)
    ]
    assert {j.dashscope_key for j in jobs} == {"default"}
    await two.engine.step()
    states = [(await two.job(j.id)).state for j in jobs]
    assert states.count(JobState.PENDING) == 2, "one account: the catalogue's 2 slots"


@pytest.fixture
async def two_on_discord(tmp_path: Path) -> AsyncIterator[VideoRig]:
    async for made in make_rig(tmp_path, keys=(KEY_A, KEY_B)):
        yield made


async def test_members_videos_are_spread_and_a_retry_stays_on_its_key(
    two_on_discord: VideoRig,
) -> None:
    rig = two_on_discord
    for user in (1, 2):
        image = rig.host.attachment("cat.png", IMAGE, content_type="image/png")
        await rig.call(VideoCog.animate, rig.fake(member(user)), image=image, duration=2)
    first, second = sorted(
        [*await rig.services.jobs.for_user(10, 1), *await rig.services.jobs.for_user(10, 2)],
        key=lambda job: job.id,
    )
    assert (first.dashscope_key, second.dashscope_key) == ("key1", "key2")
    await RetryButton(second.id).callback(rig.fake(member(2)))
    retried = (await rig.services.jobs.for_user(10, 2))[0]
    assert retried.dashscope_key == "key2", "its inputs were uploaded with key2"

    async def done() -> bool:
        jobs = [await rig.services.jobs.get(j.id) for j in (first, second, retried)]
        return all(job is not None and job.state.is_final for job in jobs)

    await drive(rig.services.engine, rig.clock, until=done)  # type: ignore[arg-type]
    for job in (first, second, retried):
        made = await rig.services.jobs.get(job.id)
        assert made is not None and made.state is JobState.DELIVERED, made
        assert made.task_id is not None
        url = made.request.media[0].url
        account = rig.simulator.tasks[made.task_id].account
        assert rig.simulator.uploads[url].account == account


# -- usage per key ---------------------------------------------------------------------------------


async def _made(services: Services, key: str | None, seconds: int, billed: int | None) -> None:
    """A video as the engine leaves it: made with `key`, reserved, delivered if `billed`."""
    async with services.db.transaction() as tx:
        job_id = await services.jobs.create(
            tx,
            requester=ALICE,
            request=video_request(duration=seconds),
            reserved_seconds=seconds,
            dashscope_key=key,
        )
        await services.quotas.reserve(
            tx, guild_id=10, user_id=ALICE.user_id, seconds=seconds, job_id=job_id
        )
    if billed is not None:
        async with services.db.transaction() as tx:
            await services.quotas.commit(tx, job_id=job_id, billed_seconds=billed)


@pytest.mark.parametrize("names", [["main", "spare"], ["default"]])
async def test_moderators_see_usage_per_key_when_there_are_several(
    tmp_path: Path, names: list[str]
) -> None:
    settings = Settings(database_path=tmp_path / "bot.sqlite3", quota_default_seconds=600)
    async with (
        aiohttp.ClientSession() as session,
        await open_database(settings.database_target()) as db,
    ):
        unused = "http://127.0.0.1:9/api/v1"  # /videoadmin makes no HTTP requests
        keys = [
            DashScopeKey(n, DashScopeClient(session, api_key=SecretStr(KEY_A), base_url=unused))
            for n in names
        ]
        services = Services.create(settings, session, db, keys)
        first, last = names[0], names[-1]
        await _made(services, first, 5, billed=5)
        await _made(services, None, 4, billed=4)  # before keys had names: the first key's
        await _made(services, last, 10, billed=10)
        await _made(services, last, 3, billed=None)  # still being made
        bot = WanBot(settings, services)
        try:
            cog = AdminCog(bot)
            reply = await run(cog.quota_usage, cog)
        finally:
            await bot.close()
    assert "**22 s** in 4 videos" in reply
    if len(names) > 1:
        assert "`spare`: 13 s in 2 videos\n`main`: 9 s in 2 videos" in reply
    else:
        assert "`default`" not in reply, "one key: the totals say it all"
