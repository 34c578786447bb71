"""Models that leave: a job queued for a model retired meanwhile, and the provider saying a model
does not exist; both end refunded, the member told why."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from bot.domain.jobs import JobState
from bot.engine import failures
from tests.support.engine_rig import ALICE, KEY, Rig, video_request


async def test_a_job_queued_for_a_model_retired_meanwhile_ends_refunded_unsent(rig: Rig) -> None:
    job = await rig.engine.enqueue(video_request("wan2.6-i2v-flash"), ALICE)
    # The operator retires the model (WANBOT_RETIRED_MODELS) and restarts the bot.
    await rig.engine.stop()
    rig.config = replace(rig.config, retired_models=frozenset({"wan2.6-i2v-flash"}))
    rig.engine = rig.new_engine()
    await rig.engine.recover()

    await rig.finish(job.id)

    ended = await rig.job(job.id)
    assert ended.state is JobState.FAILED and ended.error_code == "ModelRetired"
    assert rig.notifier.failed[job.id] == str(failures.model_retired("wan2.6-i2v-flash"))
    assert "wan2.6-i2v-flash was retired" in rig.notifier.failed[job.id]
    assert await rig.ledger_kinds(job.id) == ["reserve", "refund"]
    assert not rig.simulator.tasks, "nothing was sent to the provider"


async def test_other_models_go_on_when_one_is_retired(rig: Rig) -> None:
    rig.config = replace(rig.config, retired_models=frozenset({"wan2.6-i2v-flash"}))
    await rig.engine.stop()
    rig.engine = rig.new_engine()
    job = await rig.engine.enqueue(video_request("wan2.7-i2v"), ALICE)

    await rig.finish(job.id)

    assert (await rig.job(job.id)).state is JobState.DELIVERED


async def test_the_provider_saying_the_model_does_not_exist_is_explained_and_refunded(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.simulator.config.retired_models = frozenset({"wan2.7-i2v"})
    job = await rig.engine.enqueue(video_request("wan2.7-i2v"), ALICE)

    with caplog.at_level(logging.ERROR, logger="bot.engine.submit"):
        await rig.finish(job.id)

    ended = await rig.job(job.id)
    assert ended.state is JobState.FAILED and ended.error_code == "ModelNotFound"
    told = rig.notifier.failed[job.id]
    assert told == str(failures.MODEL_GONE)
    assert "no longer available" in told
    assert await rig.ledger_kinds(job.id) == ["reserve", "refund"]
    [line] = [r.getMessage() for r in caplog.records if "does not exist" in r.getMessage()]
    assert "model wan2.7-i2v" in line and "key default" in line
    assert KEY not in line, "the key's secret is never logged"
